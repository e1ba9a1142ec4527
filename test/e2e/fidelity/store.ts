/**
 * What ESO really records when a ClusterSecretStore cannot be used, and whether the product reads
 * it: each cause (role missing, audience, untrusted certificate, Vault unreachable, service account
 * missing, TokenRequest denied by RBAC, a Vault policy refusing the token lookup) is produced on
 * the real ESO against the real OpenBao with a probe store beside the product's own, and ESO's
 * newest Warning event must be classified as that cause. Then the same through the CLI: a broken
 * Vault default policy fails cluster.secret-store with ESO's text and the matching hint; once the
 * user fixes Vault, a re-run is Ready at once, however far ESO's retry backoff has grown.
 * ESO's side: external-secrets pkg/controllers/secretstore/common.go, providers/v1/vault.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { classifyStoreFailure, type StoreFailureCause } from '../../../source/steps/cluster/store-failure.js';
import { describeResult } from '../support/cli.js';
import { kubectl, kubectlOk, rootVault, setup, stepOf } from '../support/cluster-lab.js';
import type { FidelityLab } from './context.js';

/** Probe stores are named apart (fidelity-probe-<n>) and their events told apart by uid. */
let probes = 0;
const ESO_CLUSTER_ROLE = 'external-secrets-controller';

interface StoreJson {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { provider: { vault: Record<string, unknown> & { auth: { kubernetes: Record<string, unknown> & { serviceAccountRef: Record<string, unknown> } } } } };
}

interface EventJson {
  message: string;
}

export function describeStoreFailures(fidelity: FidelityLab): void {
  const lab = () => fidelity.s.lab;
  /** Every ESO text seen, for the report. */
  const seen: Record<string, string> = {};

  async function productStore(): Promise<StoreJson> {
    return JSON.parse(await kubectlOk(lab(), ['get', 'clustersecretstore', 'vault-backend', '-o', 'json'])) as StoreJson;
  }

  /** Applies a probe store made from the product's by `change`, returns ESO's first Warning text for it, and deletes it. */
  async function probe(change: (store: StoreJson) => void): Promise<string> {
    const base = await productStore();
    probes += 1;
    const name = `fidelity-probe-${probes}`;
    const store: StoreJson = { apiVersion: base.apiVersion, kind: base.kind, metadata: { name }, spec: structuredClone(base.spec) };
    change(store);
    try {
      await kubectlOk(lab(), ['apply', '--server-side', '--field-manager=fidelity-test', '-f', '-'], JSON.stringify(store));
      const uid = (await kubectlOk(lab(), ['get', 'clustersecretstore', name, '-o', 'jsonpath={.metadata.uid}'])).trim();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const events = JSON.parse(await kubectlOk(lab(), ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.uid=${uid},type=Warning`, '-o', 'json'])).items as EventJson[];
        if (events[0]) return events[0].message;
        await sleep(500);
      }
      throw new Error(`ESO recorded no Warning for the probe store within 60 s: ${await kubectlOk(lab(), ['get', 'clustersecretstore', name, '-o', 'yaml'])}`);
    } finally {
      await kubectl(lab(), ['delete', 'clustersecretstore', name, '--ignore-not-found']);
    }
  }

  async function expectCause(cause: StoreFailureCause, change: (store: StoreJson) => void): Promise<void> {
    const text = await probe(change);
    seen[cause] = text;
    expect(classifyStoreFailure(text), `ESO's text: ${text}`).toBe(cause);
  }

  describe("ClusterSecretStore failures: the real ESO's texts and what the product makes of them", () => {
    it('a role Vault does not have → role-missing', async () => {
      await expectCause('role-missing', (store) => void (store.spec.provider.vault.auth.kubernetes['role'] = 'no-such-role'));
    }, 120_000);

    it('a token audience the Vault role does not accept → audience', async () => {
      await expectCause('audience', (store) => void (store.spec.provider.vault.auth.kubernetes.serviceAccountRef['audiences'] = ['not-vault']));
    }, 120_000);

    it("a caBundle that did not sign Vault's certificate → tls", async () => {
      const otherCa = await readFile(lab().state.cluster.caFile);
      await expectCause('tls', (store) => void (store.spec.provider.vault['caBundle'] = otherCa.toString('base64')));
    }, 120_000);

    it('nothing listening at the address → unreachable', async () => {
      await expectCause('unreachable', (store) => void (store.spec.provider.vault['server'] = 'https://127.0.0.1:1'));
    }, 120_000);

    it('a service account that does not exist → service-account-missing', async () => {
      await expectCause('service-account-missing', (store) => void (store.spec.provider.vault.auth.kubernetes.serviceAccountRef['name'] = 'no-such-account'));
    }, 120_000);

    it("ESO's ClusterRole without serviceaccounts/token → token-request-denied", async () => {
      const role = JSON.parse(await kubectlOk(lab(), ['get', 'clusterrole', ESO_CLUSTER_ROLE, '-o', 'json'])) as { rules: { resources?: string[] }[]; metadata: Record<string, unknown> };
      const original = structuredClone(role);
      const trimmed = { ...role, metadata: { name: ESO_CLUSTER_ROLE }, rules: role.rules.filter((rule) => !(rule.resources ?? []).includes('serviceaccounts/token')) };
      expect(trimmed.rules.length).toBeLessThan(role.rules.length);
      await kubectlOk(lab(), ['replace', '-f', '-'], JSON.stringify({ ...trimmed, metadata: { ...original.metadata, managedFields: undefined } }));
      try {
        await expectCause('token-request-denied', () => undefined);
      } finally {
        const current = JSON.parse(await kubectlOk(lab(), ['get', 'clusterrole', ESO_CLUSTER_ROLE, '-o', 'json'])) as { metadata: Record<string, unknown> };
        await kubectlOk(lab(), ['replace', '-f', '-'], JSON.stringify({ ...original, metadata: { ...original.metadata, resourceVersion: current.metadata['resourceVersion'], managedFields: undefined } }));
      }
    }, 120_000);

    it("Vault's default policy without token self-lookup: the CLI fails with ESO's text and the policy hint; fixed in Vault, a re-run is Ready at once despite ESO's backoff", async () => {
      const s = fidelity.s;
      const { vault, token } = await rootVault(s);
      const policy = (await vault.request({ path: 'sys/policies/acl/default', token })).json.data.policy as string;
      // The stanza ESO's validation needs (Vault's default policy: "Allow tokens to look up their own properties").
      const withoutLookup = policy.replace(/path\s+"auth\/token\/lookup-self"\s*\{[^}]*\}/, '');
      expect(withoutLookup).not.toBe(policy);
      await vault.request({ method: 'PUT', path: 'sys/policies/acl/default', token, body: { policy: withoutLookup } });
      try {
        // ESO notices at its next reconcile; an annotation is a change, so that is now.
        await kubectlOk(lab(), ['annotate', '--overwrite', 'clustersecretstore', 'vault-backend', `fidelity.picluster-vault-tui.test/at=${Date.now()}`]);
        const failed = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
        expect(failed.result.code, describeResult(['setup', '--phase', 'cluster'], failed.result)).toBe(1);
        const step = stepOf(failed.summary, 'cluster.secret-store');
        expect(step.state).toBe('failed');
        expect(step.error).toMatch(/^ClusterSecretStore vault-backend stayed not Ready for 20 s: Ready=False \(\w+\): .*lookup-self.*permission denied/s);
        expect(step.hint).toContain('vault policy read default');
        seen['permission-denied (CLI)'] = step.error!;
        // Let ESO's per-store backoff grow (1 s, doubling, to 7 min) for another minute of failures.
        await sleep(60_000);
      } finally {
        await vault.request({ method: 'PUT', path: 'sys/policies/acl/default', token, body: { policy } });
      }
      const started = Date.now();
      const fixed = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
      const seconds = (Date.now() - started) / 1000;
      expect(fixed.result.code, describeResult(['setup', '--phase', 'cluster'], fixed.result)).toBe(0);
      expect(stepOf(fixed.summary, 'cluster.secret-store').outcome).toBe('applied');
      expect(seconds).toBeLessThan(60);
      console.log(`RELIABILITY ${JSON.stringify({ suite: 'store-failures', esoTexts: seen, reRunAfterFixSeconds: Math.round(seconds) })}`);
    }, 300_000);
  });
}

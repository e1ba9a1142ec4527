/**
 * cluster.verify against real deletion: the garbage collector's foreground deletion, finalizers the
 * product does not own (as ESO 0.20 and later put on every ExternalSecret), the namespace controller
 * blocked by an aggregated API that does not answer (K3s's metrics-server crashing), and ESO's
 * controller not running. Each case makes verify due again by removing its proof annotation from
 * the store, breaks one thing with kubectl, runs the cluster phase and reads what the CLI says.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeResult } from '../support/cli.js';
import { kubectl, kubectlOk, setup, stepOf } from '../support/cluster-lab.js';
import type { FidelityLab } from './context.js';

const NAMESPACE = 'vault-eso-check';
const HOLD = 'fidelity.picluster-vault-tui.test/hold';
/** An APIService for a group nobody serves, as K3s's bundled metrics-server is when it crashes. */
const DEAD_API_SERVICE = 'v1beta1.metrics.k8s.io';

/** The check's own ExternalSecret, as a run that was interrupted (or ESO ≥ 0.20) leaves it: with a finalizer. */
function heldExternalSecret(): string {
  return JSON.stringify({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'vault-eso-check', namespace: NAMESPACE, finalizers: [HOLD] },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault-backend' },
      target: { name: 'vault-eso-check' },
      data: [{ secretKey: 'value', remoteRef: { key: 'picluster-vault-tui/eso-check', property: 'value' } }],
    },
  });
}

export function describeVerifyFailures(fidelity: FidelityLab): void {
  const lab = () => fidelity.s.lab;

  /** Makes cluster.verify due: its proof is the store's annotation. */
  async function forgetVerification(): Promise<void> {
    await kubectlOk(lab(), ['annotate', 'clustersecretstore', 'vault-backend', 'picluster-vault-tui/verified-generation-']);
  }

  async function release(kind: string, name: string, namespace?: string): Promise<void> {
    const result = await kubectl(lab(), [...(namespace ? ['-n', namespace] : []), 'patch', kind, name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    if (result.code !== 0 && !/NotFound|not found/.test(result.stderr)) throw new Error(`kubectl patch ${kind} ${name}: ${result.stderr}`);
  }

  async function waitGone(args: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await kubectl(lab(), ['get', ...args])).code === 0) {
      if (Date.now() > deadline) throw new Error(`${args.join(' ')} still there after ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  async function holdExternalSecret(): Promise<string> {
    await kubectlOk(lab(), ['create', 'namespace', NAMESPACE]);
    await kubectlOk(lab(), ['apply', '--server-side', '--field-manager=fidelity-test', '-f', '-'], heldExternalSecret());
    return (await kubectlOk(lab(), ['-n', NAMESPACE, 'get', 'externalsecret', 'vault-eso-check', '-o', 'jsonpath={.metadata.uid}'])).trim();
  }

  async function removeCheckNamespace(): Promise<void> {
    await release('externalsecret', 'vault-eso-check', NAMESPACE);
    await kubectl(lab(), ['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false']);
    await waitGone(['namespace', NAMESPACE], 120_000);
  }

  describe('cluster.verify against real deletion and a stopped ESO', () => {
    it('an old ExternalSecret held by a finalizer: verify waits for it to go (never applies onto it), then syncs', async () => {
      const s = fidelity.s;
      const heldUid = await holdExternalSecret();
      await forgetVerification();
      const running = setup(s, ['setup', '--phase', 'cluster', '--yes']);
      // The finalizer's controller finishes a few seconds later, as ESO's cleanup does.
      const deleting = (async () => {
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const when = (await kubectl(lab(), ['-n', NAMESPACE, 'get', 'externalsecret', 'vault-eso-check', '-o', 'jsonpath={.metadata.deletionTimestamp}'])).stdout.trim();
          if (when) break;
          await sleep(200);
        }
        await sleep(5_000);
        await release('externalsecret', 'vault-eso-check', NAMESPACE);
      })();
      const { result, summary } = await running;
      await deleting;
      expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(0);
      expect(stepOf(summary, 'cluster.verify').outcome).toBe('applied');
      expect(result.stderr).toMatch(/ExternalSecret\s+vault-eso-check\/vault-eso-check: Ready=True \(SecretSynced\)/);
      // The synced ExternalSecret was a new object, not the held one (which would have vanished).
      expect((await kubectl(lab(), ['-n', NAMESPACE, 'get', 'externalsecret', 'vault-eso-check', '-o', 'jsonpath={.metadata.uid}'])).stdout.trim()).not.toBe(heldUid);
      await waitGone(['namespace', NAMESPACE], 60_000);
    }, 240_000);

    it('a finalizer that is never removed: verify stops after 30 s naming it, and nothing is applied onto the terminating object', async () => {
      const s = fidelity.s;
      const heldUid = await holdExternalSecret();
      await forgetVerification();
      try {
        const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(1);
        const verify = stepOf(summary, 'cluster.verify');
        expect(verify.state).toBe('failed');
        expect(verify.error).toBe(`ExternalSecret ${NAMESPACE}/vault-eso-check is still being deleted after 30 s, held by finalizers ${HOLD}`);
        expect(verify.hint).toContain(`kubectl -n ${NAMESPACE} get externalsecret vault-eso-check -o yaml`);
        const left = JSON.parse(await kubectlOk(lab(), ['-n', NAMESPACE, 'get', 'externalsecret', 'vault-eso-check', '-o', 'json', '--show-managed-fields']));
        expect(left.metadata.uid).toBe(heldUid);
        expect(left.metadata.deletionTimestamp).toBeTruthy();
        // Only the test's own field manager wrote it: the CLI applied nothing onto it.
        expect(left.metadata.managedFields.map((entry: { manager: string }) => entry.manager)).not.toContain('picluster-vault-tui');
      } finally {
        await removeCheckNamespace();
      }
    }, 240_000);

    it('a namespace stuck Terminating because an aggregated API is down: the namespace controller\'s cause is in the message', async () => {
      const s = fidelity.s;
      await kubectlOk(lab(), ['create', 'namespace', NAMESPACE]);
      await kubectlOk(
        lab(),
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'apiregistration.k8s.io/v1',
          kind: 'APIService',
          metadata: { name: DEAD_API_SERVICE },
          spec: { group: 'metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true, service: { name: 'metrics-server', namespace: 'kube-system', port: 443 } },
        }),
      );
      try {
        await kubectlOk(lab(), ['delete', 'namespace', NAMESPACE, '--wait=false']);
        await forgetVerification();
        const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(1);
        const verify = stepOf(summary, 'cluster.verify');
        expect(verify.error).toMatch(new RegExp(`^Namespace ${NAMESPACE} is still being deleted after 30 s, held by NamespaceDeletionDiscoveryFailure: .*metrics\\.k8s\\.io/v1beta1`));
        expect(verify.hint).toContain('kubectl get apiservices');
      } finally {
        await kubectl(lab(), ['delete', 'apiservice', DEAD_API_SERVICE, '--ignore-not-found']);
      }
      // The namespace controller retries with backoff once discovery works again.
      await waitGone(['namespace', NAMESPACE], 180_000);
    }, 420_000);

    it('ESO scaled to 0: verify says at once that the controller is not running (no 90 s wait); scaled back, it passes', async () => {
      const s = fidelity.s;
      const namespace = 'external-secrets';
      const deployment = (await kubectlOk(lab(), ['-n', namespace, 'get', 'deployments', '-l', 'app.kubernetes.io/name=external-secrets', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
      await kubectlOk(lab(), ['-n', namespace, 'scale', 'deployment', deployment, '--replicas=0']);
      try {
        await kubectlOk(lab(), ['-n', namespace, 'rollout', 'status', 'deployment', deployment, '--timeout=60s']);
        await forgetVerification();
        const started = Date.now();
        const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
        const seconds = (Date.now() - started) / 1000;
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(1);
        // A Deployment scaled to 0 has all (none) of its replicas ready: the install step is done,
        // the store keeps its last condition; verify is where the stopped controller shows.
        const verify = stepOf(summary, 'cluster.verify');
        expect(verify.state).toBe('failed');
        expect(verify.error).toBe(`External Secrets Operator is not running, so nothing would sync the check: Deployment ${namespace}/${deployment} is scaled to 0 replicas`);
        expect(seconds).toBeLessThan(60);
      } finally {
        await kubectlOk(lab(), ['-n', namespace, 'scale', 'deployment', deployment, '--replicas=1']);
        await kubectlOk(lab(), ['-n', namespace, 'rollout', 'status', 'deployment', deployment, '--timeout=120s']);
      }
      const { result } = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
      expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(0);
    }, 420_000);
  });
}

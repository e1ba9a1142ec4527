/**
 * Phase 3 (cluster) end to end: the built CLI against fresh lab instances — a Debian host in
 * systemd-nspawn running the Vault the CLI installed, the lab's Kubernetes API server with its ESO
 * controllers, and the lab's helm — checked from outside as an administrator would: kubectl with the
 * lab kubeconfig, Vault's HTTP API with the root token from custody, the host over SSH.
 *
 *   full    `setup --yes` (all phases) from a bare host; a second run changes nothing anywhere;
 *           failures a user meets (kubeconfig, context, unreachable API, loopback address, a
 *           ClusterRoleBinding or token Secret removed by hand) with their messages, then fixed
 *   argocd  no helm on PATH: with ESO absent the install step says how to install helm and nothing
 *           half-written stays; with ESO installed beside the product (as ArgoCD would) the step
 *           waits for its webhook to be scheduled, helm is never needed, and the phase completes
 * ESO's side: https://external-secrets.io/latest/provider/hashicorp-vault/
 * Vault's side: https://developer.hashicorp.com/vault/docs/auth/kubernetes
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadAll as loadAllYaml } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { describeResult, type CliResult, type SetupSummary, type StepSummary } from './support/cli.js';
import { CLUSTER_STEPS, ClusterLabs, RUN_TIMEOUT_MS, helm, helmOnPath, kubectl, kubectlOk, PATH_WITHOUT_HELM, rootVault, setup, stepOf, type ClusterSetup as Setup } from './support/cluster-lab.js';
import { statusSchemaValidator } from '../unit/status-schema.js';

/** An object of the rendered chart, as far as the tests read and change it. */
interface EsoObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { template?: { spec?: { nodeSelector?: Record<string, string> } } };
}

const labs = new ClusterLabs();
const prepare = (name: string): Promise<Setup> => labs.prepare(name);

afterAll(() => labs.dispose(), 120_000);

/** Everything a run could change, normalised: host files and units, Vault's configuration, cluster objects. */
async function snapshot(s: Setup): Promise<Record<string, unknown>> {
  const host = s.lab.host;
  const files = await host.sudo("find /etc/vault /usr/local/bin/vault /etc/systemd/system/vault.service /etc/systemd/system/vault-unseal.service -exec stat -c '%n %i %Y %a %U:%G %s' {} + | sort");
  const units = await host.unitProperties('vault.service', ['ExecMainStartTimestamp', 'InvocationID']);
  const { vault, token } = await rootVault(s);
  const read = async (apiPath: string): Promise<unknown> => {
    const answer = await vault.request({ path: apiPath, token });
    return { status: answer.status, data: answer.json?.data ?? null };
  };
  const vaultState = {
    auth: await read('sys/auth'),
    mounts: await read('sys/mounts'),
    config: await read('auth/kubernetes/config'),
    role: await read('auth/kubernetes/role/external-secrets'),
    policies: await read('sys/policies/acl?list=true'),
  };
  const objects = await kubectlOk(s.lab, [
    'get',
    'namespaces,serviceaccounts,secrets,clusterrolebindings,clusterroles,deployments,customresourcedefinitions,clustersecretstores,externalsecrets',
    '--all-namespaces',
    '-o',
    'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
  ]);
  return { files, units, vault: vaultState, objects: objects.split('\n').filter(Boolean).sort() };
}

describe('cluster phase: full setup from a bare host', () => {
  let s: Setup;
  let first: { result: CliResult; summary: SetupSummary };

  it('`setup --yes` runs all three phases in one go; kubectl shows the ClusterSecretStore Ready True/Valid', async () => {
    s = await prepare('full');
    first = await setup(s, ['setup', '--yes']);
    expect(first.result.code, describeResult(['setup', '--yes'], first.result)).toBe(0);
    expect(first.summary.result).toBe('ok');
    // The preflight only checks; every other step had something to do on a bare cluster.
    expect(stepOf(first.summary, 'cluster.preflight').state).toBe('done');
    for (const id of CLUSTER_STEPS.slice(1)) expect(stepOf(first.summary, id).outcome, id).toBe('applied');
    // kubectl's own table (the CRD's printer columns): NAME AGE STATUS CAPABILITIES READY
    const table = await kubectlOk(s.lab, ['get', 'clustersecretstore', 'vault-backend']);
    const [header, row] = table.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'AGE', 'STATUS', 'CAPABILITIES', 'READY']);
    const cells = row!.split(/\s+/);
    expect([cells[0], cells[2], cells[4]]).toEqual(['vault-backend', 'Valid', 'True']);
  }, 300_000);

  it('the verification ExternalSecret synced the value written to Vault, then the test objects were removed', async () => {
    const stderr = first.result.stderr;
    expect(stderr).toMatch(/ExternalSecret\s+vault-eso-check\/vault-eso-check: Ready=True \(SecretSynced\)/);
    expect(stderr).toMatch(/Secret\s+vault-eso-check\/vault-eso-check: holds the same value/);
    expect(stderr).toContain('removed namespace vault-eso-check and secret/picluster-vault-tui/eso-check');
    expect((await kubectl(s.lab, ['get', 'namespace', 'vault-eso-check'])).code).not.toBe(0);
    const { vault, token } = await rootVault(s);
    expect((await vault.request({ path: 'secret/metadata/picluster-vault-tui/eso-check', token })).status).toBe(404);
    // The proof is recorded on the store: the generation it was made with.
    const annotation = await kubectlOk(s.lab, ['get', 'clustersecretstore', 'vault-backend', '-o', 'jsonpath={.metadata.annotations.picluster-vault-tui/verified-generation} {.metadata.generation}']);
    const [verified, generation] = annotation.split(' ');
    expect(verified).toBe(generation);
  });

  it('what the phase configured is what the guide asks for, read from Vault and the cluster', async () => {
    const { vault, token } = await rootVault(s);
    const auth = await vault.request({ path: 'sys/auth', token });
    expect(auth.json.data['kubernetes/'].type).toBe('kubernetes');
    const config = (await vault.request({ path: 'auth/kubernetes/config', token })).json.data;
    expect(config.kubernetes_host).toBe(s.lab.state.cluster.vaultApiAddress);
    expect(config.kubernetes_ca_cert.trim()).toBe((await readFile(s.lab.state.cluster.caFile, 'utf8')).trim());
    expect(config.token_reviewer_jwt_set).toBe(true);
    const role = (await vault.request({ path: 'auth/kubernetes/role/external-secrets', token })).json.data;
    expect(role).toMatchObject({ bound_service_account_names: ['external-secrets'], bound_service_account_namespaces: ['external-secrets'], token_policies: ['readonly'], audience: 'vault' });
    const store = JSON.parse(await kubectlOk(s.lab, ['get', 'clustersecretstore', 'vault-backend', '-o', 'json']));
    expect(store.apiVersion).toBe('external-secrets.io/v1');
    expect(store.spec.provider.vault).toMatchObject({
      server: `https://127.0.0.1:${s.lab.state.vaultApiPort}`,
      path: 'secret',
      version: 'v2',
      auth: { kubernetes: { mountPath: 'kubernetes', role: 'external-secrets', serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences: ['vault'] } } },
    });
    const caPem = await readFile(path.join(s.info.custodyDir, 'ca.crt'), 'utf8');
    expect(Buffer.from(store.spec.provider.vault.caBundle, 'base64').toString('utf8').trim()).toBe(caPem.trim());
    const binding = JSON.parse(await kubectlOk(s.lab, ['get', 'clusterrolebinding', 'vault-auth-delegator', '-o', 'json']));
    expect(binding.roleRef.name).toBe('system:auth-delegator');
  });

  it('`status` reports the store as ESO does (Ready, Valid), in its documented JSON shape; --no-host skips the cluster', async () => {
    const validate = await statusSchemaValidator();
    const { result, data } = await s.session.json<{ state: string; cluster: unknown; warnings: string[] }>(['status']);
    expect(result.code, describeResult(['status', '--json'], result)).toBe(0);
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(data.cluster).toEqual({
      context: 'default',
      server: s.lab.state.cluster.url,
      error: null,
      store: { name: 'vault-backend', present: true, ready: true, reason: 'Valid', message: 'store validated' },
    });
    expect(data.warnings).toEqual([]);
    const plain = await s.session.ok(['status']);
    expect(plain.stdout).toMatch(/^Cluster\s+vault-backend Ready \(Valid\)  \(context default\)$/m);
    const fast = await s.session.json<{ cluster: unknown }>(['status', '--no-host']);
    expect(fast.data.cluster).toBeNull();
  }, 60_000);

  it('a second `setup --yes` changes nothing on the host, in Vault or in the cluster', async () => {
    const before = await snapshot(s);
    const second = await setup(s, ['setup', '--yes']);
    expect(second.result.code, describeResult(['setup', '--yes'], second.result)).toBe(0);
    for (const step of second.summary.steps) expect(`${step.id} ${step.outcome}`).toBe(`${step.id} already-done`);
    expect(second.result.stderr).not.toMatch(/helm: /);
    expect(await snapshot(s)).toEqual(before);
  }, 240_000);

  it('a ClusterRoleBinding removed by hand is drift (Vault logins would be refused) and the next run restores it', async () => {
    await kubectlOk(s.lab, ['delete', 'clusterrolebinding', 'vault-auth-delegator']);
    const plan = await s.session.run(['plan', '--phase', 'cluster', '--json'], RUN_TIMEOUT_MS, { PATH: s.helmPath });
    const step = stepOf(JSON.parse(plan.stdout) as { steps: StepSummary[] }, 'cluster.reviewer-account');
    expect(step.state).toBe('drift');
    expect(step.detail).toContain('missing: ClusterRoleBinding vault-auth-delegator');
    const fixed = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
    expect(fixed.result.code, describeResult(['setup'], fixed.result)).toBe(0);
    expect(stepOf(fixed.summary, 'cluster.reviewer-account').outcome).toBe('applied');
    expect((await kubectl(s.lab, ['get', 'clusterrolebinding', 'vault-auth-delegator'])).code).toBe(0);
  }, 240_000);

  it('a token Secret recreated by hand (a new JWT) shows as drift of the auth method, which is reconfigured', async () => {
    await kubectlOk(s.lab, ['-n', 'vault', 'delete', 'secret', 'vault-auth-token']);
    const fixed = await setup(s, ['setup', '--phase', 'cluster', '--yes']);
    expect(fixed.result.code, describeResult(['setup'], fixed.result)).toBe(0);
    expect(stepOf(fixed.summary, 'cluster.reviewer-account').outcome).toBe('applied');
    expect(stepOf(fixed.summary, 'cluster.auth-method').outcome).toBe('applied');
    const plan = JSON.parse((await s.session.run(['plan', '--phase', 'cluster', '--json'], RUN_TIMEOUT_MS, { PATH: s.helmPath })).stdout) as { steps: StepSummary[] };
    for (const id of CLUSTER_STEPS) expect(`${id} ${stepOf(plan, id).state}`).toBe(`${id} done`);
  }, 240_000);

  describe('failures say what is wrong and how to fix it, exit 1, and leave the profile as it was', () => {
    async function failing(settings: string[], expectMessage: RegExp, expectHint: RegExp, env?: NodeJS.ProcessEnv): Promise<void> {
      const profileBefore = await readFile(s.info.profileFile, 'utf8');
      if (settings.length > 0) await s.session.ok(['profile', 'set', ...settings]);
      const profileSet = await readFile(s.info.profileFile, 'utf8');
      try {
        const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes'], env ?? { PATH: s.helmPath });
        expect(result.code, describeResult(['setup'], result)).toBe(1);
        const failed = summary.steps.find((step) => step.state === 'failed');
        expect(failed?.id).toBe('cluster.preflight');
        expect(failed?.error).toMatch(expectMessage);
        expect(failed?.hint).toMatch(expectHint);
        expect(result.stderr).toMatch(expectMessage);
        // Only progress bookkeeping may change; the settings stay what the user set.
        const after = JSON.parse(await readFile(s.info.profileFile, 'utf8'));
        const set = JSON.parse(profileSet);
        expect(after.cluster).toEqual(set.cluster);
      } finally {
        await writeFile(s.info.profileFile, profileBefore, { mode: 0o600 });
      }
    }

    it('the kubeconfig does not exist', async () => {
      await failing(['cluster.kubeconfig=/nonexistent/kubeconfig.yaml'], /the kubeconfig \/nonexistent\/kubeconfig\.yaml does not exist/, /cluster\.kubeconfig=FILE/);
    }, 60_000);

    it('the context is unknown', async () => {
      await failing(['cluster.context=nope'], /has no context "nope"/, /Set cluster\.context in the profile to one of: default, lab-viewer/);
    }, 60_000);

    it('the API does not answer', async () => {
      const kubeconfig = await readFile(s.lab.state.cluster.kubeconfig, 'utf8');
      const closed = path.join(s.session.home, 'closed-port.yaml');
      // Port 1 on loopback: nothing listens there, the connection is refused at once.
      await writeFile(closed, kubeconfig.replace(s.lab.state.cluster.url, 'https://127.0.0.1:1'), { mode: 0o600 });
      await failing([`cluster.kubeconfig=${closed}`], /the Kubernetes API at https:\/\/127\.0\.0\.1:1 did not answer \(ECONNREFUSED\)/, /cluster is running/);
    }, 60_000);

    it('the API address for Vault is loopback (a K3s kubeconfig) and none is set', async () => {
      await failing(['cluster.apiAddressForVault='], /is a loopback address, which Vault's host cannot use to reach the cluster/, /profile set cluster\.apiAddressForVault=URL/);
    }, 60_000);

    it('the API address for Vault does not answer from the Vault host', async () => {
      await failing(['cluster.apiAddressForVault=https://127.0.0.2:1'], /the Vault host cannot reach the Kubernetes API at https:\/\/127\.0\.0\.2:1: the connection is refused/, /apiAddressForVault=URL/);
    }, 60_000);

    it('a context without the rights names every missing permission', async () => {
      await failing(['cluster.context=lab-viewer'], /the context "lab-viewer" may not .*create namespaces; .*create clusterrolebindings\.rbac\.authorization\.k8s\.io/, /cluster-admin/);
    }, 60_000);
  });
});

describe('cluster phase with helm v4', () => {
  it('the user\'s helm is v4: the install step runs it (repo add with the mirror\'s CA, upgrade --install --wait) and the phase completes', async () => {
    const s = await prepare('helm4');
    const path = `${s.lab.state.helm4BinDir}:${PATH_WITHOUT_HELM}`;
    const { result, summary } = await setup(s, ['setup', '--yes'], { PATH: path });
    expect(result.code, describeResult(['setup', '--yes'], result)).toBe(0);
    for (const id of CLUSTER_STEPS) expect(`${id} ${stepOf(summary, id).state}`).toBe(`${id} done`);
    expect(stepOf(summary, 'cluster.eso-install').outcome).toBe('applied');
    expect(result.stderr).toContain(`with ${path.split(':')[0]}/helm`);
    // helm v4 records the release as v3 does (a Secret owned by helm), at the chart the mirror serves.
    const releases = await kubectlOk(s.lab, ['-n', 'external-secrets', 'get', 'secrets', '-l', 'owner=helm,name=external-secrets', '-o', 'jsonpath={.items[*].metadata.labels.status}']);
    expect(releases.trim()).toBe('deployed');
    const chart = await kubectlOk(s.lab, ['-n', 'external-secrets', 'get', 'deployment', 'external-secrets', '-o', 'jsonpath={.metadata.labels.helm\\.sh/chart}']);
    expect(chart).toBe(`external-secrets-${s.lab.state.esoChart.version}`);
  }, 420_000);
});

describe('cluster phase: ESO installed by someone else, no helm on this machine', () => {
  let s: Setup;

  it('without ESO and without helm the install step says how to get helm, and nothing half-written stays', async () => {
    s = await prepare('argocd');
    await s.session.ok(['setup', '--phase', 'host,vault', '--yes'], RUN_TIMEOUT_MS);
    const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes'], { PATH: PATH_WITHOUT_HELM });
    expect(result.code, describeResult(['setup'], result)).toBe(1);
    const failed = stepOf(summary, 'cluster.eso-install');
    expect(failed.state).toBe('failed');
    expect(failed.error).toBe('helm was not found on PATH');
    expect(failed.hint).toMatch(/Install Helm 3 \(https:\/\/helm\.sh\/docs\/intro\/install\/\)/);
    // The steps before it are complete and check as done; nothing of ESO exists yet.
    for (const id of ['cluster.preflight', 'cluster.reviewer-account', 'cluster.auth-method']) expect(stepOf(summary, id).state).toBe('done');
    expect((await kubectl(s.lab, ['get', 'crd', 'clustersecretstores.external-secrets.io'])).code).not.toBe(0);
  }, 300_000);

  it('ESO applied beside the product (as ArgoCD does): the install step waits for its webhook without helm, then the phase completes', async () => {
    // The chart's objects as ArgoCD renders them (helm template of the chart the lab's repository
    // serves), applied server-side under ArgoCD's field manager, not through helm: CRDs first, as
    // ArgoCD's sync waves do. Its webhook's pod cannot be scheduled yet (a nodeSelector no node
    // has): the webhook is what kube-apiserver calls for every store and ExternalSecret.
    const rendered = await helm(s, ['template', 'external-secrets', s.lab.state.esoChart.file, '--namespace', 'external-secrets', '--set', 'installCRDs=true']);
    const manifests = (loadAllYaml(rendered) as (EsoObject | null)[]).filter((object): object is EsoObject => Boolean(object?.kind));
    const webhook = manifests.find((object) => object.kind === 'Deployment' && object.metadata.labels?.['app.kubernetes.io/name'] === 'external-secrets-webhook');
    if (!webhook?.spec?.template?.spec) throw new Error('the chart rendered no webhook Deployment');
    webhook.spec.template.spec.nodeSelector = { 'picluster-vault-tui.test/unschedulable': 'true' };
    await kubectlOk(s.lab, ['create', 'namespace', 'external-secrets']);
    const crds = manifests.filter((object) => object.kind === 'CustomResourceDefinition');
    const rest = manifests.filter((object) => object.kind !== 'CustomResourceDefinition');
    for (const batch of [crds, rest]) {
      await kubectlOk(s.lab, ['apply', '--server-side', '--field-manager=argocd-controller', '-n', 'external-secrets', '-f', '-'], batch.map((object) => JSON.stringify(object)).join('\n'));
    }
    // Polled rather than `rollout status`, whose watch outlives a slow lab.
    const deadline = Date.now() + 60_000;
    while ((await kubectlOk(s.lab, ['-n', 'external-secrets', 'get', 'deployment', 'external-secrets', '-o', 'jsonpath={.status.readyReplicas}'])).trim() !== '1') {
      if (Date.now() > deadline) throw new Error('the ESO Deployment applied by the test did not become ready within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // The controller is ready, the webhook is not: the install step waits for it, and nothing
    // that the webhook would have to admit is sent meanwhile.
    const running = s.session.start(['setup', '--phase', 'cluster', '--yes', '--json'], { PATH: PATH_WITHOUT_HELM });
    await running.waitForStderrLine(/ESO is installed by something other than a helm release \(ArgoCD, kubectl\), not by helm here: waiting for its controller, webhook, cert-controller/, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await kubectl(s.lab, ['get', 'clustersecretstore', 'vault-backend'])).code).not.toBe(0);
    await kubectlOk(s.lab, ['-n', 'external-secrets', 'patch', 'deployment', webhook.metadata.name, '--type=merge', '-p', '{"spec":{"template":{"spec":{"nodeSelector":null}}}}']);
    const result = await running.exited;
    expect(result.code, describeResult(['setup'], result)).toBe(0);
    const summary = JSON.parse(result.stdout) as SetupSummary;
    expect(stepOf(summary, 'cluster.eso-install').outcome).toBe('applied');
    expect(result.stderr).not.toMatch(/helm: |installing External Secrets Operator/);
    // No helm release was ever recorded in the cluster (helm keeps them as Secrets).
    const releases = await kubectlOk(s.lab, ['get', 'secrets', '--all-namespaces', '-l', 'owner=helm', '-o', 'name']);
    expect(releases.trim()).toBe('');
    for (const id of CLUSTER_STEPS) expect(`${id} ${stepOf(summary, id).state}`).toBe(`${id} done`);
    const ready = await kubectlOk(s.lab, ['get', 'clustersecretstore', 'vault-backend', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}']);
    expect(ready).toBe('True/Valid');
  }, 300_000);

  it('a store ESO cannot validate fails with ESO\'s own condition message; once the cause is gone a re-run completes', async () => {
    // ESO's service account removed by hand: ESO cannot request a token to log in to Vault with.
    const account = await kubectlOk(s.lab, ['-n', 'external-secrets', 'get', 'serviceaccount', 'external-secrets', '-o', 'json']);
    await kubectlOk(s.lab, ['-n', 'external-secrets', 'delete', 'serviceaccount', 'external-secrets']);
    await kubectlOk(s.lab, ['delete', 'clustersecretstore', 'vault-backend']);
    const failed = await setup(s, ['setup', '--phase', 'cluster', '--yes'], { PATH: PATH_WITHOUT_HELM });
    expect(failed.result.code, describeResult(['setup'], failed.result)).toBe(1);
    const step = stepOf(failed.summary, 'cluster.secret-store');
    expect(step.state).toBe('failed');
    // Two real outcomes, decided by a race: ESO's controller runs as that same account, and
    // kube-apiserver keeps accepting its token only while its authentication cache still holds it
    // (about 10 s). If ESO reaches the new store in time it fails its validation: ESO puts a fixed
    // text in the condition and the cause in a Warning Event (secretstore/common.go), and the
    // product reads both. Otherwise ESO cannot write the store's status at all.
    const validated = /stayed not Ready/.test(step.error ?? '');
    if (validated) {
      expect(step.error).toMatch(/^ClusterSecretStore vault-backend stayed not Ready for 20 s: Ready=False \(InvalidProviderConfig\): unable to create client; ESO says: .*service account token for service account "external-secrets"/);
      expect(step.hint).toMatch(/must exist: kubectl -n external-secrets get serviceaccounts.*restart them \(kubectl -n external-secrets rollout restart deployment\)/);
    } else {
      expect(step.error).toBe('ClusterSecretStore vault-backend did not become Ready within 90 s: no Ready condition yet (is the ESO controller running?)');
      expect(step.hint).toMatch(/Check that the ESO controller runs: kubectl -n external-secrets get deployments/);
    }

    const { metadata, ...rest } = JSON.parse(account) as { metadata: { name: string; namespace: string; labels?: Record<string, string> } };
    await kubectlOk(s.lab, ['apply', '--server-side', '--field-manager=argocd-controller', '-f', '-'], JSON.stringify({ ...rest, metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels } }));
    // As the hint says: ESO's controller ran as that account, and its token died with it (a real
    // kubelet renews it only at 80% of its hour), so its pods are restarted.
    await kubectlOk(s.lab, ['-n', 'external-secrets', 'rollout', 'restart', 'deployment']);
    await kubectlOk(s.lab, ['-n', 'external-secrets', 'rollout', 'status', 'deployment/external-secrets', '--timeout=90s']);
    // status says so too (a warning; the exit code is about Vault, which is fine).
    const report = await s.session.json<{ exitCode: number; cluster: { store: { ready: boolean | null; reason: string } }; warnings: string[] }>(['status']);
    expect(report.data.exitCode).toBe(0);
    // A store with no condition at all is neither Ready nor not: status says null (unknown).
    // The restarted ESO validates every store as it starts, so by now it may already be Ready (seen in CI).
    const store = report.data.cluster.store;
    if (store.ready !== true) expect(store).toMatchObject(validated ? { ready: false, reason: 'InvalidProviderConfig' } : { ready: null });
    if (validated && store.ready !== true) expect(report.data.warnings.join('\n')).toMatch(/vault-backend not Ready \(InvalidProviderConfig\): .*ExternalSecrets do not sync from Vault/);

    const fixed = await setup(s, ['setup', '--phase', 'cluster', '--yes'], { PATH: PATH_WITHOUT_HELM });
    expect(fixed.result.code, describeResult(['setup'], fixed.result)).toBe(0);
    // A restarted ESO validates every store as it starts, so the store may be Ready before the
    // re-run looks at it (then the step is already done); either way it ends Ready.
    expect(['applied', 'already-done']).toContain(stepOf(fixed.summary, 'cluster.secret-store').outcome);
    expect(stepOf(fixed.summary, 'cluster.secret-store').state).toBe('done');
    expect(stepOf(fixed.summary, 'cluster.verify').outcome).toBe('applied');
  }, 300_000);

  it('a profile naming another ESO namespace than the one ESO runs in is refused (no second copy), with the namespace to set', async () => {
    const before = await readFile(s.info.profileFile, 'utf8');
    await s.session.ok(['profile', 'set', 'cluster.esoNamespace=eso-elsewhere']);
    try {
      const { result, summary } = await setup(s, ['setup', '--phase', 'cluster', '--yes'], { PATH: s.helmPath });
      expect(result.code, describeResult(['setup'], result)).toBe(1);
      const step = stepOf(summary, 'cluster.eso-install');
      expect(step.error).toBe('External Secrets Operator already runs in namespace external-secrets (Deployment external-secrets), not in eso-elsewhere');
      expect(step.hint).toBe('Use that installation: profile set cluster.esoNamespace=external-secrets');
      expect(result.stderr).not.toMatch(/helm: /);
      expect((await kubectl(s.lab, ['get', 'namespace', 'eso-elsewhere'])).code).not.toBe(0);
    } finally {
      await writeFile(s.info.profileFile, before, { mode: 0o600 });
    }
  }, 120_000);
});

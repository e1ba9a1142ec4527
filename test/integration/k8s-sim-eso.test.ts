// The lab's cluster side end to end: the helm shim installs the External Secrets Operator chart
// into the simulated API server, the packaged Vault simulator's Kubernetes auth reviews tokens
// against it, and the ESO controller validates a ClusterSecretStore and syncs ExternalSecrets.
// Docs followed: https://helm.sh/docs/helm/helm_upgrade/, https://developer.hashicorp.com/vault/docs/auth/kubernetes,
// https://external-secrets.io/latest/provider/hashicorp-vault/, https://external-secrets.io/latest/api/spec/
import { waitForActive } from '../support/wait-active.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHelmShim } from '../lab/helm-shim/build.js';
import { startK8sSim, type K8sSim } from '../lab/k8s-sim/index.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

const ESO_AUDIENCE = 'vault';

let dir: string;
let sim: K8sSim;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let helmBin: string;
let tls: TlsMaterial;
let vault: VaultProcess;
let root: string;

const asRoot = (options: Omit<Parameters<typeof vaultRequest>[2], 'token'>) => vaultRequest(vault.url, tls.caPem, { ...options, token: root });

function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      helmBin,
      args,
      { env: { PATH: `${join(dir, 'bin')}:${process.env['PATH']}`, HOME: dir, KUBECONFIG: sim.kubeconfigPath, XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_CACHE_HOME: join(dir, 'xdg-cache') }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const custom = () => kc.makeApiClient(k8s.CustomObjectsApi);
const objects = () => k8s.KubernetesObjectApi.makeApiClient(kc);
const apply = (manifest: k8s.KubernetesObject & Record<string, unknown>) => objects().patch(manifest, undefined, undefined, 'picluster-vault-tui', true, k8s.PatchStrategy.ServerSideApply);

function readyCondition(object: any): { status: string; reason: string; message: string } | undefined {
  return (object?.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
}

function store(name: string, overrides: { role?: string; audiences?: string[]; caBundle?: string } = {}) {
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name },
    spec: {
      provider: {
        vault: {
          server: vault.url,
          path: 'secret',
          version: 'v2',
          caBundle: overrides.caBundle ?? Buffer.from(tls.caPem).toString('base64'),
          auth: {
            kubernetes: {
              mountPath: 'kubernetes',
              role: overrides.role ?? 'external-secrets',
              serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences: overrides.audiences ?? [ESO_AUDIENCE] },
            },
          },
        },
      },
    },
  };
}

async function storeState(name: string) {
  return readyCondition(await custom().getClusterCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'clustersecretstores', name }));
}

async function externalSecretState(namespace: string, name: string) {
  return readyCondition(await custom().getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', namespace, plural: 'externalsecrets', name }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-sim-eso-'));
  sim = await startK8sSim({ dir: join(dir, 'cluster'), deploymentReadyDelayMs: 100, eso: { storeRetryBaseMs: 200, storeRetryMaxMs: 1000 } });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  helmBin = await writeHelmShim(join(dir, 'bin'));

  tls = await makeTlsMaterial(join(dir, 'vault-tls'));
  vault = await startVault({ executable: await writeVaultExecutable(join(dir, 'vault-bin'), '2.0.4'), dir: join(dir, 'vault'), tls });
  const init = (await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 1, secret_threshold: 1 } })).json;
  root = init.root_token;
  await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/unseal', body: { key: init.keys[0] } });
  await waitForActive(vault.url, tls.caPem);
  expect((await asRoot({ method: 'POST', path: 'sys/mounts/secret', body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
  expect((await asRoot({ method: 'PUT', path: 'sys/policies/acl/readonly', body: { policy: 'path "secret/data/*" {\n  capabilities = ["read"]\n}\n' } })).status).toBe(204);
  expect((await asRoot({ method: 'POST', path: 'sys/auth/kubernetes', body: { type: 'kubernetes' } })).status).toBe(204);
});

afterAll(async () => {
  await sim?.close();
  await vault?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('helm shim (https://helm.sh/docs/helm/helm_upgrade/)', () => {
  const install = ['upgrade', '--install', 'external-secrets', 'external-secrets/external-secrets', '-n', 'external-secrets', '--create-namespace', '--set', 'installCRDs=true', '--wait'];

  it('prints its version and refuses an unknown repository like helm', async () => {
    expect(await helm(['version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^version\.BuildInfo\{Version:"v3\.\d+\.\d+", GitCommit:"[0-9a-f]{40}", GitTreeState:"clean", GoVersion:"go1\.\d+\.\d+"\}\n$/) });
    expect(await helm(['repo', 'update'])).toMatchObject({ code: 1, stderr: 'Error: no repositories found. You must add one before updating\n' });
    expect(await helm(install)).toMatchObject({ code: 1, stderr: 'Error: repo external-secrets not found\n' });
  });

  it('upgrade --install makes the ESO CRDs served and the controller ready; a second run changes nothing in the cluster', async () => {
    const groupsBefore = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groupsBefore.groups.map((g) => g.name)).not.toContain('external-secrets.io');
    expect(await helm(['repo', 'add', 'external-secrets', 'https://charts.external-secrets.io'])).toMatchObject({ code: 0, stdout: '"external-secrets" has been added to your repositories\n' });
    expect((await helm(['repo', 'update'])).stdout).toBe(
      'Hang tight while we grab the latest from your chart repositories...\n...Successfully got an update from the "external-secrets" chart repository\nUpdate Complete. ⎈Happy Helming!⎈\n',
    );

    const started = Date.now();
    const first = await helm(install);
    const installMs = Date.now() - started;
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Release "external-secrets" does not exist\. Installing it now\.\nNAME: external-secrets\nLAST DEPLOYED: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nNAMESPACE: external-secrets\nSTATUS: deployed\nREVISION: 1\nTEST SUITE: None\nNOTES:\n/);
    console.log(`helm upgrade --install (with --wait) took ${installMs} ms`);

    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.find((g) => g.name === 'external-secrets.io')?.preferredVersion?.groupVersion).toBe('external-secrets.io/v1');
    const resources = await kc.makeApiClient(k8s.CustomObjectsApi).getAPIResources({ group: 'external-secrets.io', version: 'v1' });
    expect(resources.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['clustersecretstores', 'externalsecrets', 'secretstores']));
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({ namespace: 'external-secrets', name: 'external-secrets' });
    expect(deployment.status?.readyReplicas).toBe(1);
    await core.readNamespacedServiceAccount({ namespace: 'external-secrets', name: 'external-secrets' });

    const snapshot = async () => ({
      crd: (await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'clustersecretstores.external-secrets.io' })).metadata?.resourceVersion,
      deployment: (await apps.readNamespacedDeployment({ namespace: 'external-secrets', name: 'external-secrets' })).metadata?.resourceVersion,
    });
    const before = await snapshot();
    const second = await helm(install);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Release "external-secrets" has been upgraded\. Happy Helming!\n.*REVISION: 2\n/s);
    expect(await snapshot()).toEqual(before);

    const list = JSON.parse((await helm(['list', '-n', 'external-secrets', '-o', 'json'])).stdout);
    expect(list).toEqual([expect.objectContaining({ name: 'external-secrets', namespace: 'external-secrets', revision: '2', status: 'deployed', chart: expect.stringMatching(/^external-secrets-\d/) })]);
    expect((await helm(['status', 'external-secrets', '-n', 'external-secrets'])).stdout).toContain('STATUS: deployed\nREVISION: 2\n');
    expect(await helm(['status', 'nothing', '-n', 'external-secrets'])).toMatchObject({ code: 1, stderr: 'Error: release: not found\n' });
  });
});

describe('Vault kubernetes auth against the simulated cluster (https://developer.hashicorp.com/vault/docs/auth/kubernetes)', () => {
  let esoJwt: string;

  it('reviewer account bound to system:auth-delegator: a bound SA logs in, a wrong audience or a removed binding is refused', async () => {
    await core.createNamespace({ body: { metadata: { name: 'vault' } } });
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'vault-auth', namespace: 'vault' } });
    await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vault-auth-token', namespace: 'vault', annotations: { 'kubernetes.io/service-account.name': 'vault-auth' } }, type: 'kubernetes.io/service-account-token' });
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'vault-auth-delegator' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects: [{ kind: 'ServiceAccount', name: 'vault-auth', namespace: 'vault' }] };
    await apply(binding);
    const reviewer = await waitFor('reviewer token', async () => (await core.readNamespacedSecret({ namespace: 'vault', name: 'vault-auth-token' })).data?.['token']);

    expect((await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: sim.url, kubernetes_ca_cert: sim.caPem, token_reviewer_jwt: Buffer.from(reviewer, 'base64').toString('utf8') } })).status).toBe(204);
    expect(
      (await asRoot({
        method: 'POST',
        path: 'auth/kubernetes/role/external-secrets',
        body: { bound_service_account_names: 'external-secrets', bound_service_account_namespaces: 'external-secrets', policies: 'readonly', ttl: '1h', audience: ESO_AUDIENCE },
      })).status,
    ).toBe(204);

    const tokenFor = async (namespace: string, name: string, audiences: string[]) =>
      (await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences, expirationSeconds: 600 } } })).status!.token;
    const login = (jwt: string) => vaultRequest(vault.url, tls.caPem, { method: 'POST', path: 'auth/kubernetes/login', body: { role: 'external-secrets', jwt } });

    esoJwt = await tokenFor('external-secrets', 'external-secrets', [ESO_AUDIENCE]);
    const ok = await login(esoJwt);
    expect(ok.status).toBe(200);
    expect(ok.json.auth.metadata).toMatchObject({ service_account_name: 'external-secrets', service_account_namespace: 'external-secrets' });

    const wrongAudience = await login(await tokenFor('external-secrets', 'external-secrets', ['https://kubernetes.default.svc.cluster.local']));
    expect(wrongAudience.status).toBe(403);
    expect(wrongAudience.json.errors[0]).toMatch(/^invalid audience \(aud\) claim/);
    const otherAccount = await login(await tokenFor('external-secrets', 'external-secrets-webhook', [ESO_AUDIENCE]));
    expect(otherAccount.status).toBe(403);

    await kc.makeApiClient(k8s.RbacAuthorizationV1Api).deleteClusterRoleBinding({ name: 'vault-auth-delegator' });
    const unbound = await login(esoJwt);
    expect(unbound.status).toBe(403);
    // A refused login is the bare "permission denied" (not an ACL refusal's multierror), and the
    // server logs why only at debug level: as the real OpenBao 2.7.2 does.
    expect(unbound.json.errors).toEqual(['permission denied']);
    await apply(binding);
    expect((await login(esoJwt)).status).toBe(200);
  });
});

describe('ESO controller (https://external-secrets.io/latest/provider/hashicorp-vault/)', () => {
  it('a ClusterSecretStore becomes Ready/Valid after a real kubernetes login; an ExternalSecret syncs and re-syncs after the value changes', async () => {
    await apply(store('vault-backend'));
    await waitFor('store Ready', async () => (await storeState('vault-backend'))?.status === 'True');
    expect(await storeState('vault-backend')).toMatchObject({ status: 'True', reason: 'Valid', message: 'store validated' });

    expect((await asRoot({ method: 'POST', path: 'secret/data/app/config', body: { data: { password: 'first-value', user: 'app' } } })).status).toBe(200);
    await core.createNamespace({ body: { metadata: { name: 'app' } } });
    await apply({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'app-config', namespace: 'app' },
      spec: {
        refreshInterval: '1s',
        secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault-backend' },
        target: { name: 'app-secret', creationPolicy: 'Owner' },
        data: [{ secretKey: 'password', remoteRef: { key: 'app/config', property: 'password' } }],
      },
    });
    const started = Date.now();
    await waitFor('ExternalSecret synced', async () => (await externalSecretState('app', 'app-config'))?.reason === 'SecretSynced');
    console.log(`ExternalSecret synced ${Date.now() - started} ms after apply`);
    const secret = await core.readNamespacedSecret({ namespace: 'app', name: 'app-secret' });
    expect(Buffer.from(secret.data!['password']!, 'base64').toString('utf8')).toBe('first-value');
    expect(secret.metadata?.ownerReferences).toEqual([expect.objectContaining({ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'app-config', controller: true })]);
    expect(await externalSecretState('app', 'app-config')).toMatchObject({ status: 'True', reason: 'SecretSynced', message: 'secret synced' });

    await asRoot({ method: 'POST', path: 'secret/data/app/config', body: { data: { password: 'second-value', user: 'app' } } });
    await waitFor('re-sync on refreshInterval', async () => {
      const current = await core.readNamespacedSecret({ namespace: 'app', name: 'app-secret' });
      return Buffer.from(current.data!['password']!, 'base64').toString('utf8') === 'second-value';
    });

    // A key that does not exist in Vault: SecretSyncedError, the Secret keeps its last value.
    await apply({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'missing', namespace: 'app' },
      spec: { refreshInterval: '1h', secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault-backend' }, data: [{ secretKey: 'x', remoteRef: { key: 'app/absent', property: 'x' } }] },
    });
    await waitFor('sync error', async () => (await externalSecretState('app', 'missing'))?.reason === 'SecretSyncedError');

    // Deleting the ExternalSecret garbage-collects the Secret it owns.
    await custom().deleteNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', namespace: 'app', plural: 'externalsecrets', name: 'app-config' });
    await waitFor('owned secret removed', async () => !(await core.listNamespacedSecret({ namespace: 'app' })).items.some((s) => s.metadata?.name === 'app-secret'));
  });

  it('a wrong role or audience leaves the store not Ready with the login error; fixing the role makes it Ready', async () => {
    await apply(store('wrong-role', { role: 'nosuch' }));
    await waitFor('wrong-role refused', async () => (await storeState('wrong-role'))?.status === 'False');
    const wrongRole = await storeState('wrong-role');
    expect(wrongRole).toMatchObject({ status: 'False', reason: 'InvalidProviderConfig' });
    expect(wrongRole!.message).toContain('unable to log in with Kubernetes auth: Error making API request.');
    expect(wrongRole!.message).toContain(`URL: PUT ${vault.url}/v1/auth/kubernetes/login\nCode: 400. Errors:\n\n* invalid role name "nosuch"`);

    await apply(store('wrong-audience', { audiences: ['not-vault'] }));
    await waitFor('wrong-audience refused', async () => (await storeState('wrong-audience'))?.status === 'False');
    expect((await storeState('wrong-audience'))!.message).toContain('Code: 403. Errors:\n\n* invalid audience (aud) claim');

    const strangerCa = await makeTlsMaterial(join(dir, 'stranger'));
    await apply(store('wrong-ca', { caBundle: Buffer.from(strangerCa.caPem).toString('base64') }));
    await waitFor('wrong-ca refused', async () => (await storeState('wrong-ca'))?.status === 'False');
    expect((await storeState('wrong-ca'))!.message).toContain('tls: failed to verify certificate: x509: certificate signed by unknown authority');

    // The role appears in Vault: the store's retry (with backoff) turns it Ready.
    await asRoot({ method: 'POST', path: 'auth/kubernetes/role/nosuch', body: { bound_service_account_names: 'external-secrets', bound_service_account_namespaces: 'external-secrets', policies: 'readonly', audience: ESO_AUDIENCE } });
    await waitFor('wrong-role recovers', async () => (await storeState('wrong-role'))?.reason === 'Valid');
  });
});

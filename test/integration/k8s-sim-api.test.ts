// Conformance of the lab's Kubernetes API server, driven through @kubernetes/client-node (and
// kubectl where the machine has it) with the kubeconfig the simulator writes. Each case cites the
// Kubernetes API reference it follows.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startK8sSim, VIEWER_USER, type K8sSim } from '../lab/k8s-sim/index.js';

const run = promisify(execFile);

let dir: string;
let sim: K8sSim;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

/** A client that authenticates with a bearer token (a service account token). */
function clientWithToken(token: string): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'lab', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'bearer', token }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'bearer' }],
    currentContext: 'lab',
  });
  return config;
}

async function apiError(promise: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof k8s.ApiException) return { code: error.code, status: typeof error.body === 'string' ? JSON.parse(error.body) : error.body };
    throw error;
  }
  throw new Error('expected the call to fail');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function claimsOf(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

async function reviewerToken(namespace: string, account: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: account } } });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: `${account}-token`, annotations: { 'kubernetes.io/service-account.name': account } }, type: 'kubernetes.io/service-account-token' },
  });
  const secret = await waitFor('the token controller', async () => {
    const read = await core.readNamespacedSecret({ namespace, name: `${account}-token` });
    return read.data?.['token'] ? read : undefined;
  });
  return Buffer.from(secret.data!['token']!, 'base64').toString('utf8');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-sim-api-'));
  sim = await startK8sSim({ dir: join(dir, 'cluster'), deploymentReadyDelayMs: 100 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
});

afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('discovery (https://kubernetes.io/docs/reference/using-api/api-concepts/#discovery-api)', () => {
  it('answers /version, /api, /apis and group-version resource lists', async () => {
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\.\d+\.\d+\+k3s\d$/) });
    const legacy = await kc.makeApiClient(k8s.CoreApi).getAPIVersions();
    expect(legacy.versions).toEqual(['v1']);
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(['apps', 'rbac.authorization.k8s.io', 'authentication.k8s.io', 'authorization.k8s.io', 'apiextensions.k8s.io']),
    );
    expect(groups.groups.map((g) => g.name)).not.toContain('external-secrets.io');
    const coreResources = await core.getAPIResources();
    const names = coreResources.resources.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['namespaces', 'serviceaccounts', 'serviceaccounts/token', 'secrets']));
    expect(coreResources.resources.find((r) => r.name === 'serviceaccounts/token')).toMatchObject({ kind: 'TokenRequest', group: 'authentication.k8s.io', verbs: ['create'] });
    expect(coreResources.resources.find((r) => r.name === 'secrets')).toMatchObject({ namespaced: true, kind: 'Secret' });
    const rbac = await kc.makeApiClient(k8s.RbacAuthorizationV1Api).getAPIResources();
    expect(rbac.resources.find((r) => r.name === 'clusterrolebindings')).toMatchObject({ namespaced: false, kind: 'ClusterRoleBinding' });
  });

  it('refuses requests without credentials (401 Status, as K3s with --anonymous-auth=false)', async () => {
    const anonymous = new k8s.KubeConfig();
    anonymous.loadFromOptions({
      clusters: [{ name: 'lab', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64') }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'lab', cluster: 'lab', user: 'nobody' }],
      currentContext: 'lab',
    });
    const failure = await apiError(anonymous.makeApiClient(k8s.CoreV1Api).listNamespace());
    expect(failure.code).toBe(401);
  });
});

describe('namespaces, service accounts, secrets (https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/)', () => {
  it('creates, reads, lists, replaces, merge-patches and deletes; a namespace gets its default service account', async () => {
    await core.createNamespace({ body: { metadata: { name: 'crud' } } });
    const ns = await core.readNamespace({ name: 'crud' });
    expect(ns.status?.phase).toBe('Active');
    expect(ns.metadata?.labels).toMatchObject({ 'kubernetes.io/metadata.name': 'crud' });
    await waitFor('default service account', async () => (await core.listNamespacedServiceAccount({ namespace: 'crud' })).items.some((sa) => sa.metadata?.name === 'default'));

    const created = await core.createNamespacedSecret({ namespace: 'crud', body: { metadata: { name: 'app', labels: { tier: 'db' } }, stringData: { user: 'admin' } } });
    expect(created.type).toBe('Opaque');
    expect(created.data).toEqual({ user: Buffer.from('admin').toString('base64') });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const listed = await core.listNamespacedSecret({ namespace: 'crud', labelSelector: 'tier=db' });
    expect(listed.items.map((s) => s.metadata?.name)).toEqual(['app']);

    const replaced = await core.replaceNamespacedSecret({ namespace: 'crud', name: 'app', body: { ...created, data: { user: Buffer.from('root').toString('base64') } } });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    // A replace carrying a stale resourceVersion is a 409 Conflict.
    const stale = await apiError(core.replaceNamespacedSecret({ namespace: 'crud', name: 'app', body: created }));
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409 });

    const patched = await core.patchNamespacedSecret(
      { namespace: 'crud', name: 'app', body: { metadata: { labels: { tier: null } }, data: { extra: Buffer.from('x').toString('base64') } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(patched.metadata?.labels).toBeUndefined();
    expect(Object.keys(patched.data ?? {}).sort()).toEqual(['extra', 'user']);

    const jsonPatched = await core.patchNamespacedSecret(
      { namespace: 'crud', name: 'app', body: [{ op: 'remove', path: '/data/extra' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    expect(Object.keys(jsonPatched.data ?? {})).toEqual(['user']);

    const deleted = await core.deleteNamespacedSecret({ namespace: 'crud', name: 'app' });
    expect(deleted).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'app', kind: 'secrets' } });
  });

  it('404, 409 and 422 are Status objects mapped to ApiException codes (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/)', async () => {
    const missing = await apiError(core.readNamespacedSecret({ namespace: 'default', name: 'absent' }));
    expect(missing.code).toBe(404);
    expect(missing.status).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'secrets "absent" not found', reason: 'NotFound', details: { name: 'absent', kind: 'secrets' }, code: 404 });

    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'twice' } } });
    const duplicate = await apiError(core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'twice' } } }));
    expect(duplicate.code).toBe(409);
    expect(duplicate.status).toMatchObject({ reason: 'AlreadyExists', message: 'serviceaccounts "twice" already exists', details: { name: 'twice', kind: 'serviceaccounts' } });

    const invalid = await apiError(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'Bad_Name' } } }));
    expect(invalid.code).toBe(422);
    expect(invalid.status).toMatchObject({ reason: 'Invalid', details: { name: 'Bad_Name', kind: 'Secret', causes: [{ reason: 'FieldValueInvalid', field: 'metadata.name' }] } });
    expect(invalid.status.message).toMatch(/^Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);

    const noNamespace = await apiError(core.createNamespacedSecret({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }));
    expect(noNamespace.code).toBe(404);
    expect(noNamespace.status.message).toBe('namespaces "nowhere" not found');

    const tokenWithoutAccount = await apiError(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'orphan' }, type: 'kubernetes.io/service-account-token' } }));
    expect(tokenWithoutAccount.code).toBe(422);
    expect(tokenWithoutAccount.status.details.causes[0]).toMatchObject({ field: 'metadata.annotations[kubernetes.io/service-account.name]', reason: 'FieldValueRequired' });
  });

  it('deleting a namespace terminates it and removes its contents', async () => {
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await core.createNamespacedSecret({ namespace: 'doomed', body: { metadata: { name: 's' } } });
    const terminating = await core.deleteNamespace({ name: 'doomed' });
    expect(terminating).toMatchObject({ kind: 'Namespace', status: { phase: 'Terminating' } });
    await waitFor('namespace removal', async () => (await core.listNamespace()).items.every((n) => n.metadata?.name !== 'doomed'));
    expect((await apiError(core.readNamespace({ name: 'doomed' }))).code).toBe(404);
  });
});

describe('service account tokens (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/)', () => {
  it('the token controller fills a kubernetes.io/service-account-token Secret with a signed legacy JWT, ca.crt and namespace', async () => {
    await core.createNamespace({ body: { metadata: { name: 'vault' } } });
    const token = await reviewerToken('vault', 'vault-auth');
    const account = await core.readNamespacedServiceAccount({ namespace: 'vault', name: 'vault-auth' });
    const secret = await core.readNamespacedSecret({ namespace: 'vault', name: 'vault-auth-token' });
    expect(Buffer.from(secret.data!['ca.crt']!, 'base64').toString('utf8')).toBe(sim.caPem);
    expect(Buffer.from(secret.data!['namespace']!, 'base64').toString('utf8')).toBe('vault');
    expect(secret.metadata?.annotations?.['kubernetes.io/service-account.uid']).toBe(account.metadata?.uid);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
    expect(claimsOf(token)).toEqual({
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': 'vault',
      'kubernetes.io/serviceaccount/secret.name': 'vault-auth-token',
      'kubernetes.io/serviceaccount/service-account.name': 'vault-auth',
      'kubernetes.io/serviceaccount/service-account.uid': account.metadata?.uid,
      sub: 'system:serviceaccount:vault:vault-auth',
    });
  });

  it('TokenRequest issues bound tokens with the requested audiences and expiry (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/)', async () => {
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'eso' } } });
    const request = await core.createNamespacedServiceAccountToken({
      namespace: 'default',
      name: 'eso',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['vault'], expirationSeconds: 600 } },
    });
    expect(request.spec.audiences).toEqual(['vault']);
    const claims = claimsOf(request.status!.token);
    expect(claims).toMatchObject({ aud: ['vault'], iss: 'https://kubernetes.default.svc.cluster.local', sub: 'system:serviceaccount:default:eso', 'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'eso' } } });
    expect(claims['exp'] - claims['iat']).toBe(600);
    const defaults = await core.createNamespacedServiceAccountToken({ namespace: 'default', name: 'eso', body: { spec: { audiences: [] } } as k8s.AuthenticationV1TokenRequest });
    expect(claimsOf(defaults.status!.token)['aud']).toEqual(['https://kubernetes.default.svc.cluster.local', 'k3s']);
    const tooShort = await apiError(core.createNamespacedServiceAccountToken({ namespace: 'default', name: 'eso', body: { spec: { audiences: ['vault'], expirationSeconds: 60 } } }));
    expect(tooShort.code).toBe(422);
    const noAccount = await apiError(core.createNamespacedServiceAccountToken({ namespace: 'default', name: 'ghost', body: { spec: { audiences: [] } } }));
    expect(noAccount.code).toBe(404);
  });

  it('TokenReview is allowed only to subjects bound to system:auth-delegator and validates signature, audience and account (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/)', async () => {
    const reviewer = await reviewerToken('vault', 'reviewer');
    const asReviewer = clientWithToken(reviewer).makeApiClient(k8s.AuthenticationV1Api);
    const subject = await core.createNamespacedServiceAccountToken({ namespace: 'default', name: 'eso', body: { spec: { audiences: ['vault'] } } });
    const review = (token: string, audiences?: string[]) => asReviewer.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } } });

    const denied = await apiError(review(subject.status!.token, ['vault']));
    expect(denied.code).toBe(403);
    expect(denied.status.message).toBe('tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:vault:reviewer" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope');

    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'reviewer-tokenreview' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
        subjects: [{ kind: 'ServiceAccount', name: 'reviewer', namespace: 'vault' }],
      },
    });
    const account = await core.readNamespacedServiceAccount({ namespace: 'default', name: 'eso' });
    const ok = await review(subject.status!.token, ['vault']);
    expect(ok.status).toEqual({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:default:eso',
        uid: account.metadata?.uid,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': [expect.stringMatching(/^JTI=/)] },
      },
      audiences: ['vault'],
    });

    const wrongAudience = await review(subject.status!.token, ['https://kubernetes.default.svc.cluster.local']);
    expect(wrongAudience.status?.authenticated).toBeFalsy();
    expect(wrongAudience.status?.error).toMatch(/token audiences \["vault"\] is invalid for the target audiences/);

    const [header, payload, signature] = subject.status!.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(subject.status!.token), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url');
    const tampered = await review(`${header}.${forged}.${signature}`, ['vault']);
    expect(tampered.status?.authenticated).toBeFalsy();
    expect(tampered.status?.error).toContain('invalid bearer token');
    void payload;

    // The legacy token stops working when its Secret is deleted.
    const legacy = await reviewerToken('default', 'short-lived');
    expect((await review(legacy)).status?.authenticated).toBe(true);
    await core.deleteNamespacedSecret({ namespace: 'default', name: 'short-lived-token' });
    expect((await review(legacy)).status?.authenticated).toBeFalsy();

    await rbac.deleteClusterRoleBinding({ name: 'reviewer-tokenreview' });
    expect((await apiError(review(subject.status!.token, ['vault']))).code).toBe(403);
  });

  it('SelfSubjectAccessReview: the admin may do anything, the lab-viewer may read but not create secrets (https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/)', async () => {
    const ask = (config: k8s.KubeConfig, verb: string, resource: string) =>
      config.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb, resource, group: '', namespace: 'default' } } } });
    expect((await ask(kc, 'create', 'secrets')).status).toEqual({ allowed: true });
    const viewer = new k8s.KubeConfig();
    viewer.loadFromFile(sim.kubeconfigPath);
    viewer.setCurrentContext(VIEWER_USER);
    expect((await ask(viewer, 'create', 'secrets')).status).toEqual({ allowed: false });
    expect((await ask(viewer, 'list', 'serviceaccounts')).status).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "lab-viewer" of ClusterRole "view" to User "lab-viewer"' });
    const forbidden = await apiError(viewer.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: 'default' }));
    expect(forbidden.code).toBe(403);
    expect(forbidden.status).toMatchObject({ reason: 'Forbidden', message: 'secrets is forbidden: User "lab-viewer" cannot list resource "secrets" in API group "" in the namespace "default"' });
  });
});

describe('server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/)', () => {
  const objects = () => k8s.KubernetesObjectApi.makeApiClient(kc);
  const manifest = (data: Record<string, string>): k8s.V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: 'default' }, data });

  it('creates, is idempotent (no new resourceVersion), prunes fields the manager stopped applying', async () => {
    const first = await objects().patch(manifest({ a: '1', b: '2' }), undefined, undefined, 'picluster', true, k8s.PatchStrategy.ServerSideApply);
    expect(first.metadata?.managedFields).toEqual([expect.objectContaining({ manager: 'picluster', operation: 'Apply', fieldsV1: { 'f:data': { 'f:a': {}, 'f:b': {} } } })]);
    const again = await objects().patch(manifest({ a: '1', b: '2' }), undefined, undefined, 'picluster', true, k8s.PatchStrategy.ServerSideApply);
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const pruned = (await objects().patch(manifest({ a: '1' }), undefined, undefined, 'picluster', true, k8s.PatchStrategy.ServerSideApply)) as k8s.V1ConfigMap;
    expect(pruned.data).toEqual({ a: '1' });
  });

  it('a different value for a field another manager owns is a 409 conflict unless forced', async () => {
    const conflict = await apiError(objects().patch(manifest({ a: 'other' }), undefined, undefined, 'intruder', undefined, k8s.PatchStrategy.ServerSideApply));
    expect(conflict.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: 'Conflict',
      message: 'Apply failed with 1 conflict: conflict with "picluster" using v1: .data.a',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "picluster" using v1', field: '.data.a' }] },
    });
    const forced = (await objects().patch(manifest({ a: 'other' }), undefined, undefined, 'intruder', true, k8s.PatchStrategy.ServerSideApply)) as k8s.V1ConfigMap;
    expect(forced.data).toEqual({ a: 'other' });
    expect(forced.metadata?.managedFields?.map((m) => m.manager)).toEqual(['intruder']);
    // Same value as the owner: shared ownership, no conflict.
    await objects().patch(manifest({ a: 'other' }), undefined, undefined, 'picluster', undefined, k8s.PatchStrategy.ServerSideApply);
  });

  it('applies a YAML body and requires fieldManager', async () => {
    const { status } = await yamlApply('/api/v1/namespaces/default/configmaps/from-yaml?fieldManager=raw', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: |\n    line\n');
    expect(status).toBe(201);
    expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'from-yaml' })).data).toEqual({ key: 'line\n' });
    const noManager = await yamlApply('/api/v1/namespaces/default/configmaps/from-yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n');
    expect(noManager.status).toBe(422);
  });
});

/** One raw request with the admin credentials (for bodies client-node does not send). */
async function yamlApply(path: string, yaml: string): Promise<{ status: number; body: any }> {
  const { request } = await import('node:https');
  const options: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const outgoing = request(`${sim.url}${path}`, { ...options, method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' } }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    outgoing.on('error', reject);
    outgoing.end(yaml);
  });
}

describe('CRDs, custom objects and deployments', () => {
  it('a CRD makes its group served; custom objects keep status in the status subresource (https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/custom-resource-definition-v1/)', async () => {
    await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({
      body: {
        metadata: { name: 'widgets.lab.example.com' },
        spec: {
          group: 'lab.example.com',
          scope: 'Cluster',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } }, subresources: { status: {} } }],
        },
      },
    });
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.find((g) => g.name === 'lab.example.com')?.preferredVersion?.version).toBe('v1');
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const created = await custom.createClusterCustomObject({ group: 'lab.example.com', version: 'v1', plural: 'widgets', body: { apiVersion: 'lab.example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 }, status: { ignored: true } } });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);
    await custom.patchClusterCustomObjectStatus({ group: 'lab.example.com', version: 'v1', plural: 'widgets', name: 'w', body: { status: { ready: true } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const read = await custom.getClusterCustomObject({ group: 'lab.example.com', version: 'v1', plural: 'widgets', name: 'w' });
    expect(read).toMatchObject({ spec: { size: 1 }, status: { ready: true }, metadata: { generation: 1 } });
    const strategic = await apiError(custom.patchClusterCustomObject({ group: 'lab.example.com', version: 'v1', plural: 'widgets', name: 'w', body: { spec: { size: 2 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)));
    expect(strategic.code).toBe(415);
  });

  it('a Deployment reports readyReplicas once its (simulated) pods start (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/)', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } } },
    });
    const ready = await waitFor('deployment ready', async () => {
      const d = await apps.readNamespacedDeployment({ namespace: 'default', name: 'web' });
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    expect(ready.status).toMatchObject({ observedGeneration: 1, replicas: 2, availableReplicas: 2 });
    const mismatch = await apiError(apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } }));
    expect(mismatch.code).toBe(422);
  });
});

const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));

describe.skipIf(!kubectl)('kubectl with the lab kubeconfig (https://kubernetes.io/docs/reference/kubectl/)', () => {
  const kubectlRun = (args: string[]) => run(kubectl!, ['--kubeconfig', sim.kubeconfigPath, ...args], { timeout: 20_000 });

  it('get, apply (client- and server-side) and delete', async () => {
    const file = join(dir, 'manifest.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kubectl-demo\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: kubectl-demo\ndata:\n  mode: lab\n');
    expect((await kubectlRun(['apply', '--server-side', '-f', file])).stdout).toBe('namespace/kubectl-demo serverside-applied\nconfigmap/settings serverside-applied\n');
    expect((await kubectlRun(['get', 'configmap', 'settings', '-n', 'kubectl-demo', '-o', 'jsonpath={.data.mode}'])).stdout).toBe('lab');
    expect((await kubectlRun(['get', 'ns', 'kubectl-demo', '-o', 'name'])).stdout).toBe('namespace/kubectl-demo\n');
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: client-side\n  namespace: kubectl-demo\ndata:\n  a: b\n');
    expect((await kubectlRun(['apply', '-f', file])).stdout).toBe('configmap/client-side created\n');
    expect((await kubectlRun(['apply', '-f', file])).stdout).toBe('configmap/client-side unchanged\n');
    expect((await kubectlRun(['delete', 'namespace', 'kubectl-demo'])).stdout).toBe('namespace "kubectl-demo" deleted\n');
    const gone = await kubectlRun(['get', 'ns', 'kubectl-demo']).catch((error: { stderr: string }) => error);
    expect((gone as { stderr: string }).stderr).toContain('namespaces "kubectl-demo" not found');
  });
});

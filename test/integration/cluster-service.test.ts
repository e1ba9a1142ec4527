// The cluster service (kubeconfig + context from the profile, server-side apply, reads, access
// preflight, errors a user can act on) against a real Kubernetes control plane (test/support/test-cluster.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userErrorOf } from '../support/user-error.js';
import { ClusterSchema } from '../../source/profile/schema.js';
import { FIELD_MANAGER, kubeconfigPathFor, openCluster } from '../../source/services/cluster.js';
import { startTestCluster, VIEWER_USER, type TestCluster } from '../support/test-cluster.js';

let dir: string;
let plane: TestCluster;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-service-'));
  plane = await startTestCluster();
}, 120_000);

afterAll(async () => {
  await plane?.close();
  await rm(dir, { recursive: true, force: true });
});

const settings = (input: Record<string, unknown> = {}) => ClusterSchema.parse({ kubeconfig: plane.kubeconfigPath, ...input });


describe('kubeconfig and context', () => {
  it('the profile file wins; else the first existing KUBECONFIG entry; else ~/.kube/config', async () => {
    expect(kubeconfigPathFor(settings(), {})).toBe(plane.kubeconfigPath);
    const none = ClusterSchema.parse({});
    expect(kubeconfigPathFor(none, { KUBECONFIG: `${join(dir, 'missing')}:${plane.kubeconfigPath}` })).toBe(plane.kubeconfigPath);
    expect(kubeconfigPathFor(none, {})).toBe(join(homedir(), '.kube', 'config'));
  });

  it('uses the current context by default and the named one when the profile says so', async () => {
    const admin = await openCluster(settings());
    expect(admin.context).toBe('default');
    expect(admin.server).toBe(plane.url);
    expect(admin.caPem).toBe(plane.caPem);
    const viewer = await openCluster(settings({ context: VIEWER_USER }));
    expect(viewer.context).toBe(VIEWER_USER);
  });

  it('a missing kubeconfig and an unknown context are UserErrors with hints', async () => {
    const missing = await userErrorOf(openCluster(settings({ kubeconfig: join(dir, 'no-such-kubeconfig') })));
    expect(missing.message).toBe(`the kubeconfig ${join(dir, 'no-such-kubeconfig')} does not exist`);
    expect(missing.hint).toContain('cluster.kubeconfig');
    const unknown = await userErrorOf(openCluster(settings({ context: 'prod' })));
    expect(unknown.message).toBe(`the kubeconfig ${plane.kubeconfigPath} has no context "prod"`);
    expect(unknown.hint).toBe(`Set cluster.context in the profile to one of: default, ${VIEWER_USER}.`);
  });

  it('refuses a kubeconfig that turns TLS verification off', async () => {
    const insecure = join(dir, 'insecure.yaml');
    await writeFile(
      insecure,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${plane.url}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: x\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n`,
    );
    const error = await userErrorOf(openCluster(settings({ kubeconfig: insecure })));
    expect(error.message).toContain('turns TLS verification off');
  });
});

describe('apply, get, exists (https://kubernetes.io/docs/reference/using-api/server-side-apply/)', () => {
  const configMap = (data: Record<string, string>): KubernetesObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: 'default' }, data } as V1ConfigMap);
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'applied', namespace: 'default' };

  it('applies with the product field manager, idempotently, and takes back a field changed by another manager', async () => {
    const cluster = await openCluster(settings());
    expect(await cluster.exists(ref)).toBe(false);
    expect(await cluster.get(ref)).toBeUndefined();
    const [first] = await cluster.apply([configMap({ a: '1' })]);
    expect(first?.metadata?.managedFields?.map((field) => field.manager)).toEqual([FIELD_MANAGER]);
    const [again] = await cluster.apply([configMap({ a: '1' })]);
    expect(again?.metadata?.resourceVersion).toBe(first?.metadata?.resourceVersion);
    // Another manager takes the field over (kubectl apply --server-side --force-conflicts).
    await plane.objects.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: 'default' }, data: { a: 'by-hand' } } as V1ConfigMap, undefined, undefined, 'kubectl', true, PatchStrategy.ServerSideApply);
    expect((await cluster.get<V1ConfigMap>(ref))?.data).toEqual({ a: 'by-hand' });
    await cluster.apply([configMap({ a: '1' })]);
    expect((await cluster.get<V1ConfigMap>(ref))?.data).toEqual({ a: '1' });
    expect(await cluster.exists(ref)).toBe(true);
  });

  it('a forbidden apply names what was refused', async () => {
    const viewer = await openCluster(settings({ context: VIEWER_USER }));
    const error = await userErrorOf(viewer.apply([configMap({ a: '2' })]));
    expect(error.message).toMatch(/^forbidden while applying ConfigMap default\/applied: .*User "lab-viewer" cannot patch resource "configmaps"/);
    expect(error.hint).toContain(`context now: "${VIEWER_USER}"`);
  });
});

describe('access preflight (https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/)', () => {
  const checks = [
    { verb: 'create', resource: 'namespaces', group: '' },
    { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
    { verb: 'get', resource: 'secrets', group: '', namespace: 'vault' },
  ];

  it('the admin passes; the viewer gets one message naming every denied permission', async () => {
    await (await openCluster(settings())).requireAccess(checks);
    const error = await userErrorOf((await openCluster(settings({ context: VIEWER_USER }))).requireAccess(checks));
    expect(error.message).toBe(`the context "${VIEWER_USER}" may not create namespaces; create clusterrolebindings.rbac.authorization.k8s.io; get secrets in namespace vault`);
    expect(error.hint).toContain('cluster-admin');
  });
});

describe('unreachable API', () => {
  it('a closed port is "did not answer" with the server address', async () => {
    const closed = join(dir, 'closed.yaml');
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const text = (await import('node:fs')).readFileSync(plane.kubeconfigPath, 'utf8').replaceAll(plane.url, 'https://127.0.0.1:1');
    await writeFile(closed, text);
    const cluster = await openCluster(settings({ kubeconfig: closed }));
    const error = await userErrorOf(cluster.exists({ apiVersion: 'v1', kind: 'Namespace', name: 'vault' }));
    expect(error.message).toBe('the Kubernetes API at https://127.0.0.1:1 did not answer (ECONNREFUSED) while reading Namespace vault');
  });
});

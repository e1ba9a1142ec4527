/**
 * The lab's cluster is a real Kubernetes, not a recording of one: the machine's kubectl (1.32, a
 * client with its own protobuf encoding, server-side apply, diff and watch) does what a K3s user
 * does every day against it, `kubectl version` shows the server's real version, and the helm on the
 * lab's PATH is the real one (v3 and v4). Everything runs in a namespace of this test's own.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KUBE_VERSIONS } from '../lab/kube/versions.js';
import { labDir, readLabState, type LabState } from '../lab/lab.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));
const NAMESPACE = 'pvt-real-cluster';

let lab: LabState;

function run(program: string, args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(program, args, { timeout: 90_000, encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent', KUBECONFIG: lab.cluster.kubeconfig } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  if (!KUBECTL) throw new Error('kubectl is not installed (apt-get install kubernetes-client)');
  const result = await run(KUBECTL, ['--request-timeout=30s', ...args], input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  lab = await readLabState(inject('labDir') ?? labDir());
  await kubectl(['create', 'namespace', NAMESPACE]);
});

afterAll(async () => {
  if (lab) await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false', '--ignore-not-found']);
});

describe('kubectl 1.32 against the lab cluster, as against K3s', () => {
  it('`kubectl version` shows the real server version, and the API lists the resources a K3s server has', async () => {
    const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string; major: string; minor: string } };
    expect(version.serverVersion).toMatchObject({ gitVersion: `v${KUBE_VERSIONS.kubernetes}`, major: '1', minor: KUBE_VERSIONS.kubernetes.split('.')[1] });
    const resources = await kubectl(['api-resources', '-o', 'name']);
    for (const name of ['namespaces', 'secrets', 'serviceaccounts', 'deployments.apps', 'endpointslices.discovery.k8s.io', 'tokenreviews.authentication.k8s.io', 'clusterrolebindings.rbac.authorization.k8s.io', 'customresourcedefinitions.apiextensions.k8s.io', 'leases.coordination.k8s.io']) {
      expect(resources.split('\n')).toContain(name);
    }
  });

  it('create, label, patch, get -o yaml and -o jsonpath', async () => {
    await kubectl(['-n', NAMESPACE, 'create', 'secret', 'generic', 'plain', '--from-literal=answer=42']);
    await kubectl(['-n', NAMESPACE, 'label', 'secret', 'plain', 'tier=test']);
    await kubectl(['-n', NAMESPACE, 'patch', 'secret', 'plain', '--type=merge', '-p', '{"metadata":{"annotations":{"patched":"yes"}}}']);
    expect(await kubectl(['-n', NAMESPACE, 'get', 'secret', 'plain', '-o', 'jsonpath={.data.answer} {.metadata.labels.tier} {.metadata.annotations.patched}'])).toBe(`${Buffer.from('42').toString('base64')} test yes`);
    const yaml = await kubectl(['-n', NAMESPACE, 'get', 'secret', 'plain', '-o', 'yaml']);
    expect(yaml).toMatch(/^kind: Secret$/m);
    expect(yaml).toMatch(/resourceVersion: "\d+"/);
  });

  it('apply, server-side apply with a field manager, and diff', async () => {
    const map = (value: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: NAMESPACE }, data: { mode: value } });
    await kubectl(['apply', '-f', '-'], map('one'));
    await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=pvt-test', '-f', '-'], map('two'));
    const managers = await kubectl(['-n', NAMESPACE, 'get', 'configmap', 'settings', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}']);
    expect(managers.split(' ')).toContain('pvt-test');
    const unchanged = await run(KUBECTL!, ['diff', '--server-side', '--field-manager=pvt-test', '-f', '-'], map('two'));
    expect(unchanged.code, unchanged.stderr).toBe(0);
    const changed = await run(KUBECTL!, ['diff', '--server-side', '--field-manager=pvt-test', '-f', '-'], map('three'));
    expect(changed.code, changed.stderr).toBe(1); // kubectl diff: 1 means differences found
    expect(changed.stdout).toMatch(/^\+ {2}mode: three$/m);
  });

  it('auth can-i for the admin and for the view-only context, and create token for a service account', async () => {
    expect((await kubectl(['auth', 'can-i', 'create', 'secrets', '-n', NAMESPACE])).trim()).toBe('yes');
    const viewer = await run(KUBECTL!, ['--context', lab.cluster.viewerContext, 'auth', 'can-i', 'create', 'secrets', '-n', NAMESPACE]);
    expect(viewer.stdout.trim()).toBe('no');
    expect((await kubectl(['--context', lab.cluster.viewerContext, 'auth', 'can-i', 'list', 'pods', '-n', NAMESPACE])).trim()).toBe('yes');
    await kubectl(['-n', NAMESPACE, 'create', 'serviceaccount', 'robot']);
    const token = (await kubectl(['-n', NAMESPACE, 'create', 'token', 'robot', '--audience', 'vault', '--duration', '10m'])).trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { aud: string[]; sub: string; iss: string };
    expect(claims).toMatchObject({ aud: ['vault'], sub: `system:serviceaccount:${NAMESPACE}:robot`, iss: 'https://kubernetes.default.svc.cluster.local' });
  });

  it('a Deployment gets a pod on the arm64 Node, and delete --wait returns once it is gone', async () => {
    expect(await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].status.nodeInfo.architecture}'])).toBe('arm64');
    await kubectl(['-n', NAMESPACE, 'create', 'deployment', 'web', '--image=registry.invalid/web:1']);
    await kubectl(['-n', NAMESPACE, 'rollout', 'status', 'deployment/web', '--timeout=60s']);
    const ip = await kubectl(['-n', NAMESPACE, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].status.podIP}']);
    expect(ip).toMatch(/^198\.18\.\d+\.\d+$/);
    await kubectl(['-n', NAMESPACE, 'delete', 'deployment', 'web', '--wait', '--cascade=foreground', '--timeout=60s']);
    expect((await run(KUBECTL!, ['-n', NAMESPACE, 'get', 'deployment', 'web'])).code).not.toBe(0);
  }, 120_000);
});

describe("the lab's helm", () => {
  it.each([
    [3, KUBE_VERSIONS.helm3],
    [4, KUBE_VERSIONS.helm4],
  ] as const)('helm v%s is the real helm %s, built from its module', async (major, version) => {
    const dir = major === 3 ? lab.helmBinDir : lab.helm4BinDir;
    const result = await run(join(dir, 'helm'), ['version', '--template', '{{.Version}} {{.GoVersion}}']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^v${version.replaceAll('.', '\\.')} go1\\.`));
  });
});

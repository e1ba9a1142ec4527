/**
 * The lab's Kubernetes side comes up and down with the rest of the lab: the cluster (real kube-apiserver and controllers, test/lab/kube)
 * answers real clients (@kubernetes/client-node, kubectl) with the kubeconfig lab.json names, the
 * lab host reaches it on the address recorded for Vault with the cluster CA, the helm in the lab's
 * bin directory runs, profile.json carries valid cluster settings, and `up`/`down` handle the
 * cluster process by its recorded pid: kept when healthy, replaced alone when it died, gone after down.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ProfileSchema } from '../../source/profile/schema.js';
import { sh } from '../../source/services/host/shell-quote.js';
import { createLabLog, seconds } from '../lab/host/log.js';
import { KUBE_VERSIONS } from '../lab/kube/versions.js';
import { commandLineOf, isAlive, processesUsing } from '../lab/host/process.js';
import { sshRun, type SshTarget } from '../lab/host/ssh.js';
import { LAB_CLUSTER_VAULT_ADDRESS, labDir, labDown, readLabFile, readLabState, sshTargetOf, type LabState } from '../lab/lab.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(REPO_ROOT, 'test', 'lab', 'cli.ts');
const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));

let lab: LabState;
let scratch: string;

/** Runs a program (no shell); resolves with its exit code and output. */
function runProgram(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(program, args, { env, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolvePromise({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
  });
}

/** Runs `cli.ts <command>` like `npm run lab:<command>` does, with its own LAB_DIR. */
function labCommand(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const begin = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, command], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: Date.now() - begin }));
  });
}

/** Live processes running the cluster's serve.ts for a state directory under `dir` (read from /proc). */
async function clusterProcessesUnder(dir: string): Promise<{ pid: number; commandLine: string }[]> {
  const found: { pid: number; commandLine: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await commandLineOf(Number(entry));
    if (commandLine?.includes('kube/serve.ts') && commandLine.includes(`${dir}/`) && (await isAlive(Number(entry)))) found.push({ pid: Number(entry), commandLine });
  }
  return found;
}

function adminClient(state: LabState): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromFile(state.cluster.kubeconfig);
  config.setCurrentContext(state.cluster.context);
  return config;
}

async function namespaceNames(config: k8s.KubeConfig): Promise<string[]> {
  const list = await config.makeApiClient(k8s.CoreV1Api).listNamespace();
  return list.items.map((namespace) => namespace.metadata?.name ?? '');
}

beforeAll(async () => {
  lab = await readLabState(inject('labDir') ?? labDir());
  scratch = await mkdtemp(join(tmpdir(), 'lab-cluster-test-'));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("the shared lab's cluster", () => {
  it('is recorded in lab.json, and profile.json carries cluster settings valid against the product schema', async () => {
    const { cluster } = lab;
    expect(cluster.url).toBe(`https://127.0.0.1:${cluster.port}`);
    expect(cluster.addresses).toEqual(['127.0.0.1', LAB_CLUSTER_VAULT_ADDRESS]);
    expect(cluster.vaultApiAddress).toBe(`https://${LAB_CLUSTER_VAULT_ADDRESS}:${cluster.port}`);
    expect(cluster).toMatchObject({ context: 'default', viewerContext: 'lab-viewer', dir: join(lab.labDir, 'cluster'), log: join(lab.labDir, 'cluster', 'server.log') });
    expect(await isAlive(cluster.pid)).toBe(true);
    expect(lab.helmBinDir).toBe(join(lab.labDir, 'bin'));

    const profile = ProfileSchema.parse(JSON.parse(await readFile(lab.profileFile, 'utf8')));
    expect(profile.cluster).toMatchObject({ kubeconfig: cluster.kubeconfig, context: 'default', apiAddressForVault: cluster.vaultApiAddress });

    // The kubeconfig is what lab.json says: its server, the recorded CA, both contexts.
    const config = new k8s.KubeConfig();
    config.loadFromFile(cluster.kubeconfig);
    expect(config.getCurrentContext()).toBe(cluster.context);
    expect(config.getContexts().map((context) => context.name)).toEqual(expect.arrayContaining([cluster.context, cluster.viewerContext]));
    const kubeconfigCluster = config.getCurrentCluster();
    expect(kubeconfigCluster?.server).toBe(cluster.url);
    expect(Buffer.from(kubeconfigCluster?.caData ?? '', 'base64').toString()).toBe(await readFile(cluster.caFile, 'utf8'));
  });

  it('answers @kubernetes/client-node with the lab kubeconfig (list namespaces; https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/namespace-v1/)', async () => {
    expect(await namespaceNames(adminClient(lab))).toEqual(expect.arrayContaining(['default', 'kube-system', 'kube-public', 'kube-node-lease']));

    // The viewer context is bound to ClusterRole view: it reads namespaces and may not create one.
    const viewer = adminClient(lab);
    viewer.setCurrentContext(lab.cluster.viewerContext);
    expect(await namespaceNames(viewer)).toContain('default');
    const refused = await viewer
      .makeApiClient(k8s.CoreV1Api)
      .createNamespace({ body: { metadata: { name: 'viewer-may-not' } } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<unknown>).code).toBe(403);
  });

  it.skipIf(!kubectl)('answers kubectl with the lab kubeconfig (`kubectl get ns`; https://kubernetes.io/docs/reference/kubectl/generated/kubectl_get/)', async () => {
    const result = await runProgram(kubectl!, ['--kubeconfig', lab.cluster.kubeconfig, 'get', 'ns', '-o', 'name']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
    const viewer = await runProgram(kubectl!, ['--kubeconfig', lab.cluster.kubeconfig, '--context', lab.cluster.viewerContext, 'get', 'ns', 'default', '-o', 'name']);
    expect(viewer.stdout.trim(), viewer.stderr).toBe('namespace/default');
  });

  it('is reachable from the lab host on the address recorded for Vault, verified with the cluster CA', async () => {
    const target: SshTarget = sshTargetOf(lab);
    const config = adminClient(lab);
    const viewerToken = config.getUser(lab.cluster.viewerContext)?.token;
    expect(viewerToken).toMatch(/^[0-9a-f]{48}$/);
    const caPath = (await sshRun(target, 'mktemp')).stdout.trim();
    try {
      await sshRun(target, sh`cat > ${caPath}`, { input: await readFile(lab.cluster.caFile, 'utf8') });
      // The token travels in a curl config read from stdin (curl -K -), not on the command line.
      const answer = await sshRun(target, sh`curl -fsS --cacert ${caPath} -K - ${`${lab.cluster.vaultApiAddress}/version`}`, {
        input: `header = "Authorization: Bearer ${viewerToken}"\n`,
      });
      // The real kube-apiserver's own version (upstream's, without K3s's +k3s suffix).
      expect(JSON.parse(answer.stdout)).toMatchObject({ gitVersion: `v${KUBE_VERSIONS.kubernetes}` });
      // Without the cluster CA the certificate is not trusted: the lab never relies on skipped verification.
      const untrusted = await sshRun(target, sh`curl -fsS ${`${lab.cluster.vaultApiAddress}/version`}`).catch((error: { stderr?: string }) => error);
      expect((untrusted as { stderr?: string }).stderr).toMatch(/certificate/i);
    } finally {
      await sshRun(target, sh`rm -f ${caPath}`);
    }
  });

  it('runs the lab helm from helmBinDir first on PATH (`helm version`, `helm list` against the lab cluster)', async () => {
    const env = {
      ...process.env,
      PATH: `${lab.helmBinDir}:${process.env['PATH']}`,
      HOME: scratch,
      KUBECONFIG: lab.cluster.kubeconfig,
      XDG_CONFIG_HOME: join(scratch, 'xdg-config'),
      XDG_CACHE_HOME: join(scratch, 'xdg-cache'),
    };
    const which = await runProgram('/bin/sh', ['-c', 'command -v helm'], env);
    expect(which.stdout.trim()).toBe(join(lab.helmBinDir, 'helm'));
    const version = await runProgram('/bin/sh', ['-c', 'helm version'], env);
    expect(version.code, version.stderr).toBe(0);
    // Built with `go install` from the module (no git checkout): the commit is not stamped.
    expect(version.stdout).toMatch(new RegExp(`^version\\.BuildInfo\\{Version:"v${KUBE_VERSIONS.helm3.replaceAll('.', '\\.')}", GitCommit:""`));
    const list = await runProgram('/bin/sh', ['-c', 'helm list --all-namespaces'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+NAMESPACE\s+REVISION\s+UPDATED\s+STATUS\s+CHART\s+APP VERSION/);
  });
});

describe('lab commands with the cluster part', () => {
  it('up starts the cluster, up again keeps every pid, a dead cluster alone is replaced, down leaves no cluster process', { timeout: 300_000 }, async () => {
    // An instance of our own beside the suite's lab, in its own LAB_DIR, on its own ports.
    const dir = join(scratch, 'cluster-lab');
    try {
      await exerciseOwnLab(dir);
    } finally {
      // A failed assertion must not leave the instance running.
      if (await readLabFile(dir)) await labDown({ dir, log: createLabLog() });
    }
  });
});

async function exerciseOwnLab(dir: string): Promise<void> {
  const env = { LAB_DIR: dir };
  const first = await labCommand('up', env);
  expect(first.code, first.stderr).toBe(0);
  const state = await readLabState(dir);
  expect(state.cluster.port).not.toBe(lab.cluster.port);
  expect((await clusterProcessesUnder(dir)).map((found) => found.pid)).toEqual([state.cluster.pid]);
  const client = adminClient(state);
  expect(await namespaceNames(client)).toContain('default');
  expect(first.stdout).toContain(`cluster ${state.cluster.url} (for Vault: ${state.cluster.vaultApiAddress})  ok v1.`);

  const again = await labCommand('up', env);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toContain('already up');
  const kept = await readLabState(dir);
  expect([kept.host.nspawnPid, kept.mirror.pid, kept.cluster.pid]).toEqual([state.host.nspawnPid, state.mirror.pid, state.cluster.pid]);

  // The cluster process dies: status says so, and up replaces it alone, on the same port with the same CA.
  process.kill(state.cluster.pid, 'SIGKILL');
  const unhealthy = await labCommand('status', env);
  expect(unhealthy.code).toBe(1);
  expect(unhealthy.stdout).toContain(`down: the cluster process (pid ${state.cluster.pid}) is not running`);
  const replaced = await labCommand('up', env);
  expect(replaced.code, replaced.stderr).toBe(0);
  expect(replaced.stderr).toContain('the cluster is unhealthy');
  const fresh = await readLabState(dir);
  expect(fresh.cluster.pid).not.toBe(state.cluster.pid);
  expect([fresh.host.nspawnPid, fresh.mirror.pid, fresh.startedAt]).toEqual([state.host.nspawnPid, state.mirror.pid, state.startedAt]);
  expect(fresh.cluster.port).toBe(state.cluster.port);
  expect(await namespaceNames(client)).toContain('default'); // the kubeconfig loaded before still works
  expect((await labCommand('status', env)).code).toBe(0);

  const down = await labCommand('down', env);
  expect(down.code, down.stderr).toBe(0);
  expect(await isAlive(fresh.cluster.pid)).toBe(false);
  expect(await clusterProcessesUnder(dir)).toEqual([]);
  expect(await processesUsing(dir)).toEqual([]);
  await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  // The suite's lab cluster was not touched.
  expect(await namespaceNames(adminClient(lab))).toContain('default');

  const t = state.timings;
  console.log(
    [
      'lab cluster timings:',
      `  up (\`lab:up\` command): ${seconds(first.ms)}s; in-process ${seconds(t.totalMs)}s, of which the cluster branch ${seconds(t.clusterMs ?? 0)}s beside boot ${seconds(t.bootMs)}s and mirror ${seconds(t.mirrorMs)}s`,
      `  up again (already up): ${seconds(again.ms)}s`,
      `  up replacing a dead cluster: ${seconds(replaced.ms)}s (cluster ${seconds(fresh.timings.clusterMs ?? 0)}s)`,
      `  down (\`lab:down\` command): ${seconds(down.ms)}s`,
    ].join('\n'),
  );
}

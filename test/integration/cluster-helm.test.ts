// The helm service with the real helm v3 (built by the lab from its Go module) against a real
// Kubernetes control plane (test/support/test-cluster.ts, with a kwok Node so that pods become Ready):
// output streamed line by line, ESO's real chart installed with --wait from a chart repository served
// over HTTPS with its own CA (repo add --ca-file), failures, timeouts, aborts and a missing helm as
// UserErrors.
// https://helm.sh/docs/helm/helm_upgrade/
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAbortError, UserError } from '../../source/core/errors.js';
import { findHelm, Helm, HELM_INSTALL_HINT, type HelmStream } from '../../source/services/helm.js';
import { buildEsoChartRepository } from '../lab/kube/eso-chart.js';
import { CHARTS, startMirror, type RunningMirror } from '../lab/mirror/server.js';
import { ensureMirrorTls, readMirrorTls, type MirrorTls } from '../lab/mirror/tls.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let dir: string;
let plane: TestCluster;
let binDir: string;
let mirror: RunningMirror;
let tls: MirrorTls;
let repositoryUrl: string;
let chartVersion: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-helm-'));
  // kwok registers Node pi-lab and runs pods to Ready: helm's --wait has Deployments to wait for.
  plane = await startTestCluster({ nodes: ['pi-lab'] });
  binDir = join(dir, 'bin');
  await mkdir(binDir);
  await symlink(plane.programs.helm3, join(binDir, 'helm'));
  await mkdir(join(dir, 'empty-bin'));
  // ESO's own chart, packaged as its release does, in a repository served over HTTPS with a CA of
  // its own (as a private mirror would be).
  const repository = join(dir, 'mirror', CHARTS, 'external-secrets');
  await mkdir(repository, { recursive: true });
  chartVersion = (await buildEsoChartRepository(repository, plane.programs.helm3)).version;
  tls = await ensureMirrorTls(join(dir, 'mirror-tls'));
  mirror = await startMirror({ root: join(dir, 'mirror'), host: '127.0.0.1', port: 0, https: { port: 0, ...(await readMirrorTls(tls)) } });
  repositoryUrl = `${mirror.httpsUrl}/${CHARTS}/external-secrets`;
}, 180_000);

afterAll(async () => {
  await mirror?.close();
  await plane?.close();
  await rm(dir, { recursive: true, force: true });
});

function helmEnv(pathDirs: string[]): NodeJS.ProcessEnv {
  // node's own directory (/usr/bin here) stays on PATH: the hanging stand-in below runs `sleep`.
  const nodeDir = process.execPath.slice(0, process.execPath.lastIndexOf('/'));
  return { PATH: [...pathDirs, nodeDir].join(':'), HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_CACHE_HOME: join(dir, 'xdg-cache'), XDG_DATA_HOME: join(dir, 'xdg-data') };
}

function helmWith(lines: { line: string; stream: HelmStream }[], signal?: AbortSignal): Helm {
  return Helm.locate({ kubeconfigPath: plane.kubeconfigPath, context: 'default', env: helmEnv([binDir]), onLine: (line, stream) => lines.push({ line, stream }), ...(signal ? { signal } : {}) });
}

describe('helm service', () => {
  it('finds helm on PATH; a missing helm is a UserError with the install command', () => {
    expect(findHelm(helmEnv([join(dir, 'empty-bin'), binDir]))).toBe(join(binDir, 'helm'));
    expect(findHelm(helmEnv([join(dir, 'empty-bin')]))).toBeUndefined();
    let error: unknown;
    try {
      Helm.locate({ kubeconfigPath: plane.kubeconfigPath, context: 'default', env: helmEnv([join(dir, 'empty-bin')]), onLine: () => undefined });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('helm was not found on PATH');
    expect((error as UserError).hint).toBe(HELM_INSTALL_HINT);
  });

  it('a failing command is a UserError quoting helm\'s error, its output streamed', async () => {
    const lines: { line: string; stream: HelmStream }[] = [];
    const failure = await helmWith(lines).upgradeInstall({ release: 'external-secrets', chart: 'external-secrets/external-secrets', namespace: 'external-secrets' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).message).toBe('helm upgrade --install external-secrets external-secrets/external-secrets --namespace external-secrets --create-namespace failed (exit 1): Error: repo external-secrets not found');
    // The real helm 3 (cmd/helm/upgrade.go) says on stdout that it is installing before it looks the
    // chart up; the retired shim printed only the error.
    expect(lines).toEqual([
      { line: 'Release "external-secrets" does not exist. Installing it now.', stream: 'stdout' },
      { line: 'Error: repo external-secrets not found', stream: 'stderr' },
    ]);
  });

  it('repo add (with the repository\'s CA), repo update, upgrade --install --wait: the ESO controller is ready, every output line reached the log in order', async () => {
    const lines: { line: string; stream: HelmStream }[] = [];
    const helm = helmWith(lines);
    await helm.repoAdd('external-secrets', repositoryUrl, { caFile: tls.caFile });
    await helm.repoUpdate();
    const installStart = lines.length;
    const result = await helm.upgradeInstall({ release: 'external-secrets', chart: 'external-secrets/external-secrets', namespace: 'external-secrets', set: { installCRDs: 'true' }, waitSeconds: 120 });
    expect(result.stdout).toMatch(/^Release "external-secrets" does not exist\. Installing it now\.\nNAME: external-secrets\n/);
    const streamed = lines.slice(installStart).filter((l) => l.stream === 'stdout').map((l) => `${l.line}\n`).join('');
    expect(streamed).toBe(result.stdout);
    expect(lines.map((l) => l.line)).toEqual(expect.arrayContaining(['"external-secrets" has been added to your repositories', 'STATUS: deployed', 'REVISION: 1']));
    const deployment = await plane.objects.read<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'external-secrets', namespace: 'external-secrets' } });
    expect(deployment.status?.readyReplicas).toBe(1);
    expect(deployment.metadata?.labels?.['app.kubernetes.io/version']).toBe(`v${chartVersion}`);
    const again = await helm.upgradeInstall({ release: 'external-secrets', chart: 'external-secrets/external-secrets', namespace: 'external-secrets', set: { installCRDs: 'true' }, waitSeconds: 120 });
    expect(again.stdout).toMatch(/^Release "external-secrets" has been upgraded\. Happy Helming!\n.*REVISION: 2\n/s);
  }, 300_000);

  it('an aborted run rejects with the abort once helm has exited (SIGTERM, so that helm can record its release first)', async () => {
    const controller = new AbortController();
    const running = helmWith([], controller.signal).run(['version']);
    controller.abort();
    const error = await running.catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
  });

  it('a helm that never finishes (an API that accepts and never answers) is stopped after the wall-clock limit, with a message saying so', async () => {
    // A stand-in that hangs like helm waiting on such an API; what is tested is the product's limit.
    const hangingDir = join(dir, 'hanging-bin');
    await mkdir(hangingDir, { recursive: true });
    const marker = join(dir, 'hanging-started');
    await writeFile(join(hangingDir, 'helm'), `#!/bin/sh\necho "$$" > '${marker}'\necho "waiting for the API"\nexec sleep 60\n`, { mode: 0o755 });
    const lines: { line: string; stream: HelmStream }[] = [];
    const helm = Helm.locate({ kubeconfigPath: plane.kubeconfigPath, context: 'default', env: helmEnv([hangingDir]), onLine: (line, stream) => lines.push({ line, stream }) });
    const started = Date.now();
    const error = await helm.run(['repo', 'update'], 1000).catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('helm repo update did not finish within 1 s and was stopped');
    expect((error as UserError).hint).toContain('kubectl --context default get --raw /readyz');
    expect(lines).toEqual([{ line: 'waiting for the API', stream: 'stdout' }]);
    // The process is gone, not left behind.
    const pid = Number((await readFile(marker, 'utf8')).trim());
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

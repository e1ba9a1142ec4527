/**
 * The fault-injection harness: lab hosts in lanes, the faults to inject, the end state of a host
 * (the snapshot two runs must agree on) and the proof that the keys in custody still open Vault.
 *
 * Faults (per step of the full setup, the list read from `plan --offline --json`, so every
 * registered phase takes part):
 *  - before-apply / mid-apply / after-apply: the CLI SIGKILLs itself at that point of the step
 *    (the runner's test hook, PICLUSTER_VAULT_TUI_TEST_FAULT, see source/core/runner.ts);
 *  - ssh-cut: the host-side sshd processes of the CLI's SSH connection are SIGKILLed while a command
 *    of that step runs under them (a dropped Wi-Fi link, as far as both ends can tell).
 * After each fault a plain `setup --yes` must converge to the snapshot of an uninterrupted run.
 *
 * Host and cluster steps start from a fresh lab instance (a bare host and an empty cluster, ~3 s).
 * Vault steps reuse a lane's host that already converged, with Vault's state wiped (stopped, its
 * storage emptied, the auto-unseal files removed, the init answer and tokens removed from custody):
 * to the vault phase that is a Vault that was never initialized. The host phase is left as it was.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sh } from '../../../source/services/host/shell-quote.js';
import { describeResult, type CliSession, type CliInfo, type CliResult, type RunningCli, type SetupSummary, type StepSummary } from '../support/cli.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createLabLog } from '../../lab/host/log.js';
import { labDown, labUp, readLabFile } from '../../lab/lab.js';
import { LabHostShell } from '../support/host.js';
import type { FreshLab } from '../support/labs.js';
import type { PinnedCli } from './pinned-cli.js';
import { VaultHttp } from '../support/vault-api.js';
import { phaseSnapshot, serverPaths } from '../support/vault-host.js';
import { e2eServer, labProfileFile } from '../support/server.js';

export const FAULT_ENV = 'PICLUSTER_VAULT_TUI_TEST_FAULT';
export const SETUP = ['setup', '--yes', '--json'];
export const RUN_TIMEOUT_MS = 180_000;
/** The server these suites set up (PVT_E2E_SERVER; Vault unless it says openbao) and where its files are. */
export const SERVER = e2eServer();
export const PATHS = serverPaths(SERVER);
const KEYS_FILE = PATHS.keysFile;
const VAULT_UNIT = PATHS.unit;
const UNSEAL_UNIT = SERVER.unsealUnit;
const UNSEAL_UNIT_FILE = SERVER.unsealUnitFile;
const UNSEAL_SCRIPT_FILE = SERVER.unsealScriptFile;

export type FaultKind = 'before-apply' | 'mid-apply' | 'after-apply' | 'ssh-cut';
export const FAULT_KINDS: readonly FaultKind[] = ['before-apply', 'mid-apply', 'after-apply', 'ssh-cut'];

export interface FaultJob {
  step: StepSummary;
  kind: FaultKind;
}

/**
 * Which faults this run injects. `PVT_FAULTS=all`: every kind at every step. `PVT_FAULTS=id:kind,...`:
 * exactly those (to reproduce one). Otherwise one kind per step, rotated by a seed
 * (PVT_FAULT_SEED, default the day number) so successive CI runs cover the whole matrix.
 */
export function selectFaults(steps: readonly StepSummary[], env: NodeJS.ProcessEnv): { jobs: FaultJob[]; mode: string; seed: number } {
  const setting = env['PVT_FAULTS']?.trim() ?? '';
  const seed = env['PVT_FAULT_SEED'] ? Number(env['PVT_FAULT_SEED']) : Math.floor(Date.now() / 86_400_000);
  if (setting === 'all') return { jobs: steps.flatMap((step) => FAULT_KINDS.map((kind) => ({ step, kind }))), mode: 'all', seed };
  if (setting !== '') {
    const jobs = setting.split(',').map((item) => {
      const [id, kind] = item.trim().split(/:(?=[a-z-]+$)/);
      const step = steps.find((candidate) => candidate.id === id);
      if (!step || !FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`PVT_FAULTS: "${item}" is not <step id>:<${FAULT_KINDS.join('|')}> (steps: ${steps.map((s) => s.id).join(', ')})`);
      return { step, kind: kind as FaultKind };
    });
    return { jobs, mode: 'listed', seed };
  }
  const jobs = steps.map((step, index) => ({ step, kind: FAULT_KINDS[(index + seed) % FAULT_KINDS.length]! }));
  // Shuffled by the seed: when the time budget cuts the list short, other steps are cut each day.
  let state = seed >>> 0 || 1;
  const random = (): number => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
  for (let index = jobs.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [jobs[index], jobs[other]] = [jobs[other]!, jobs[index]!];
  }
  return { jobs, mode: 'one kind per step', seed };
}

/** A lab host and the CLI user whose profile points at it. */
export interface LabEnv {
  lab: FreshLab;
  session: CliSession;
  info: CliInfo;
}

/**
 * Lanes run faults side by side, each on its own lab instance. A lane keeps the host of its last
 * job (converged, fully set up) for the next vault-step fault, and brings a fresh one for the rest.
 */
export class Lanes {
  private readonly labs = new LabPool();
  private readonly sessions: CliSession[] = [];
  private readonly idle: Lane[] = [];
  private readonly waiting: ((lane: Lane) => void)[] = [];
  private labCount = 0;

  constructor(
    count: number,
    private readonly cli: PinnedCli,
  ) {
    for (let index = 0; index < count; index++) this.idle.push({ index });
  }

  get labsStarted(): number {
    return this.labCount;
  }

  async withLane<T>(work: (lane: Lane) => Promise<T>): Promise<T> {
    const lane = this.idle.shift() ?? (await new Promise<Lane>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(lane);
    } finally {
      const next = this.waiting.shift();
      if (next) next(lane);
      else this.idle.push(lane);
    }
  }

  /** A bare lab host and a new CLI user with its profile; the lane's previous host is stopped. */
  async fresh(lane: Lane, label: string): Promise<LabEnv> {
    if (lane.current) await this.retire(lane.current);
    lane.current = undefined;
    const lab = await this.labs.up(`${label}-${++this.labCount}`);
    const session = await this.cli.session(`faults-${label}`);
    this.sessions.push(session);
    // The lab's helm first on PATH, with its repositories and cache in the user's home.
    session.env['PATH'] = `${lab.state.helmBinDir}:${session.env['PATH'] ?? ''}`;
    session.env['XDG_CACHE_HOME'] = path.join(session.home, 'cache');
    await session.ok(['profile', 'import', labProfileFile(lab.state, SERVER)]);
    const env: LabEnv = { lab, session, info: await session.info() };
    lane.current = env;
    return env;
  }

  private readonly retiring: Promise<void>[] = [];

  /** Stopped in the background: the lane goes on with its next host meanwhile. */
  private async retire(env: LabEnv): Promise<void> {
    const stopping = this.labs.down(env.lab.name);
    stopping.catch(() => undefined);
    this.retiring.push(stopping);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.dispose()));
    await Promise.allSettled(this.retiring);
    await this.labs.downAll();
  }
}

/** Lab instances, each in its own LAB_DIR under /tmp, stopped one by one or all at the end. */
class LabPool {
  private readonly dirs = new Map<string, string>();

  /** One retry: on a loaded machine an instance can miss a start deadline (that is the lab's failure, not the product's). */
  async up(name: string): Promise<FreshLab> {
    try {
      return await this.upOnce(name);
    } catch {
      return this.upOnce(`${name}-retry`);
    }
  }

  private async upOnce(name: string): Promise<FreshLab> {
    const parent = await mkdtemp(path.join(tmpdir(), `pvt-faults-lab-${name}-`));
    const dir = path.join(parent, 'lab');
    this.dirs.set(name, dir);
    const lines: string[] = [];
    const begin = Date.now();
    try {
      const { state } = await labUp({ dir, log: createLabLog((text) => void lines.push(text)) });
      return { name, state, host: new LabHostShell(state), upMs: Date.now() - begin };
    } catch (error) {
      throw new Error(`lab instance "${name}" did not come up: ${(error as Error).message}\n${lines.join('')}`);
    }
  }

  async down(name: string): Promise<void> {
    const dir = this.dirs.get(name);
    if (dir === undefined) return;
    this.dirs.delete(name);
    if (await readLabFile(dir)) await labDown({ dir, log: createLabLog(() => undefined) });
    await rm(path.dirname(dir), { recursive: true, force: true });
  }

  async downAll(): Promise<void> {
    const results = await Promise.allSettled([...this.dirs.keys()].map((name) => this.down(name)));
    const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed.length > 0) throw new Error(`could not stop every lab instance: ${failed.map((f) => String(f.reason)).join('; ')}`);
  }
}

export interface Lane {
  index: number;
  /** The host of the lane's last job, converged. */
  current?: LabEnv;
}

/** Runs the full setup; `fault` sets the runner's hook for this run only. */
export function startSetup(env: LabEnv, fault?: string): RunningCli {
  return env.session.start(SETUP, fault === undefined ? {} : { [FAULT_ENV]: fault });
}

export async function finish(running: RunningCli, timeoutMs = RUN_TIMEOUT_MS): Promise<CliResult> {
  const timer = setTimeout(() => {
    running.stderr += `\n[test] killed after ${timeoutMs} ms without exiting\n`;
    void running.kill();
  }, timeoutMs);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function parseSummary(result: CliResult): SetupSummary | undefined {
  try {
    return JSON.parse(result.stdout) as SetupSummary;
  } catch {
    return undefined;
  }
}

export function stepsLine(steps: readonly StepSummary[]): string {
  return steps.map((step) => `${step.id}=${step.state}${step.outcome ? `/${step.outcome}` : ''}${step.error ? ` (${step.error})` : ''}`).join(', ');
}

/** `[i/M] Title ...`: printed when the step starts to apply. */
export function applyStartLine(step: StepSummary): RegExp {
  return new RegExp(`^\\[\\d+/\\d+\\] ${escapeRegExp(step.title)} \\.\\.\\.$`);
}

/** `[i/M] Title: done (...)`, `: failed ...` etc.: the step is over. */
export function stepEndLine(step: StepSummary): RegExp {
  return new RegExp(`^\\[\\d+/\\d+\\] ${escapeRegExp(step.title)}: `);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Log lines each step wrote (info and above, from the step itself) in a run's log file: the
 * mid-apply fault dies at the middle one.
 */
export async function logLinesPerStep(logFile: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    const match = /^\S+ (?:INFO|WARN|ERROR) +\[([a-z][a-z0-9.-]*)(?:\/([a-z-]+))?\] /.exec(line);
    if (!match || match[2] === 'runner') continue;
    counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The cut SSH connection

/** pids of the sshd processes serving the CLI's connection(s) to the lab host (the lab shares this machine's network). */
export async function sshdProcessesOf(cliPid: number, sshPort: number): Promise<number[]> {
  const { execFileSync } = await import('node:child_process');
  const established = (filter: string): string => execFileSync('ss', ['-tnpH', 'state', 'established', filter], { encoding: 'utf8' });
  const clientPorts = established(`( dport = :${sshPort} )`)
    .split('\n')
    .filter((line) => line.includes(`pid=${cliPid},`))
    .map((line) => Number(/:(\d+)\s+\S+:\d+\s/.exec(line)?.[1]))
    .filter((port) => Number.isInteger(port) && port > 0);
  const pids = new Set<number>();
  for (const port of clientPorts) {
    for (const match of established(`( sport = :${sshPort} and dport = :${port} )`).matchAll(/"sshd[^"]*",pid=(\d+)/g)) pids.add(Number(match[1]));
  }
  return [...pids];
}

/** Every descendant of a process that is not itself an sshd (i.e. the commands run on the connection). */
async function commandsUnder(pids: readonly number[]): Promise<number[]> {
  const found: number[] = [];
  const queue = [...pids];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    for (const child of children.split(/\s+/).filter(Boolean).map(Number)) {
      const comm = (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim();
      if (comm !== 'sshd' && comm !== '') found.push(child);
      queue.push(child);
    }
  }
  return found;
}

export interface SshCut {
  /** The step that was applying when the connection was cut. */
  cutDuring: string;
  /** Whether a command of the step was running on the connection at that instant. */
  commandRunning: boolean;
  sshdKilled: number;
}

/**
 * Waits for the step to start applying, then polls (every 10 ms, from /proc) until a command runs
 * under the CLI's SSH session and SIGKILLs that session's sshd processes. If the step ends without a
 * command caught in flight, the connection is cut at its end (reported as such).
 */
export async function cutSshDuring(running: RunningCli, step: StepSummary, sshPort: number, hostPidNamespace: string | undefined): Promise<SshCut> {
  const started = await running.waitForStderrLine(applyStartLine(step), RUN_TIMEOUT_MS);
  let ended = false;
  void running.waitForStderrLine(stepEndLine(step), RUN_TIMEOUT_MS, started.end).then(
    () => (ended = true),
    () => (ended = true),
  );
  let sshd = await sshdProcessesOf(running.pid, sshPort);
  let commandRunning = false;
  const deadline = Date.now() + 60_000;
  while (!ended && Date.now() < deadline) {
    if (sshd.length === 0) sshd = await sshdProcessesOf(running.pid, sshPort);
    if (sshd.length > 0 && (await commandsUnder(sshd)).length > 0) {
      commandRunning = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (sshd.length === 0) sshd = await sshdProcessesOf(running.pid, sshPort);
  let killed = 0;
  for (const pid of sshd) {
    // Only processes of the lab host (its own pid namespace), never one of this machine.
    const namespace = await import('node:fs/promises').then(({ readlink }) => readlink(`/proc/${pid}/ns/pid`).catch(() => undefined));
    if (hostPidNamespace !== undefined && namespace !== hostPidNamespace) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone already
    }
  }
  return { cutDuring: step.id, commandRunning, sshdKilled: killed };
}

// ---------------------------------------------------------------------------------------------
// Resetting Vault on a converged host

/** Wipes Vault's state on a host that ran the full setup, so the vault phase starts from an uninitialized Vault. */
export async function resetVault(env: LabEnv): Promise<void> {
  const { host } = env.lab;
  await host.sudo(
    [
      sh`systemctl disable --now ${UNSEAL_UNIT} 2>/dev/null || :`,
      sh`rm -f -- ${UNSEAL_UNIT_FILE} ${UNSEAL_SCRIPT_FILE} ${KEYS_FILE}`,
      `rm -f -- ${PATHS.configDir}/policy/*`,
      'systemctl daemon-reload',
      sh`systemctl stop ${VAULT_UNIT}`,
      sh`find ${PATHS.dataDir} -mindepth 1 -delete`,
      sh`systemctl start ${VAULT_UNIT}`,
    ].join(' && '),
  );
  for (const name of await readdir(env.info.custodyDir)) {
    if (!/^(ca\.crt|ca\.key)$/.test(name)) await rm(path.join(env.info.custodyDir, name), { force: true });
  }
  const vault = await vaultOf(env);
  const health = await vault.waitForHealth(501, 30_000);
  if (health.status !== 501) throw new Error(`Vault did not come back uninitialized after the reset (sys/health ${health.status})`);
}

// ---------------------------------------------------------------------------------------------
// The end state

export async function vaultOf(env: LabEnv): Promise<VaultHttp> {
  const ca = await readFile(path.join(env.info.custodyDir, 'ca.crt'), 'utf8');
  return new VaultHttp(`https://127.0.0.1:${env.lab.state.vaultApiPort}`, ca);
}

interface InitRecord {
  keys: string[];
  keys_base64: string[];
  root_token: string;
  shares: number;
  threshold: number;
}

export async function initRecord(env: LabEnv): Promise<InitRecord> {
  return JSON.parse(await readFile(path.join(env.info.custodyDir, 'init.json'), 'utf8')) as InitRecord;
}

export type Snapshot = Record<string, unknown>;

/** What two converged hosts must agree on, with per-instance values (ports, keys, CA, ids) normalized. */
export async function endState(env: LabEnv, withCluster: boolean): Promise<Snapshot> {
  const { host, state } = env.lab;
  const ports = { apiPort: state.vaultApiPort, clusterPort: state.vaultClusterPort };
  const normalize = (text: string): string =>
    text
      .replaceAll(String(ports.apiPort), '<api-port>')
      .replaceAll(String(ports.clusterPort), '<cluster-port>')
      .replaceAll(String(state.cluster.port), '<k8s-port>')
      // The API fault suite's lanes reach the API through the lab's fault proxy (its own port).
      .replaceAll(state.cluster.faultProxy ? new URL(state.cluster.faultProxy.url).port : '<no-proxy>', '<k8s-proxy-port>')
      .replaceAll(env.session.home, '<home>');
  const phase = await phaseSnapshot(host, ports, PATHS);
  // The service step's record names the Vault invocation it started; kept apart, because a restart
  // the test itself makes (a reset, the restart fault) changes it without the product being at fault.
  const inputsFile = PATHS.serviceInputsFile;
  const inputs = phase.texts[inputsFile]?.split('\n') ?? [];
  const serviceInvocation = inputs[0] ?? 'no record';
  if (phase.texts[inputsFile] !== undefined) phase.texts[inputsFile] = inputs.slice(1).join('\n');
  const record = await initRecord(env);
  // The keys file on the host: its content is this Vault's keys, which must be the ones in custody.
  if (phase.texts[KEYS_FILE] !== undefined) {
    const onHost = JSON.parse(await host.readFile(KEYS_FILE)) as { keys?: string[]; threshold?: number };
    phase.texts[KEYS_FILE] = `keys ${JSON.stringify(onHost.keys) === JSON.stringify(record.keys) ? 'are the custody keys' : 'DIFFER from custody'}, threshold ${onHost.threshold}`;
  }
  const unsealFiles: Record<string, string> = {};
  for (const file of [UNSEAL_SCRIPT_FILE, UNSEAL_UNIT_FILE]) {
    const listing = await host.list([file]);
    unsealFiles[file] = listing.length === 0 ? 'missing' : `${listing[0]!.owner}:${listing[0]!.group} ${listing[0]!.mode} ${normalize(await host.readFile(file))}`;
  }

  const vault = await vaultOf(env);
  const token = record.root_token;
  const seal = await vault.sealStatus();
  const mounts = (await vault.request({ path: 'sys/mounts', token })).json as { data?: Record<string, { type: string; options?: Record<string, string> | null }> };
  const auth = (await vault.request({ path: 'sys/auth', token })).json as { data?: Record<string, { type: string }> };
  const policyNames = ((await vault.request({ method: 'LIST', path: 'sys/policies/acl', token })).json as { data?: { keys?: string[] } }).data?.keys ?? [];
  const policies: Record<string, string | undefined> = {};
  for (const name of [...policyNames].sort()) policies[name] = await vault.policy(name, token);
  const tokens: Record<string, string> = {};
  const tokensText = await readFile(path.join(env.info.custodyDir, 'tokens.json'), 'utf8').catch(() => undefined);
  if (tokensText) {
    const issued = (JSON.parse(tokensText) as { tokens: Record<string, { token: string }> }).tokens;
    for (const [name, { token: value }] of Object.entries(issued)) {
      const lookup = await vault.request({ path: 'auth/token/lookup-self', token: value });
      const data = (lookup.json as { data?: { policies?: string[] } } | undefined)?.data;
      tokens[name] = lookup.status === 200 ? `valid, policies ${[...(data?.policies ?? [])].sort().join(',')}` : `lookup-self ${lookup.status}`;
    }
  }
  const kubernetesAuth: Record<string, unknown> = {};
  for (const [mount, { type }] of Object.entries(auth.data ?? {})) {
    if (type !== 'kubernetes') continue;
    const roles = ((await vault.request({ method: 'LIST', path: `auth/${mount}role`, token })).json as { data?: { keys?: string[] } } | undefined)?.data?.keys ?? [];
    const config = (await vault.request({ path: `auth/${mount}config`, token })).json as { data?: Record<string, unknown> } | undefined;
    kubernetesAuth[mount] = { roles: [...roles].sort(), host: normalize(String(config?.data?.['kubernetes_host'] ?? '')) };
  }

  const custody = (await readdir(env.info.custodyDir)).filter((name) => !name.includes('.bak-')).sort();
  return {
    host: { ...phase, texts: Object.fromEntries(Object.entries(phase.texts).map(([file, text]) => [file, normalize(text)])) },
    serviceInvocation,
    unsealFiles,
    units: { vault: await host.unitState(VAULT_UNIT), 'vault-unseal': await host.unitState(UNSEAL_UNIT) },
    vault: {
      seal: { initialized: seal.initialized, sealed: seal.sealed, n: seal.n, t: seal.t },
      mounts: Object.fromEntries(Object.entries(mounts.data ?? {}).map(([mount, info]) => [mount, `${info.type}${info.options?.['version'] ? ` v${info.options['version']}` : ''}`])),
      auth: Object.fromEntries(Object.entries(auth.data ?? {}).map(([mount, info]) => [mount, info.type])),
      policies,
      kubernetesAuth,
    },
    tokens,
    custody,
    ...(withCluster ? { cluster: await clusterObjects(env, normalize) } : {}),
  };
}

/** Objects of the kinds the cluster phase works with, normalized (no uids, versions, times, secret values). */
async function clusterObjects(env: LabEnv, normalize: (text: string) => string): Promise<Record<string, unknown>> {
  const config = new k8s.KubeConfig();
  config.loadFromFile(env.lab.state.cluster.kubeconfig);
  config.setCurrentContext(env.lab.state.cluster.context);
  const api = config.makeApiClient(k8s.KubernetesObjectApi);
  const kinds: [string, string][] = [
    ['v1', 'Namespace'],
    ['v1', 'ServiceAccount'],
    ['v1', 'Secret'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
    ['apps/v1', 'Deployment'],
    ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
    ['external-secrets.io/v1', 'ClusterSecretStore'],
    ['external-secrets.io/v1', 'ExternalSecret'],
  ];
  const objects: Record<string, unknown> = {};
  for (const [apiVersion, kind] of kinds) {
    try {
      const list = await api.list(apiVersion, kind);
      objects[kind] = list.items
        .map((item) => {
          const meta = item.metadata ?? {};
          const body = item as unknown as Record<string, unknown>;
          // helm stamps its release records with the time (modifiedAt): not part of the state.
          const { modifiedAt: _time, ...labels } = meta.labels ?? {};
          const shown: Record<string, unknown> = { name: `${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}`, labels };
          if (kind === 'Secret') shown['content'] = `${String(body['type'])} keys ${Object.keys((body['data'] as object | undefined) ?? {}).sort().join(',')}`;
          else if (kind === 'CustomResourceDefinition' || kind === 'Namespace' || kind === 'ServiceAccount') shown['content'] = '';
          else shown['content'] = normalize(JSON.stringify({ spec: body['spec'], roleRef: body['roleRef'], subjects: body['subjects'] })).replace(/"[A-Za-z0-9+/=]{200,}"/g, '"<base64>"');
          return shown;
        })
        .sort((a, b) => String(a['name']).localeCompare(String(b['name'])));
    } catch (error) {
      objects[kind] = `not listed: ${(error as { code?: number }).code ?? (error as Error).message}`;
    }
  }
  return objects;
}

/** Differences between two snapshots, as `path: reference → actual` lines. */
export function differences(reference: unknown, actual: unknown, at = ''): string[] {
  if (JSON.stringify(reference) === JSON.stringify(actual)) return [];
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (isObject(reference) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(reference), ...Object.keys(actual)])].sort();
    return keys.flatMap((key) => differences(reference[key], actual[key], at ? `${at}.${key}` : key));
  }
  return [`${at}: ${JSON.stringify(reference)} → ${JSON.stringify(actual)}`];
}

/**
 * Keys lost? Seal Vault with the root token from custody, then unseal it with `threshold` keys from
 * custody: both succeed only if init.json still holds this Vault's keys and token. Returns the
 * problem, or undefined when the keys open Vault.
 */
export async function keysOpenVault(env: LabEnv): Promise<string | undefined> {
  let record: InitRecord;
  try {
    record = await initRecord(env);
  } catch (error) {
    return `custody init.json unreadable: ${(error as Error).message}`;
  }
  const vault = await vaultOf(env);
  const sealed = await vault.request({ method: 'PUT', path: 'sys/seal', token: record.root_token });
  if (sealed.status !== 204 && sealed.status !== 200) return `sys/seal with the custody root token answered ${sealed.status}`;
  for (const key of record.keys.slice(0, record.threshold)) {
    const answer = await vault.request({ method: 'PUT', path: 'sys/unseal', body: { key } });
    if (answer.status !== 200) return `sys/unseal with a custody key answered ${answer.status}: ${answer.raw.toString('utf8')}`;
  }
  const status = await vault.sealStatus();
  return status.sealed ? 'still sealed after the custody keys' : undefined;
}

export { describeResult };

/**
 * What the cluster-phase end-to-end suites share: a fresh lab (host, Vault, the real Kubernetes
 * with ESO) with a CLI session whose profile is the lab's, and the administrator's view of it —
 * kubectl with the lab kubeconfig, the lab's helm, Vault's HTTP API with the root token from custody.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../lab/host/process.js';
import { CliSession, describeResult, type CliInfo, type CliResult, type SetupSummary, type StepSummary } from './cli.js';
import { FreshLabs, type FreshLab } from './labs.js';
import { VaultHttp } from './vault-api.js';

export const RUN_TIMEOUT_MS = 180_000;
export const CLUSTER_STEPS = ['cluster.preflight', 'cluster.reviewer-account', 'cluster.auth-method', 'cluster.eso-install', 'cluster.eso-role', 'cluster.secret-store', 'cluster.verify'];
export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((file) => existsSync(file));
/** A PATH with node and the system tools but no helm (the CLI's bin script runs on node). */
export const PATH_WITHOUT_HELM = [path.dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');

export interface ClusterSetup {
  lab: FreshLab;
  session: CliSession;
  info: CliInfo;
  /** PATH with the lab's helm first. */
  helmPath: string;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Fresh labs with a CLI session each; `dispose` ends them all. */
export class ClusterLabs {
  private readonly labs = new FreshLabs();
  private readonly sessions: CliSession[] = [];

  /**
   * Lab instance `name` (started on first use) and a new CLI session with the lab's profile for
   * `server` imported: Vault (the lab's Vault) or OpenBao (the real OpenBao server).
   */
  async prepare(name: string, options: { server?: 'vault' | 'openbao' } = {}): Promise<ClusterSetup> {
    const lab = await this.labs.get(name);
    const session = await CliSession.create(`cluster-${name}`);
    this.sessions.push(session);
    await session.ok(['profile', 'import', options.server === 'openbao' ? lab.state.profileOpenBaoFile : lab.state.profileFile]);
    const info = await session.info();
    if (helmOnPath(PATH_WITHOUT_HELM)) throw new Error(`helm is installed on this machine (${PATH_WITHOUT_HELM}): the no-helm cases cannot run`);
    return { lab, session, info, helmPath: `${lab.state.helmBinDir}:${PATH_WITHOUT_HELM}` };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.dispose()));
    await this.labs.downAll();
  }
}

export function helmOnPath(searchPath: string): boolean {
  return searchPath.split(':').some((dir) => existsSync(path.join(dir, 'helm')));
}

export function kubectl(lab: FreshLab, args: readonly string[], input?: string): Promise<KubectlResult> {
  if (!KUBECTL) throw new Error('kubectl is not installed (apt-get install kubernetes-client)');
  return new Promise((resolve, reject) => {
    // A bounded request time, and a kill after 90 s: a stuck call fails with what it printed instead of hanging the test.
    const child = spawn(KUBECTL, ['--kubeconfig', lab.state.cluster.kubeconfig, '--request-timeout=30s', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 90_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, stdout, stderr: signal ? `${stderr}\n[test] kubectl killed by ${signal}` : stderr }));
    child.stdin.end(input ?? '');
  });
}

export async function kubectlOk(lab: FreshLab, args: readonly string[], input?: string): Promise<string> {
  const result = await kubectl(lab, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** The environment for the lab's real helm with its state in `home` (a temp dir of the test's own). */
export function helmEnvironment(s: ClusterSetup, home: string): NodeJS.ProcessEnv {
  return { PATH: s.helmPath, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_CACHE_HOME: path.join(home, 'cache'), XDG_DATA_HOME: path.join(home, 'data') };
}

/** The lab's real helm (v3), with its state in a temp dir of the test's own. */
export async function helm(s: ClusterSetup, args: readonly string[]): Promise<string> {
  const env = helmEnvironment(s, path.join(s.session.home, 'helm-admin'));
  return (await run(path.join(s.lab.state.helmBinDir, 'helm'), args, { env, timeoutMs: 60_000 })).stdout;
}

/** Runs the CLI with `--json` and parses the summary it prints. */
export async function setup(s: ClusterSetup, args: readonly string[], env: NodeJS.ProcessEnv = { PATH: s.helmPath }, timeoutMs = RUN_TIMEOUT_MS): Promise<{ result: CliResult; summary: SetupSummary }> {
  const result = await s.session.run([...args, '--json'], timeoutMs, env);
  let summary: SetupSummary;
  try {
    summary = JSON.parse(result.stdout) as SetupSummary;
  } catch {
    throw new Error(`no JSON summary:\n${describeResult(args, result)}`);
  }
  return { result, summary };
}

export function stepOf(summary: { steps: StepSummary[] }, id: string): StepSummary {
  const found = summary.steps.find((step) => step.id === id);
  if (!found) throw new Error(`no step ${id} in ${summary.steps.map((step) => step.id).join(', ')}`);
  return found;
}

export async function rootVault(s: ClusterSetup): Promise<{ vault: VaultHttp; token: string }> {
  const caPem = await readFile(path.join(s.info.custodyDir, 'ca.crt'), 'utf8');
  const init = JSON.parse(await readFile(path.join(s.info.custodyDir, 'init.json'), 'utf8')) as { root_token: string };
  return { vault: new VaultHttp(`https://127.0.0.1:${s.lab.state.vaultApiPort}`, caPem), token: init.root_token };
}

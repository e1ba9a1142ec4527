/**
 * Drives the built command line (`node bin/picluster-vault-tui.js`, i.e. dist/ from `npm run build`)
 * as a user would, headless: stdin is /dev/null and stdout/stderr are pipes, so the product never
 * renders the TUI and never finds a terminal to ask questions on. Every session has its own temp
 * XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME and HOME, removed by `dispose()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'picluster-vault-tui.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A readable rendering of a result, for assertion messages. */
export function describeResult(args: readonly string[], result: CliResult): string {
  return [`$ picluster-vault-tui ${args.join(' ')}`, `exit ${result.code ?? result.signal} after ${result.ms} ms`, '--- stdout', result.stdout.trimEnd(), '--- stderr', result.stderr.trimEnd()].join('\n');
}

/** A CLI process still running: its output so far, a way to wait for a line, and SIGKILL by its pid. */
export class RunningCli {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly child: ChildProcess,
    startedAt: number,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.wake();
    });
    this.exited = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - startedAt }));
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the CLI process did not start');
    return this.child.pid;
  }

  /**
   * Resolves when a complete (newline-terminated) stderr line that starts at or after offset `since`
   * matches; rejects when the process ends first or after `timeoutMs`, with everything it printed.
   * The answer's `end` is the offset just past that line, to wait for a later line from there.
   */
  waitForStderrLine(pattern: RegExp, timeoutMs: number, since = 0): Promise<StderrMatch> {
    const found = this.matchLine(pattern, since);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        settle();
      };
      const waiter: Waiter = { pattern, since, resolve: (match) => finish(() => resolve(match)) };
      const timer = setTimeout(() => finish(() => reject(new Error(`no stderr line matched ${pattern} within ${timeoutMs} ms; stderr so far:\n${this.stderr}`))), timeoutMs);
      void this.exited.then(
        (result) => finish(() => reject(new Error(`the CLI exited (${result.code ?? result.signal}) before a stderr line matched ${pattern}; stderr:\n${result.stderr}`))),
        () => undefined,
      );
      this.waiters.push(waiter);
    });
  }

  /** SIGKILL: no handler runs, nothing is saved or closed — a power cut as far as the CLI can tell. */
  async kill(): Promise<CliResult> {
    process.kill(this.pid, 'SIGKILL');
    return this.exited;
  }

  private matchLine(pattern: RegExp, since: number): StderrMatch | undefined {
    let offset = since;
    for (;;) {
      const newline = this.stderr.indexOf('\n', offset);
      if (newline < 0) return undefined;
      const line = this.stderr.slice(offset, newline);
      const match = line.match(pattern);
      if (match) return { line, match, end: newline + 1 };
      offset = newline + 1;
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      const found = this.matchLine(waiter.pattern, waiter.since);
      if (found) waiter.resolve(found);
    }
  }
}

export interface StderrMatch {
  line: string;
  match: RegExpMatchArray;
  /** Offset in stderr just past the matched line. */
  end: number;
}

interface Waiter {
  pattern: RegExp;
  since: number;
  resolve: (found: StderrMatch) => void;
}

/** One user of the product: its own config, data (custody) and state (logs) directories. */
export class CliSession {
  /** Every run of this user's CLI that ended (killed ones too), with all it printed: for secret-hygiene checks. */
  readonly transcript: { args: readonly string[]; result: CliResult }[] = [];

  private constructor(
    readonly home: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(label: string): Promise<CliSession> {
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it first)');
    const home = await mkdtemp(path.join(tmpdir(), `pvt-e2e-${label}-`));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'config'),
      XDG_DATA_HOME: path.join(home, 'data'),
      XDG_STATE_HOME: path.join(home, 'state'),
      // No ssh-agent of the test runner may authenticate for the product.
      SSH_AUTH_SOCK: '',
      NO_COLOR: '1',
      LANG: 'C.UTF-8',
    };
    return new CliSession(home, env);
  }

  /** Starts the CLI without waiting for it; `extraEnv` is added to this user's environment for this run only. */
  start(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): RunningCli {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: this.home, env: { ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    const running = new RunningCli(child, startedAt);
    running.exited.then(
      (result) => this.transcript.push({ args, result }),
      () => undefined,
    );
    return running;
  }

  /** Runs the CLI to the end; SIGKILLs it after `timeoutMs` (a hang is a failure the result shows). */
  async run(args: readonly string[], timeoutMs = 120_000, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const running = this.start(args, extraEnv);
    const timer = setTimeout(() => {
      running.stderr += `\n[test] killed after ${timeoutMs} ms without exiting\n`;
      process.kill(running.pid, 'SIGKILL');
    }, timeoutMs);
    try {
      return await running.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs the CLI and throws with its output unless it exits 0. */
  async ok(args: readonly string[], timeoutMs?: number): Promise<CliResult> {
    const result = await this.run(args, timeoutMs);
    if (result.code !== 0) throw new Error(`expected exit 0\n${describeResult(args, result)}`);
    return result;
  }

  /** Runs a command that prints JSON on stdout and parses it (whatever the exit code). */
  async json<T>(args: readonly string[], timeoutMs?: number): Promise<{ result: CliResult; data: T }> {
    const result = await this.run([...args, '--json'], timeoutMs);
    try {
      return { result, data: JSON.parse(result.stdout) as T };
    } catch {
      throw new Error(`stdout is not JSON\n${describeResult([...args, '--json'], result)}`);
    }
  }

  async info(): Promise<CliInfo> {
    return (await this.json<CliInfo>(['info'])).data;
  }

  async profile(): Promise<CliProfile> {
    const { result, data } = await this.json<CliProfile>(['profile', 'show']);
    if (result.code !== 0) throw new Error(`profile show failed\n${describeResult(['profile', 'show', '--json'], result)}`);
    return data;
  }

  async dispose(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

export interface CliInfo {
  profile: string;
  dataDir: string;
  custodyDir: string;
  logFile: string;
  profileFile: string;
}

/** The parts of `profile show --json` the tests read. */
export interface CliProfile {
  vault: { version: string; apiPort: number; clusterPort: number; nodeIp?: string };
  progress: Record<string, { state: string; at: string; error?: string }>;
  lastRun?: { mode: string; startedAt: string; endedAt?: string; result?: string; failedStep?: string };
}

/** One step in `setup --json` / `plan --json`. */
export interface StepSummary {
  id: string;
  phase: string;
  title: string;
  state: 'done' | 'todo' | 'drift' | 'failed' | 'not-run';
  detail?: string;
  outcome?: 'applied' | 'already-done';
  error?: string;
  hint?: string;
  planned?: { kind: string; summary: string }[];
}

export interface SetupSummary {
  result: 'ok' | 'failed' | 'cancelled' | 'drift';
  steps: StepSummary[];
  logFile: string;
}

export interface PlanSummary {
  steps: StepSummary[];
}

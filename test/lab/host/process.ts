/**
 * Local processes of the lab: running commands (argv arrays, never a shell), and finding, waiting
 * for and stopping the long-lived processes the lab started — always by recorded pid, after checking
 * that the pid still belongs to that process (a pid can be reused once its process is gone).
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a program with arguments (no shell) and resolves with its output, or rejects with CommandError. */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 0,
        killSignal: 'SIGKILL',
        env: options.env ?? process.env,
        cwd: options.cwd,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        const why = error.killed ? `timed out after ${options.timeoutMs ?? 0} ms` : `exited with ${code ?? error.signal ?? error.code}`;
        // Some tools (debootstrap) report their errors on stdout.
        const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-15).join('\n');
        reject(new CommandError(`${program} ${args.join(' ')} ${why}${detail ? `:\n${detail}` : ''}`, code, stdout, stderr));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** The command line of a live process, NUL separators turned into spaces; undefined when it is gone. */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\u0000', ' ').trim();
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie (an exited child nobody reaped yet). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces or ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True when `pid` is alive and its command line contains `marker` (so it is still the process we started). */
export async function isOurs(pid: number | undefined, marker: string): Promise<boolean> {
  if (!pid || !(await isAlive(pid))) return false;
  return (await commandLineOf(pid))?.includes(marker) ?? false;
}

/** Waits until the process is gone; resolves false when `timeoutMs` passed first. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Stops one process we started: SIGTERM, then SIGKILL after `graceMs`. `alsoKill` are pids that must
 * die with it if it has to be killed (e.g. the init of a container, which survives its manager's death).
 */
export async function stopProcess(pid: number, graceMs: number, alsoKill: readonly number[] = []): Promise<'exited' | 'killed'> {
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return 'exited';
  for (const other of alsoKill) signal(other, 'SIGKILL');
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`process ${pid} is still alive after SIGKILL`);
  return 'killed';
}

/** Direct children of a process (from /proc/<pid>/task/<tid>/children). */
export async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  try {
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
      for (const word of text.split(/\s+/)) if (word) children.push(Number(word));
    }
  } catch {
    // The process is gone: it has no children.
  }
  return children;
}

/** The pid namespace of a process, as the kernel names it (`pid:[4026532…]`); undefined when it is gone. */
export async function pidNamespaceOf(pid: number): Promise<string | undefined> {
  return readlink(`/proc/${pid}/ns/pid`).catch(() => undefined);
}

/**
 * Processes that still use a lab instance: their command line names `dir` (nspawn, the mirror), or
 * their root or working directory is inside it (the cluster's pods). The processes of a booted host don't show here (from this
 * machine's side their root is "/", they are in another mount namespace): see `containerAlive`.
 */
export async function processesUsing(dir: string): Promise<{ pid: number; commandLine: string }[]> {
  const found: { pid: number; commandLine: string }[] = [];
  const self = String(process.pid);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || entry === self) continue;
    const pid = Number(entry);
    const commandLine = await commandLineOf(pid);
    if (commandLine === undefined || !(await isAlive(pid))) continue;
    const root = await readlink(`/proc/${entry}/root`).catch(() => undefined);
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    const inside = (path: string | undefined): boolean => path !== undefined && (path === dir || path.startsWith(`${dir}/`));
    if (commandLine.includes(dir) || inside(root) || inside(cwd)) {
      found.push({ pid, commandLine });
    }
  }
  return found;
}

/**
 * True while a container's init still runs in its pid namespace. When the init of a pid namespace
 * dies the kernel kills every other process in it (pid_namespaces(7)), so false means none of the
 * container's processes is left. (Namespace ids alone can't tell: the kernel reuses them.)
 */
export async function containerAlive(leaderPid: number | undefined, pidNamespace: string | undefined): Promise<boolean> {
  if (leaderPid === undefined || pidNamespace === undefined || !(await isAlive(leaderPid))) return false;
  return (await pidNamespaceOf(leaderPid)) === pidNamespace;
}

/** Mount points at or below `dir`, as the host's mount table shows them. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const { stdout } = await run('findmnt', ['--raw', '--noheadings', '--output', 'TARGET']);
  return stdout
    .split('\n')
    .map((target) => target.replace(/\\x([0-9a-f]{2})/gi, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))))
    .filter((target) => target === dir || target.startsWith(`${dir}/`));
}

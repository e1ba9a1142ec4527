/**
 * The built CLI's interactive interface in a real terminal: a detached tmux session (a real pty, as
 * `script` gives, plus a rendered screen to read) on a tmux server of its own (`-L` socket), with a
 * CLI user's environment (temp HOME and XDG dirs). Keys go in with `send-keys`, the screen comes back
 * with `capture-pane`. `dispose()` kills only this server, through its own socket.
 * https://man7.org/linux/man-pages/man1/tmux.1.html
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { shellQuote } from '../../../source/services/host/shell-quote.js';
import { CLI_BIN, type CliSession } from './cli.js';

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** Counts the terminals started by this process: each gets a tmux server (socket) of its own. */
let started = 0;

export class TuiTerminal {
  /** Every distinct screen read, in order: for checks that something never appeared on screen. */
  readonly screens: string[] = [];

  private constructor(private readonly socket: string) {}

  /** Starts the CLI with `args` (none: the TUI) in a `columns`×`rows` terminal with the session's environment. */
  static start(session: CliSession, args: readonly string[] = [], size = { columns: 100, rows: 30 }): TuiTerminal {
    // One socket per terminal, never reused: a server just told to exit (`dispose`) still answers
    // on its socket for a moment, and a new session started there fails "server exited unexpectedly".
    started += 1;
    const socket = `pvt-e2e-${process.pid}-${started}-${path.basename(session.home)}`;
    const conf = path.join(session.home, 'tmux.conf');
    // Nothing from the user's tmux config is read.
    writeFileSync(conf, 'set -g default-terminal "tmux-256color"\n');
    const env = Object.entries({ ...session.env, NO_COLOR: undefined }).flatMap(([name, value]) => (value === undefined ? [] : ['-e', `${name}=${value}`]));
    // The app runs under sh, which prints its exit status and stays, so the end can be read off the screen.
    const wrapper = '"$0" "$@"; echo "exited with status $?"; exec sleep 600';
    execFileSync(
      'tmux',
      ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'tui', '-x', String(size.columns), '-y', String(size.rows), ...env, 'sh', '-c', wrapper, process.execPath, CLI_BIN, ...args],
      { encoding: 'utf8', timeout: 10_000, cwd: session.home },
    );
    return new TuiTerminal(socket);
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  capture(): string {
    const screen = this.tmux('capture-pane', '-p', '-t', 'tui');
    if (this.screens.at(-1) !== screen) this.screens.push(screen);
    return screen;
  }

  /** Named keys (`Enter`, `Escape`, `C-c`, `u`). */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'tui', ...keys);
  }

  /** Literal text, as typed (no key names). */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'tui', '-l', text);
  }

  /**
   * Types `text` and Enter into a dialog that just appeared. Ink subscribes a new input only after
   * the frame that shows it, so keys sent at once can be lost: a short pause first.
   */
  async answer(text: string, settleMs = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    this.type(text);
    this.keys('Enter');
  }

  async waitForScreen(predicate: (screen: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (predicate(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen:\n${screen}`);
  }

  dispose(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

/**
 * The built CLI in a real pseudo-terminal made by `script` (util-linux): stdin and stdout of the CLI
 * are the pty, so it asks questions and reads masked input as in a user's terminal. What the test
 * writes to `script`'s stdin arrives as typed; everything the terminal shows (stdout and stderr, as
 * on a screen) is collected. The command line is quoted by the product's one quoting helper.
 * https://man7.org/linux/man-pages/man1/script.1.html
 */
export class PtyCli {
  output = '';
  readonly exited: Promise<{ code: number | null; output: string }>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(session: CliSession, args: readonly string[]) {
    const command = [process.execPath, CLI_BIN, ...args].map(shellQuote).join(' ');
    // -q no banner, -e the CLI's exit status, -f flush at once, -c the command; no typescript file.
    this.child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: session.home, env: { ...session.env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      for (const wake of [...this.waiters]) wake();
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code) => {
        for (const wake of [...this.waiters]) wake();
        resolve({ code, output: this.output });
      });
    });
  }

  /** Resolves with the offset just past the first match of `pattern` at or after `since`. */
  waitFor(pattern: RegExp, since = 0, timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = (): void => {
        if (done) return;
        const match = pattern.exec(this.output.slice(since));
        if (match) {
          finish();
          resolve(since + match.index + match[0].length);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish();
          reject(new Error(`the CLI ended before ${pattern} appeared; the terminal showed:\n${this.output}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${pattern} did not appear within ${timeoutMs} ms; the terminal showed:\n${this.output}`));
      }, timeoutMs);
      const finish = (): void => {
        done = true;
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Types a line (Enter is a carriage return, as a terminal sends it). */
  typeLine(text: string): void {
    this.child.stdin?.write(`${text}\r`);
  }

  /** Ends the input and, if it still runs, SIGKILLs `script` by its pid (its CLI child goes with the pty). */
  async stop(): Promise<{ code: number | null; output: string }> {
    this.child.stdin?.end();
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      const timer = setTimeout(() => this.child.pid !== undefined && process.kill(this.child.pid, 'SIGKILL'), 5_000);
      const result = await this.exited;
      clearTimeout(timer);
      return result;
    }
    return this.exited;
  }
}

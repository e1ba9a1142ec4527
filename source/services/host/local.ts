/**
 * The transport used when the product runs on the Vault host itself: commands run with the local
 * /bin/sh. Each command gets its own process group (spawn `detached`), so cancelling it stops
 * everything it started, not only the shell.
 */
import { spawn } from 'node:child_process';
import { UserError } from '../../core/errors.js';
import {
  OutputCollector,
  TERMINATE_GRACE_MS,
  abortError,
  exitCodeForSignal,
  timeoutError,
  watchCancellation,
  type RawExecResult,
} from './exec-support.js';
import { ShellTransport, type RawExecOptions } from './shell-transport.js';
import { SudoSession, prepareCommand } from './sudo.js';
import type { ExecOptions } from './transport.js';

export interface LocalTransportOptions {
  /** Asked once when sudo needs a password; kept in memory only. */
  askSudoPassword?: () => Promise<string>;
}

interface RunOptions extends Omit<ExecOptions, 'stdin' | 'sudo'> {
  stdin?: Buffer;
  /** The command as the caller wrote it (never the sudo wrapper), for messages. */
  label: string;
}

const WHERE = 'this machine';

export class LocalTransport extends ShellTransport {
  readonly kind = 'local' as const;
  readonly description = 'local';
  private readonly sudo: SudoSession;
  private readonly running = new Set<(signal: NodeJS.Signals) => void>();

  constructor(options: LocalTransportOptions = {}) {
    super(WHERE);
    this.sudo = new SudoSession(
      (commandLine, runOptions) => this.run(commandLine, { ...runOptions, label: commandLine }),
      options.askSudoPassword,
      WHERE,
    );
  }

  /** Stops commands still running (there is no connection to close). */
  async close(): Promise<void> {
    for (const stop of this.running) stop('SIGTERM');
  }

  protected async execRaw(command: string, options: RawExecOptions): Promise<RawExecResult> {
    if (options.signal?.aborted) throw abortError(command, options.signal.reason);
    const { commandLine, stdin } = await prepareCommand(this.sudo, command, options);
    return this.run(commandLine, { ...options, stdin, label: command });
  }

  private run(commandLine: string, options: RunOptions): Promise<RawExecResult> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(abortError(options.label, options.signal.reason));
        return;
      }
      const child = spawn('/bin/sh', ['-c', commandLine], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout = new OutputCollector(options.onStdoutLine);
      const stderr = new OutputCollector(options.onStderrLine);
      let failure: Error | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const signalGroup = (signal: NodeJS.Signals) => {
        if (child.pid === undefined) return;
        try {
          // Negative pid: the whole process group the shell leads.
          process.kill(-child.pid, signal);
        } catch {
          // Already gone.
        }
      };
      const stop = (signal: NodeJS.Signals) => {
        signalGroup(signal);
        killTimer ??= setTimeout(() => signalGroup('SIGKILL'), TERMINATE_GRACE_MS);
      };
      this.running.add(stop);
      const cancellation = watchCancellation(options, (kind) => {
        failure =
          kind === 'abort'
            ? abortError(options.label, options.signal?.reason)
            : timeoutError(options.label, options.timeoutMs ?? 0, WHERE);
        stop('SIGTERM');
      });
      const finish = () => {
        cancellation.dispose();
        if (killTimer) clearTimeout(killTimer);
        this.running.delete(stop);
      };

      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      // EPIPE when the command exits without reading all of its input: its exit code tells the story.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin ?? Buffer.alloc(0));

      child.once('error', (error) => {
        finish();
        reject(new UserError(`cannot start /bin/sh on ${WHERE}: ${error.message}`, { cause: error }));
      });
      child.once('close', (code, signal) => {
        finish();
        const result: RawExecResult = {
          code: code ?? exitCodeForSignal(signal ?? 'SIGKILL'),
          stdout: stdout.finish(),
          stderr: stderr.finish(),
        };
        if (failure) reject(failure);
        else resolve(result);
      });
    });
  }
}

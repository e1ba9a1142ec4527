/**
 * What the local and the SSH transport share: both run POSIX sh commands, so exec's text result and
 * the file operations (read, atomic write, stat — see shell-file-ops.ts) are built once on top of
 * each transport's own raw command runner.
 */
import type { RawExecResult } from './exec-support.js';
import { toBuffer } from './exec-support.js';
import { ShellFileOps } from './shell-file-ops.js';
import type { ExecOptions, ExecResult, FileStat, Transport, WriteFileOptions } from './transport.js';

export type RawExecOptions = Omit<ExecOptions, 'stdin'> & { stdin?: Buffer };

export abstract class ShellTransport implements Transport {
  abstract readonly kind: Transport['kind'];
  abstract readonly description: string;
  protected readonly files: ShellFileOps;

  /** `where` names the host in messages, e.g. `this machine` or `pi@10.0.0.11`. */
  protected constructor(where: string) {
    this.files = new ShellFileOps((command, runOptions) => this.execRaw(command, runOptions), where);
  }

  /** Runs one command and collects its output as bytes. */
  protected abstract execRaw(command: string, options: RawExecOptions): Promise<RawExecResult>;

  abstract close(): Promise<void>;

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.execRaw(command, { ...options, stdin: toBuffer(options.stdin) });
    return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
  }

  readFile(path: string, options?: { sudo?: boolean; signal?: AbortSignal }): Promise<Buffer> {
    return this.files.readFile(path, options);
  }

  writeFile(path: string, data: string | Buffer, options: WriteFileOptions): Promise<void> {
    return this.files.writeFile(path, data, options);
  }

  stat(path: string, options?: { sudo?: boolean; signal?: AbortSignal }): Promise<FileStat> {
    return this.files.stat(path, options);
  }
}

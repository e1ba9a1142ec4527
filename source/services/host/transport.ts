/**
 * How the product reaches the Vault host: over SSH (ssh2) or locally (when it runs on the Pi).
 * Every step talks to the host through this interface only, so the same step code runs both ways.
 *
 * Commands are shell strings: every interpolated value MUST go through `shellQuote`/`sh` from
 * ./shell-quote.ts. Secrets travel in `stdin`, never in the command (argv is visible in `ps`).
 */
export interface ExecOptions {
  /** Run as root through sudo (`sudo -n`, or with the password fed on stdin when one is needed). */
  sudo?: boolean;
  /** Data for the command's standard input (secrets go here, never in the command line). */
  stdin?: string | Buffer;
  /** Cancels the command: the remote process is signalled and exec rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called once per complete line of output, as it arrives (for the live log pane). */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Give up after this long (the command is signalled); rejects with a UserError naming the command. */
  timeoutMs?: number;
}

export interface ExecResult {
  /** Exit status; 128+N when killed by signal N (as a shell reports it). */
  code: number;
  stdout: string;
  stderr: string;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStat {
  exists: boolean;
  type?: FileType;
  /** Permission bits only, e.g. 0o750. */
  mode?: number;
  uid?: number;
  gid?: number;
  owner?: string;
  group?: string;
  size?: number;
}

export interface WriteFileOptions {
  /** Permission bits of the written file, e.g. 0o600. Required: no file is written with a default mode. */
  mode: number;
  /** Owner and group names; set with chown (needs sudo unless they are the login user). */
  owner?: string;
  group?: string;
  sudo?: boolean;
}

export interface Transport {
  readonly kind: 'ssh' | 'local';
  /** Human description for logs, e.g. `ssh pi@10.0.0.11:22` or `local`. */
  readonly description: string;
  /** Runs a shell command (POSIX sh). Resolves with its exit code; rejects only on transport failure or abort. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Reads a whole file; rejects with a UserError if it is missing or unreadable. */
  readFile(path: string, options?: { sudo?: boolean; signal?: AbortSignal }): Promise<Buffer>;
  /** Atomic write: a temp file in the same directory, chmod/chown, then rename over the target. */
  writeFile(path: string, data: string | Buffer, options: WriteFileOptions): Promise<void>;
  stat(path: string, options?: { sudo?: boolean; signal?: AbortSignal }): Promise<FileStat>;
  /** Closes the connection; idempotent. */
  close(): Promise<void>;
}

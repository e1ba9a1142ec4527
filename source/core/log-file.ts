/**
 * The full log of every run, appended to a file in the XDG state dir (0600 in a 0700 dir).
 * Lines arrive already redacted. Writes are synchronous appends: a crash or SIGKILL right after a
 * step must still leave its lines on disk, and runs produce at most a few thousand lines per second.
 */
import { appendFileSync, chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LogLine } from './step.js';

export class LogFile {
  readonly path: string;
  #fd: number | undefined;

  constructor(filePath: string) {
    this.path = filePath;
  }

  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    const dir = path.dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
    this.#fd = openSync(this.path, 'a', 0o600);
    // An existing file from an older version or a copy may be looser: logs can name hosts and paths.
    if ((statSync(this.path).mode & 0o077) !== 0) chmodSync(this.path, 0o600);
    return this.#fd;
  }

  write(line: LogLine): void {
    appendFileSync(this.#open(), `${formatLogLine(line)}\n`);
  }

  /** A free-form line (run headers). Must already be redacted. */
  writeRaw(text: string): void {
    appendFileSync(this.#open(), `${text}\n`);
  }

  close(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
  }
}

export function formatLogLine(line: LogLine): string {
  const time = new Date(line.at).toISOString();
  const where = [line.stepId, line.source].filter(Boolean).join('/');
  return `${time} ${line.level.toUpperCase().padEnd(5)} ${where ? `[${where}] ` : ''}${line.text}`;
}

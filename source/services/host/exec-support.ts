/**
 * Pieces both transports share when running a command: output collection with live line callbacks,
 * exit codes for signals, and the errors for cancel and timeout.
 */
import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { UserError } from '../../core/errors.js';
import { stripTerminalControls } from '../../core/terminal-text.js';

/** Result with raw bytes (files are binary); Transport.exec decodes it as UTF-8. */
export interface RawExecResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** How long a cancelled command gets to exit after SIGTERM before it is sent SIGKILL. */
export const TERMINATE_GRACE_MS = 2000;

/**
 * Keeps every byte of one output stream and calls `onLine` once per complete line as it arrives,
 * with terminal control sequences removed from the line (the kept bytes are untouched).
 */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly onLine: ((line: string) => void) | undefined) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    if (!this.onLine) return;
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.emit(line);
  }

  /** Flushes a last line that had no newline. */
  finish(): Buffer {
    if (this.onLine) {
      const rest = this.partial + this.decoder.end();
      this.partial = '';
      if (rest.length > 0) this.emit(rest);
    }
    return Buffer.concat(this.chunks);
  }

  private emit(line: string): void {
    // Every line a host command prints reaches the log (and the terminal) through here: its escape
    // sequences are removed so the host cannot drive the user's terminal. The bytes are kept as sent.
    const clean = stripTerminalControls(line.endsWith('\r') ? line.slice(0, -1) : line);
    try {
      this.onLine?.(clean);
    } catch {
      // A failing log sink must not break the command it is watching.
    }
  }
}

/** Exit status as a shell reports it: 128+N for a process killed by signal N. */
export function exitCodeForSignal(signal: string): number {
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof constants.signals;
  const number = constants.signals[name];
  return 128 + (typeof number === 'number' ? number : 0);
}

/** Shortens a command for messages: first line, at most 120 characters. */
export function commandLabel(command: string): string {
  const firstLine = command.split('\n')[0] ?? '';
  const shortened = firstLine.length > 120 ? `${firstLine.slice(0, 117)}...` : firstLine;
  return shortened + (command.includes('\n') && shortened === firstLine ? ' ...' : '');
}

/** The error an aborted exec rejects with (`isAbortError` recognises it). */
export function abortError(command: string, reason: unknown): Error {
  const error = new Error(`cancelled: ${commandLabel(command)}`, { cause: reason });
  error.name = 'AbortError';
  return error;
}

export function timeoutError(command: string, timeoutMs: number, where: string): UserError {
  return new UserError(`\`${commandLabel(command)}\` did not finish within ${formatDuration(timeoutMs)} on ${where} and was stopped`, {
    hint: 'check that the host is not overloaded or waiting for something (network, disk); then run again',
  });
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

export function toBuffer(data: string | Buffer | undefined): Buffer | undefined {
  if (data === undefined) return undefined;
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/**
 * Wires the cancel paths of one running command: the caller's AbortSignal and the optional timeout
 * both call `stop(kind)` once; `dispose()` removes the listener and timer when the command ends.
 */
export function watchCancellation(
  options: { signal?: AbortSignal; timeoutMs?: number },
  stop: (kind: 'abort' | 'timeout') => void,
): { dispose: () => void } {
  let stopped = false;
  const once = (kind: 'abort' | 'timeout') => {
    if (stopped) return;
    stopped = true;
    stop(kind);
  };
  const onAbort = () => once('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs !== undefined && options.timeoutMs > 0 ? setTimeout(() => once('timeout'), options.timeoutMs) : undefined;
  if (options.signal?.aborted) queueMicrotask(onAbort);
  return {
    dispose: () => {
      options.signal?.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * The last N log lines in memory for the log pane. A fixed-size ring: appending is O(1) and memory
 * stays flat however long `journalctl -f` or a helm install runs. The full log goes to the log file.
 * Listeners are called synchronously on every push; the UI batches re-renders itself.
 */
import type { LogLine } from './step.js';

export const DEFAULT_LOG_CAPACITY = 5000;

export class LogBuffer {
  readonly capacity: number;
  readonly #ring: (LogLine | undefined)[];
  #start = 0;
  #size = 0;
  #total = 0;
  readonly #listeners = new Set<() => void>();

  constructor(capacity = DEFAULT_LOG_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('log buffer capacity must be a positive integer');
    this.capacity = capacity;
    this.#ring = new Array<LogLine | undefined>(capacity);
  }

  /** Lines currently held (≤ capacity). */
  get size(): number {
    return this.#size;
  }

  /** Lines ever pushed (lets a view tell that new lines arrived even when the ring is full). */
  get total(): number {
    return this.#total;
  }

  push(line: LogLine): void {
    if (this.#size < this.capacity) {
      this.#ring[(this.#start + this.#size) % this.capacity] = line;
      this.#size++;
    } else {
      this.#ring[this.#start] = line;
      this.#start = (this.#start + 1) % this.capacity;
    }
    this.#total++;
    for (const listener of this.#listeners) listener();
  }

  /** Lines [start, end) counted from the oldest line held. */
  slice(start: number, end: number): LogLine[] {
    const from = Math.max(0, Math.min(start, this.#size));
    const to = Math.max(from, Math.min(end, this.#size));
    const out: LogLine[] = [];
    for (let i = from; i < to; i++) out.push(this.#ring[(this.#start + i) % this.capacity] as LogLine);
    return out;
  }

  tail(n: number): LogLine[] {
    return this.slice(this.#size - Math.max(0, n), this.#size);
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    for (const listener of this.#listeners) listener();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * What must happen before the TUI's process goes away, whatever the reason (quit, SIGTERM, SIGHUP
 * when the SSH session carrying the terminal drops): abort the running plan so the runner records
 * where it stopped, close connections, close the log file. Tasks run newest first (a connection
 * opened for a run is closed before the log that records it), each bounded in time so one stuck
 * task cannot keep the process alive, and the whole list runs once.
 */
export type CleanupTask = () => void | Promise<void>;

interface Entry {
  name: string;
  task: CleanupTask;
}

export class CleanupRegistry {
  #entries: Entry[] = [];
  #running: Promise<string[]> | undefined;

  /** Adds a task; the returned function removes it (when the thing it cleans up ended by itself). */
  add(name: string, task: CleanupTask): () => void {
    const entry: Entry = { name, task };
    this.#entries.push(entry);
    return () => {
      this.#entries = this.#entries.filter((candidate) => candidate !== entry);
    };
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Runs every task, newest first, each for at most `timeoutMs`. Resolves with a message per task
   * that failed or timed out (never rejects: cleanup must reach the end). Later calls get the same result.
   */
  runAll(timeoutMs = 5000): Promise<string[]> {
    this.#running ??= (async () => {
      const problems: string[] = [];
      while (this.#entries.length > 0) {
        const entry = this.#entries.pop() as Entry;
        let timer: NodeJS.Timeout | undefined;
        try {
          const outcome = await Promise.race([
            Promise.resolve()
              .then(entry.task)
              .then(() => 'done' as const),
            new Promise<'timeout'>((resolve) => {
              timer = setTimeout(() => resolve('timeout'), timeoutMs);
            }),
          ]);
          if (outcome === 'timeout') problems.push(`${entry.name}: gave up after ${timeoutMs} ms`);
        } catch (error) {
          problems.push(`${entry.name}: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          if (timer) clearTimeout(timer);
        }
      }
      return problems;
    })();
    return this.#running;
  }
}

/** Exit status of a process ended by `signal`, as a shell reports it (128 + signal number). */
export function signalExitCode(signal: 'SIGTERM' | 'SIGHUP' | 'SIGINT'): number {
  return 128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal];
}

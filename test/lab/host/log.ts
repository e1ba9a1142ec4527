/**
 * Progress lines with timings, so a slow lab start says where the time went.
 * Lines go to stderr: the CLI's stdout stays free for what a caller may parse (status).
 */
export interface LabLog {
  /** A line prefixed with the time since the log was created. */
  line(message: string): void;
  /** Runs `work`, then prints `<label> (<seconds>s)`; on failure prints `<label> failed after …`. */
  timed<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export function seconds(milliseconds: number): string {
  return (milliseconds / 1000).toFixed(1);
}

export function createLabLog(write: (text: string) => void = (text) => process.stderr.write(text)): LabLog {
  const startedAt = Date.now();
  const line = (message: string): void => {
    write(`lab [+${seconds(Date.now() - startedAt)}s] ${message}\n`);
  };
  return {
    line,
    async timed(label, work) {
      const begin = Date.now();
      line(`${label}...`);
      try {
        const result = await work();
        line(`${label}: done (${seconds(Date.now() - begin)}s)`);
        return result;
      } catch (error) {
        line(`${label}: failed after ${seconds(Date.now() - begin)}s`);
        throw error;
      }
    },
  };
}


/**
 * `logs [-f|--follow] [-n N]`: the journal of the server's units on the host (vault.service and
 * vault-unseal.service, or openbao.service and openbao-unseal.service)
 * (journalctl -o short-iso), read over the profile's transport (SSH, or local on the Pi). Without -f
 * it prints the last N lines and ends; with -f it keeps streaming until Ctrl+C (or SIGTERM/SIGHUP),
 * which stops journalctl on the host too. Journal lines go to stdout, notes and errors to stderr.
 *
 * Exit codes: 0 printed (or followed until interrupted); 130 a plain read (no -f) interrupted; 1 the host is unreachable, has no journal,
 * or neither unit exists there; 2 bad input (-n not a whole number).
 */
import { InputError } from '../core/errors.js';
import { DEFAULT_JOURNAL_LINES, followJournal } from '../services/host/journal.js';
import { statusUnits } from '../services/status.js';
import { serverOf } from '../core/server.js';
import { openCommandContext } from './command-context.js';
import type { GlobalOptions, Output } from './output.js';

export interface LogsOptions {
  follow?: boolean;
  lines?: string;
}

/** At most this many lines of history: more is a job for journalctl on the host itself. */
export const MAX_LOG_LINES = 100_000;

export function parseLineCount(value: string | undefined): number {
  if (value === undefined) return DEFAULT_JOURNAL_LINES;
  if (!/^\d+$/.test(value.trim()) || Number(value) > MAX_LOG_LINES) {
    throw new InputError(`-n must be a whole number from 0 to ${MAX_LOG_LINES}, not "${value}"`, { field: '-n', hint: 'e.g. -n 200' });
  }
  return Number(value);
}

export async function logs(global: GlobalOptions, options: LogsOptions, output: Output): Promise<number> {
  const lines = parseLineCount(options.lines);
  const command = openCommandContext(global, output, { command: 'logs', assumeYes: false });
  try {
    const transport = await command.services.host();
    const units = statusUnits(serverOf(command.profile));
    if (options.follow) output.err(output.errStyle.dim(`following ${units.vault} and ${units.vaultUnseal} on ${transport.description} (Ctrl+C to stop)`));
    await followJournal(transport, {
      units: [units.vault, units.vaultUnseal],
      lines,
      follow: options.follow === true,
      onLine: (line) => output.out(line),
      signal: command.signal,
    });
    // Ctrl+C is how following ends; it only cuts short a plain read.
    return command.signal.aborted && !options.follow ? 130 : 0;
  } finally {
    await command.close();
  }
}

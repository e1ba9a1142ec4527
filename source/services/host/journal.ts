/**
 * Live service logs from the host's systemd journal, streamed line by line over the transport:
 * `journalctl -u vault.service -u vault-unseal.service -f -n N -o short-iso --no-pager`.
 *
 * Before following, one round trip finds out what is there: journalctl itself (a host without
 * systemd has none), the login user's uid and groups, and whether each unit exists. The journal of
 * system units is readable by root and the members of `systemd-journal` and `adm` (Debian gives
 * `adm` read access too); anyone else gets only their own user journal, i.e. nothing, so the
 * command then runs through sudo. See journalctl(1), "Description" and "Output options":
 * https://www.freedesktop.org/software/systemd/man/latest/journalctl.html
 *
 * A unit that does not exist is left out (vault-unseal.service is absent when auto-unseal is off)
 * and said in one `-- … --` line, in journalctl's own style for notes; when none of them exists the
 * call fails with a UserError.
 *
 * With `follow: false` it prints the last lines and ends (the `logs` command without -f).
 *
 * Aborting the signal ends the stream: the transport signals the remote command's whole process
 * group (through sudo's root-side shell when sudo is used), so no journalctl is left on the host.
 * The promise then resolves; it rejects only when following could not start or journalctl failed.
 */
import { UserError } from '../../core/errors.js';
import { sh } from './shell-quote.js';
import type { Transport } from './transport.js';

export const DEFAULT_JOURNAL_LINES = 50;
/** Groups whose members read the system journal without sudo. */
export const JOURNAL_READER_GROUPS = ['systemd-journal', 'adm'] as const;
const PROBE_TIMEOUT_MS = 20_000;

export interface FollowJournalOptions {
  /** Units to follow, e.g. `vault` or `vault.service` (a name without a type means `.service`). */
  units: string[];
  /** Lines of history shown before following (journalctl -n); 50 when not given. */
  lines?: number;
  /** false: print the last `lines` and end (no -f); the promise resolves when journalctl exits. Default true. */
  follow?: boolean;
  /** Called once per journal line as it arrives (also for the `-- … --` notes). */
  onLine(line: string): void;
  signal: AbortSignal;
}

/** What the probe found on the host. */
export interface JournalProbe {
  hasJournalctl: boolean;
  uid: number | undefined;
  groups: string[];
  /** unit name -> systemd LoadState (`loaded`, `not-found`, `masked`...). */
  loadStates: Map<string, string>;
}

/** `vault` -> `vault.service`; names with a type (`vault.socket`) stay as they are. */
export function unitName(name: string): string {
  return /\.[a-z]+$/.test(name) ? name : `${name}.service`;
}

export function probeCommand(units: readonly string[]): string {
  return [
    'if command -v journalctl >/dev/null 2>&1; then echo journalctl=yes; else echo journalctl=no; fi',
    'echo "uid=$(id -u)"',
    'echo "groups=$(id -nG)"',
    // LoadState is empty for a unit systemctl cannot tell about at all (no systemd): treated as missing.
    sh`for unit in ${units}; do echo "unit=$unit $(systemctl show -p LoadState --value -- "$unit" 2>/dev/null)"; done`,
  ].join('\n');
}

export function parseProbe(stdout: string): JournalProbe {
  const probe: JournalProbe = { hasJournalctl: false, uid: undefined, groups: [], loadStates: new Map() };
  for (const line of stdout.split('\n')) {
    const [key, ...rest] = line.split('=');
    const value = rest.join('=').trim();
    if (key === 'journalctl') probe.hasJournalctl = value === 'yes';
    else if (key === 'uid' && /^\d+$/.test(value)) probe.uid = Number(value);
    else if (key === 'groups') probe.groups = value.split(/\s+/).filter((group) => group.length > 0);
    else if (key === 'unit') {
      const [unit = '', state = ''] = value.split(/\s+/);
      if (unit) probe.loadStates.set(unit, state || 'not-found');
    }
  }
  return probe;
}

/** Whether the login user reads the system journal as it is (root, or a reader group). */
export function readsSystemJournal(probe: Pick<JournalProbe, 'uid' | 'groups'>): boolean {
  return probe.uid === 0 || probe.groups.some((group) => (JOURNAL_READER_GROUPS as readonly string[]).includes(group));
}

export function journalCommand(units: readonly string[], lines: number, follow = true): string {
  const unitArgs = units.flatMap((unit) => ['-u', unit]);
  return follow ? sh`journalctl ${unitArgs} -f -n ${lines} -o short-iso --no-pager` : sh`journalctl ${unitArgs} -n ${lines} -o short-iso --no-pager`;
}

/** Follows the units' journal until `signal` aborts; see the module comment. */
export async function followJournal(transport: Transport, options: FollowJournalOptions): Promise<void> {
  const { signal, onLine } = options;
  if (signal.aborted) return;
  const lines = options.lines ?? DEFAULT_JOURNAL_LINES;
  if (!Number.isInteger(lines) || lines < 0) throw new UserError(`the number of journal lines must be a whole number ≥ 0, not ${lines}`);
  const units = [...new Set(options.units.map(unitName))];
  if (units.length === 0) throw new UserError('no unit to follow the journal of');

  let probe: JournalProbe;
  try {
    const result = await transport.exec(probeCommand(units), { signal, timeoutMs: PROBE_TIMEOUT_MS });
    probe = parseProbe(result.stdout);
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
  if (!probe.hasJournalctl) {
    throw new UserError(`there is no journalctl on ${transport.description}: the host has no systemd journal`, {
      hint: 'the services log to the systemd journal; run this on the Vault host set up by this tool (Raspberry Pi OS / Debian with systemd)',
    });
  }
  const present = units.filter((unit) => {
    const state = probe.loadStates.get(unit);
    return state !== undefined && state !== 'not-found';
  });
  const missing = units.filter((unit) => !present.includes(unit));
  if (present.length === 0) {
    throw new UserError(`${missing.join(' and ')} ${missing.length === 1 ? 'does' : 'do'} not exist on ${transport.description}`, {
      hint: 'run the setup (its host phase installs the services), or check with `systemctl status vault`',
    });
  }
  if (missing.length > 0) onLine(`-- ${missing.join(', ')} not installed on the host; following ${present.join(', ')} --`);

  const sudo = !readsSystemJournal(probe);
  let stderr = '';
  try {
    const result = await transport.exec(journalCommand(present, lines, options.follow !== false), {
      signal,
      sudo,
      onStdoutLine: onLine,
      onStderrLine: (line) => {
        if (stderr.length < 4096) stderr += `${line}\n`;
      },
    });
    if (signal.aborted) return;
    if (result.code !== 0) {
      const first = (result.stderr || stderr).split('\n').find((line) => line.trim().length > 0) ?? 'no error message';
      throw new UserError(`journalctl on ${transport.description} exited ${result.code}: ${first.trim()}`, {
        hint: sudo
          ? 'reading the journal needs root here: check that the login user may use sudo'
          : 'check the journal on the host with `journalctl -u vault`',
      });
    }
  } catch (error) {
    // The abort that ends following is the normal way out, not a failure.
    if (signal.aborted) return;
    throw error;
  }
}

/**
 * The one way a value enters a shell command, locally or on the Vault host.
 *
 * POSIX single quotes make every character literal except the single quote itself, which cannot
 * appear inside them at all; it is written as `'\''` (close the quote, an escaped quote, reopen).
 * See "2.2.2 Single-Quotes" in the POSIX Shell Command Language:
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02_02
 *
 * Every value is quoted, even ones that look harmless, so that no caller has to decide what is safe.
 */
import { InputError } from '../../core/errors.js';

/** A fragment of shell syntax written by the program itself (never user or remote data). */
export interface RawShell {
  readonly rawShell: string;
}

const RAW_MARK = Symbol('rawShell');

interface MarkedRawShell extends RawShell {
  readonly [RAW_MARK]: true;
}

/** Quotes one value as a single shell word. */
export function shellQuote(value: string): string {
  if (typeof value !== 'string') throw new TypeError(`shellQuote expects a string, got ${typeof value}`);
  if (value.includes('\u0000')) {
    // A C string ends at NUL: the shell would silently cut the value short.
    throw new InputError('a value for a shell command contains a NUL byte', {
      hint: 'remove the NUL character from the value',
    });
  }
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Marks a constant fragment of shell syntax (an operator, a redirection, a fixed flag) to be inserted
 * by `sh` unquoted. Only for text written in this program's source, never for anything that came from
 * a user, a file, a profile or a remote host.
 */
export function raw(fragment: string): RawShell {
  const marked: MarkedRawShell = { rawShell: fragment, [RAW_MARK]: true };
  return marked;
}

function isRaw(value: unknown): value is MarkedRawShell {
  return typeof value === 'object' && value !== null && (value as Partial<MarkedRawShell>)[RAW_MARK] === true;
}

export type ShellValue = string | number | bigint | RawShell | readonly (string | number | bigint)[];

function quoteValue(value: ShellValue): string {
  if (isRaw(value)) return value.rawShell;
  if (typeof value === 'string') return shellQuote(value);
  if (typeof value === 'number' || typeof value === 'bigint') return shellQuote(String(value));
  if (Array.isArray(value)) return value.map((item) => quoteValue(item)).join(' ');
  throw new TypeError(`cannot put a value of type ${typeof value} in a shell command`);
}

/**
 * Tagged template for shell commands: the literal text is kept as written and every interpolated
 * value is quoted (arrays element by element, joined with spaces; `raw(...)` inserted as is).
 *
 *     sh`install -d -m 0750 -- ${dir}`   // dir = "/etc/my vault" -> install -d -m 0750 -- '/etc/my vault'
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let command = strings[0] ?? '';
  values.forEach((value, index) => {
    command += quoteValue(value) + (strings[index + 1] ?? '');
  });
  return command;
}

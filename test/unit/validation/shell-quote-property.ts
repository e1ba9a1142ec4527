/**
 * Strings for the shell-quoting property tests: any Unicode (well-formed, no NUL: a C string ends
 * there, and shellQuote refuses it), biased towards what a shell treats specially.
 */
import fc from 'fast-check';

const SHELL_SPECIAL = ["'", '"', '\\', '$', '`', '\n', '\r', '\t', ' ', '*', '?', '[', ']', '!', ';', '|', '&', '(', ')', '<', '>', '~', '#', '{', '}', '=', '%', '-', '--', "'\\''", '$(id)', '${HOME}', 'é', '💥', '\u00a0', '\u202e'];

/** Half of a UTF-16 pair: not text, it cannot be sent as UTF-8 (it would arrive as U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const shellValue: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(fc.oneof(fc.constantFrom(...SHELL_SPECIAL), fc.string({ unit: 'grapheme', maxLength: 4 })), { maxLength: 12 }).map((parts) => parts.join('')),
  )
  .filter((value) => !value.includes('\u0000') && !LONE_SURROGATE.test(value));

/** One script that prints every value NUL-terminated: `printf '%s\0' 'v1' 'v2' ...`. */
export function printScript(quoted: readonly string[]): string {
  return `printf '%s\\000' ${quoted.join(' ')}`;
}

/** Splits NUL-terminated output back into the values. */
export function splitPrinted(output: Buffer): string[] {
  const text = output.toString('utf8');
  return text.length === 0 ? [] : text.slice(0, -1).split('\u0000');
}

/**
 * Quoting is proven by running a real /bin/sh: `printf %s <quoted>` must print the value back
 * byte for byte, whatever the value contains. POSIX single quotes:
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02_02
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { raw, sh, shellQuote } from '../../source/services/host/shell-quote.js';

function runSh(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
}

const HOSTILE: Record<string, string> = {
  'single quote': "it's",
  'only single quotes': "'''",
  'double quotes': 'say "hi"',
  'command substitution': '$(touch /tmp/pvt-quote-pwned)',
  backticks: '`touch /tmp/pvt-quote-pwned`',
  'variable expansion': '$HOME ${PATH} $0 $$',
  semicolon: 'a; touch /tmp/pvt-quote-pwned',
  'and-list': 'a && touch /tmp/pvt-quote-pwned || b',
  pipe: 'a | cat',
  newlines: 'line one\nline two\n',
  'carriage return and tab': 'a\r\tb',
  spaces: '  leading and trailing  ',
  globs: '* ? [a-z] /etc/*',
  'leading dash': '-rf',
  'double dash': '--help',
  tilde: '~root',
  backslashes: 'C:\\path\\to \\n \\',
  unicode: 'ключ 🔑 ﬁ é',
  'escaped quote attempt': "'\\''; touch /tmp/pvt-quote-pwned; echo '",
  'redirections': '> /tmp/pvt-quote-pwned < /etc/passwd 2>&1',
  'history and braces': '!! {a,b} #comment',
  'percent and printf format': '%s %d %%',
  empty: '',
};

describe('shellQuote', () => {
  for (const [name, value] of Object.entries(HOSTILE)) {
    it(`survives a real /bin/sh unchanged: ${name}`, () => {
      expect(runSh(`printf %s ${shellQuote(value)}`)).toBe(value);
    });
  }

  it('does not execute anything inside the value', () => {
    const marker = `/tmp/pvt-quote-pwned-${process.pid}`;
    const attacks = [`$(touch ${marker})`, `\`touch ${marker}\``, `x; touch ${marker}`, `'; touch ${marker}; '`];
    for (const attack of attacks) runSh(`printf %s ${shellQuote(attack)} >/dev/null`);
    expect(runSh(`[ -e ${shellQuote(marker)} ] && echo present || echo absent`).trim()).toBe('absent');
  });

  it('is one shell word even with spaces and newlines', () => {
    const value = 'a b\nc';
    expect(runSh(`set -- ${shellQuote(value)}; echo $#`).trim()).toBe('1');
  });

  it('writes the POSIX single-quote form', () => {
    expect(shellQuote('abc')).toBe("'abc'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe("''");
  });

  it('rejects a NUL byte with an InputError', () => {
    expect(() => shellQuote('a\u0000b')).toThrow(InputError);
  });
});

describe('sh template', () => {
  it('quotes every interpolated value and keeps the literal text', () => {
    const path = "/etc/my vault/it's.hcl";
    const command = sh`printf '%s\n' ${path} ${'$(id)'}`;
    expect(runSh(command)).toBe(`${path}\n$(id)\n`);
  });

  it('quotes array elements one by one, joined by spaces', () => {
    const args = ['one two', "th'ree", '*', '-n'];
    const command = sh`printf '[%s]' ${args}`;
    expect(runSh(command)).toBe('[one two][th\'ree][*][-n]');
  });

  it('quotes numbers too', () => {
    expect(sh`chmod ${0o640.toString(8)} f`).toBe("chmod '640' f");
    expect(runSh(sh`printf %s ${42}`)).toBe('42');
  });

  it('inserts raw() fragments as written', () => {
    const command = sh`printf %s ${'a b'} ${raw('| tr a-z A-Z')}`;
    expect(runSh(command)).toBe('A B');
  });

  it('refuses an object that only looks like a raw fragment', () => {
    const forged = { rawShell: '; touch /tmp/pvt-quote-pwned' };
    expect(() => sh`echo ${forged}`).toThrow(TypeError);
  });

  it('rejects NUL inside an array element', () => {
    expect(() => sh`echo ${['ok', 'bad\u0000']}`).toThrow(InputError);
  });
});

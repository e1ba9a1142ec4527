/**
 * Host output is reduced to plain text before it enters the log: every line a command prints on the
 * host (both transports collect output with OutputCollector, and the journal follows through them)
 * loses its escape sequences and lone control characters, keeping tabs; the bytes collected for the
 * caller stay exactly as sent.
 */
import { describe, expect, it } from 'vitest';
import { stripTerminalControls } from '../../source/core/terminal-text.js';
import { OutputCollector } from '../../source/services/host/exec-support.js';
import { LocalTransport } from '../../source/services/host/local.js';
import { sh } from '../../source/services/host/shell-quote.js';

const HOSTILE: [string, string, string][] = [
  ['OSC 0 window title ended by BEL', 'a\u001b]0;pwned title\u0007b', 'ab'],
  ['OSC 8 hyperlink ended by ESC \\', '\u001b]8;;https://evil.example/\u001b\\click\u001b]8;;\u001b\\', 'click'],
  ['OSC 52 clipboard write', 'x\u001b]52;c;cm0gLXJmIH4K\u0007y', 'xy'],
  ['8-bit OSC ended by ST', 'p\u009d0;title\u009cq', 'pq'],
  ['CSI colour and cursor moves', '\u001b[31mred\u001b[0m \u001b[2J\u001b[1;1Hhome\u001b[?25l', 'red home'],
  ['8-bit CSI', 'a\u009b2Jb', 'ab'],
  ['DCS', 'a\u001bP1$qm\u001b\\b', 'ab'],
  ['two-byte escapes (save/restore cursor, reset)', 'a\u001b7b\u001b8c\u001bcd', 'abcd'],
  ['lone C0 controls: BEL, backspace, CR, form feed, NUL, DEL', 'a\u0007b\u0008c\rd\u000ce\u0000f\u007fg', 'abcdefg'],
  ['lone C1 controls', 'a\u0085b\u008ec\u009fd', 'abcd'],
  ['a lone ESC', 'a\u001bb', 'ab'],
];

describe('stripTerminalControls', () => {
  it.each(HOSTILE)('removes %s', (_name, input, expected) => {
    expect(stripTerminalControls(input)).toBe(expected);
  });

  it('keeps tabs, newlines and ordinary Unicode', () => {
    expect(stripTerminalControls('key:\tvalue\nnext line — ünïcødé ✓')).toBe('key:\tvalue\nnext line — ünïcødé ✓');
  });
});

describe('host output on its way to the log', () => {
  it('OutputCollector hands each line over stripped and keeps the bytes as sent', () => {
    const lines: string[] = [];
    const collector = new OutputCollector((line) => lines.push(line));
    const sent = 'ok \u001b]0;owned\u0007done\r\n\u001b[2K\u001b[1Aover\twritten\npartial \u009b31m';
    collector.push(Buffer.from(sent.slice(0, 9)));
    collector.push(Buffer.from(sent.slice(9)));
    expect(collector.finish().toString('utf8')).toBe(sent);
    expect(lines).toEqual(['ok done', 'over\twritten', 'partial ']);
  });

  it('a command run through a transport: its stdout and stderr lines arrive plain', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const script = String.raw`printf 'apt: \033]0;title\007fine\n\033]8;;http://x/\033\\link\033]8;;\033\\\n'; printf '\033[31mE:\033[0m \033]52;c;Zm9v\007bad\n' >&2`;
    const result = await new LocalTransport().exec(sh`sh -c ${script}`, { onStdoutLine: (line) => stdout.push(line), onStderrLine: (line) => stderr.push(line) });
    expect(result.code).toBe(0);
    expect(stdout).toEqual(['apt: fine', 'link']);
    expect(stderr).toEqual(['E: bad']);
    // What the caller parses is untouched.
    expect(result.stdout).toContain('\u001b]0;title\u0007');
  });
});

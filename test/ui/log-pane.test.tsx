/**
 * The log pane cuts printable-ASCII rows itself (so Ink need not re-slice every styled row on every
 * frame); the frames must be exactly what Ink's own truncate-end draws, colours included. Reference:
 * the same rows rendered whole with <Text wrap="truncate-end"> (cli-truncate), in colour (chalk
 * level forced), at several widths, for every log level, with and without a step id, and for rows
 * Ink still cuts itself (wide and non-ASCII characters).
 */
import chalk from 'chalk';
import { Box, Text } from 'ink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogBuffer } from '../../source/core/log-buffer.js';
import type { LogLine } from '../../source/core/step.js';
import { LogPane } from '../../source/ui/components/LogPane.js';
import { sanitize } from '../../source/ui/components/text.js';
import { createTheme, ThemeContext, useTheme } from '../../source/ui/theme.js';
import { renderSized, waitFor } from './harness.js';

const theme = createTheme({ unicode: true, color: true });
let level: typeof chalk.level;
beforeAll(() => {
  level = chalk.level;
  chalk.level = 3;
});
afterAll(() => {
  chalk.level = level;
});

const AT = new Date(2026, 10, 28, 9, 5, 7).getTime();

const LINES: LogLine[] = [
  { at: AT, level: 'info', stepId: 'host.binary', source: 'stdout', text: 'vault[4242]: core: successfully mounted: type=kv version=v2 path=secret/ namespace="ID: root."' },
  { at: AT, level: 'warn', stepId: 'vault.init', text: 'a warning that is long enough to be cut at every width tried here, and then some more words' },
  { at: AT, level: 'error', text: 'an error without a step id, long enough to be cut at every width tried here as well, surely' },
  { at: AT, level: 'debug', stepId: 'host.packages', text: 'debug detail: apt-get install -y curl unzip jq ca-certificates openssl, then more and more text' },
  { at: AT, level: 'info', stepId: 'host.tls', text: 'short' },
  { at: AT, level: 'info', stepId: 'cluster.eso', text: 'wide characters: 日本語のログ行はインクが自分で切ります。日本語のログ行はインクが自分で切ります。' },
  { at: AT, level: 'info', stepId: 'cluster.eso', text: 'ünïcödé text that Ink measures and cuts itself, because it is not ASCII at all, no, not at all' },
  { at: AT, level: 'info', text: 'exactly-sized-line-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' },
];

/** The rows as the pane drew them before it cut them itself: whole, cut by Ink. */
function ReferenceRows({ lines, width }: { lines: LogLine[]; width: number }) {
  const palette = useTheme();
  return (
    <Box flexDirection="column" height={lines.length} width={width} overflowY="hidden">
      {lines.map((line, index) => {
        const color = line.level === 'error' ? palette.color('error') : line.level === 'warn' ? palette.color('warning') : undefined;
        const date = new Date(line.at);
        const clock = [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
        return (
          <Box key={index} height={1} width={width}>
            <Text wrap="truncate-end" {...(line.level === 'debug' ? { dimColor: true } : {})}>
              <Text dimColor>{clock} </Text>
              {line.stepId ? <Text color={palette.color('accent')}>{sanitize(line.stepId)} </Text> : null}
              <Text color={color}>{sanitize(line.text)}</Text>
            </Text>
          </Box>
        );
      })}
    </Box>
  );
}

async function frameOf(tree: React.ReactElement, columns: number, rows: number): Promise<string> {
  const rendered = renderSized(<ThemeContext.Provider value={theme}>{tree}</ThemeContext.Provider>, { columns, rows });
  try {
    return await waitFor(() => rendered.stdout.frames.at(-1), 'a frame');
  } finally {
    rendered.instance.unmount();
  }
}

describe('log pane rows', () => {
  for (const width of [12, 20, 37, 61, 80, 100]) {
    it(`are drawn exactly as Ink's truncate-end draws them, at ${width} columns`, async () => {
      const buffer = new LogBuffer(100);
      for (const line of LINES) buffer.push(line);
      const pane = await frameOf(<LogPane buffer={buffer} height={LINES.length} width={width} follow logTop={0} />, width, LINES.length + 2);
      const reference = await frameOf(<ReferenceRows lines={LINES} width={width} />, width, LINES.length + 2);
      expect(pane).toContain('\u001b['); // in colour, so styles are compared too
      expect(pane).toBe(reference);
    });
  }
});

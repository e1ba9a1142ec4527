/**
 * The live log. Renders only the lines that fit (a window over the LogBuffer), re-renders at most
 * every 40 ms however fast lines arrive (useThrottledSubscription), and either follows the newest
 * line or stays where the user scrolled to (anchored by absolute line number, so new lines do not
 * move the view).
 *
 * Each row is one <Text wrap="truncate-end"> of the pane's width, so no row can be wider than the
 * pane; the pane clips only vertically. A horizontal clip (overflow="hidden" on a row or the pane)
 * made Ink re-slice every row's styled text with slice-ansi on every frame, about a third of the
 * render time under a flood of lines.
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import type { LogBuffer } from '../../core/log-buffer.js';
import type { LogLine } from '../../core/step.js';
import { useThrottledSubscription } from '../hooks/useThrottledSubscription.js';
import { useTheme } from '../theme.js';
import { sanitize } from './text.js';

export interface LogCounts {
  total: number;
  size: number;
}

/** Absolute index (LogBuffer.total numbering) of the first line shown. */
export function logWindowTop(counts: LogCounts, follow: boolean, logTop: number, height: number): number {
  const oldest = counts.total - counts.size;
  const lastTop = Math.max(oldest, counts.total - height);
  if (follow) return lastTop;
  return Math.min(Math.max(logTop, oldest), lastTop);
}

function clock(at: number): string {
  const date = new Date(at);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The message cut to what is left of the row, the way Ink's truncate-end would cut the whole row
 * (cli-truncate: the first `columns - 1` columns and '…', in the style of the last one kept), when
 * the row is printable ASCII: one column per character, so no measuring. Ink then finds the row
 * fits and skips its own cut, which tokenizes the styled row with slice-ansi on every frame. Other
 * text is left whole for Ink to measure and cut.
 */
function fitMessage(prefix: string, message: string, width: number): string {
  if (!PRINTABLE_ASCII.test(prefix) || !PRINTABLE_ASCII.test(message)) return message;
  if (prefix.length + message.length <= width) return message;
  const room = width - 1 - prefix.length;
  return room < 0 ? message : `${message.slice(0, room)}…`;
}

function LogRow({ line, width }: { line: LogLine; width: number }) {
  const theme = useTheme();
  const color = line.level === 'error' ? theme.color('error') : line.level === 'warn' ? theme.color('warning') : undefined;
  const time = `${clock(line.at)} `;
  const step = line.stepId ? `${sanitize(line.stepId)} ` : '';
  return (
    <Box height={1} width={width}>
      <Text wrap="truncate-end" {...(line.level === 'debug' ? { dimColor: true } : {})}>
        <Text dimColor>{time}</Text>
        {step ? <Text color={theme.color('accent')}>{step}</Text> : null}
        <Text color={color}>{fitMessage(time + step, sanitize(line.text), width)}</Text>
      </Text>
    </Box>
  );
}

export const LogPane = memo(function LogPane({
  buffer,
  height,
  width,
  follow,
  logTop,
}: {
  buffer: LogBuffer;
  height: number;
  width: number;
  follow: boolean;
  logTop: number;
}) {
  useThrottledSubscription(buffer);
  const top = logWindowTop(buffer, follow, logTop, height);
  const oldest = buffer.total - buffer.size;
  const lines = buffer.slice(top - oldest, top - oldest + height);
  return (
    <Box flexDirection="column" height={height} width={width} overflowY="hidden">
      {lines.length === 0 ? <Text dimColor>No log lines yet.</Text> : null}
      {lines.map((line, index) => (
        <LogRow key={top + index} line={line} width={width} />
      ))}
    </Box>
  );
});

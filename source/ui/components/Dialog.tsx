/**
 * A modal question: a bordered box with the question, an optional detail, an optional input line
 * (masked for secrets) and the keys that answer it. It replaces the body of the screen while open,
 * so nothing underneath can take keys or be mistaken for part of the question.
 */
import { Box, Text } from 'ink';
import { useTheme } from '../theme.js';
import { sanitize } from './text.js';

export interface DialogProps {
  title: string;
  question: string;
  detail?: string;
  /** A progress line, e.g. unseal key shares accepted out of the threshold. */
  progress?: { label: string; done: number; of: number };
  /** The input line, when the dialog takes text. */
  input?: { value: string; masked: boolean };
  error?: string;
  keys: string;
  width: number;
  height: number;
}

export function Dialog({ title, question, detail, progress, input, error, keys, width, height }: DialogProps) {
  const theme = useTheme();
  const lines = detail ? detail.split('\n') : [];
  // A detail of several lines is a table (helm history): as wide as its rows, up to the terminal's.
  const table = lines.length > 1 ? Math.max(...lines.map((line) => Array.from(line).length)) + 4 : 0;
  const boxWidth = Math.max(20, Math.min(width, Math.max(72, table)));
  const shown = input ? (input.masked ? '*'.repeat(Array.from(input.value).length) : sanitize(input.value)) : undefined;
  return (
    <Box height={height} width={width} justifyContent="center" alignItems="center" overflow="hidden">
      <Box
        flexDirection="column"
        width={boxWidth}
        borderStyle={theme.unicode ? 'round' : 'classic'}
        borderColor={theme.color('accent')}
        paddingX={1}
        overflow="hidden"
      >
        <Text bold color={theme.color('accent')} wrap="truncate-end">
          {title}
        </Text>
        <Text wrap="wrap">{sanitize(question)}</Text>
        {/* One Text per line: sanitize shows a newline as \x0a, and a detail may be a table (helm history). */}
        {lines.map((line, index) => (
          <Text key={index} dimColor wrap="wrap">
            {sanitize(line) || ' '}
          </Text>
        ))}
        {progress ? (
          <Text wrap="truncate-end">
            {progress.label}{' '}
            <Text color={theme.color('accent')}>
              [{'#'.repeat(Math.min(progress.done, progress.of))}
              {'-'.repeat(Math.max(0, progress.of - progress.done))}]
            </Text>{' '}
            <Text bold>
              {progress.done}/{progress.of}
            </Text>
          </Text>
        ) : null}
        {shown !== undefined ? (
          <Text wrap="truncate-start">
            {theme.glyphs.selected} {shown}
            <Text color={theme.color('accent')}>{theme.glyphs.cursor}</Text>
          </Text>
        ) : null}
        {error ? (
          <Text color={theme.color('error')} wrap="wrap">
            {theme.glyphs.invalid} {sanitize(error)}
          </Text>
        ) : null}
        <Text dimColor wrap="truncate-end">
          {keys}
        </Text>
      </Box>
    </Box>
  );
}

/**
 * What a part of the screen shows in its place when it could not be drawn: which part, the error's
 * message (redacted by the caller, sanitized here like any outside text), and that a running step is
 * not affected. In the style of the other failures (the status pane's red message): the failed
 * glyph and the error colour, the explanation dimmed. Kept to plain Text so that it cannot fail the
 * way the part it replaces did.
 */
import { Box, Text } from 'ink';
import { useTheme } from '../theme.js';
import { sanitize } from './text.js';

export interface RenderFailureProps {
  /** The part as the user knows it: "Log pane", "Setup screen". */
  part: string;
  message: string;
  width: number;
  height: number;
}

export function RenderFailure({ part, message, width, height }: RenderFailureProps) {
  const theme = useTheme();
  const headline = `${theme.glyphs.state.failed} ${part} could not be drawn: ${sanitize(message)}`;
  if (height <= 1) {
    // A one-row part (header, footer): the headline and the key, cut to the row.
    return (
      <Box height={1} width={width} overflow="hidden">
        <Text color={theme.color('error')} wrap="truncate-end">
          {headline} (ctrl+l draws it again)
        </Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <Text color={theme.color('error')} wrap="wrap">
        {headline}
      </Text>
      <Text dimColor wrap="wrap">
        A running step is not affected. ctrl+l draws this again; the error is in the log file.
      </Text>
    </Box>
  );
}

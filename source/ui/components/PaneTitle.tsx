import { Text } from 'ink';
import { useTheme } from '../theme.js';
import { fit } from './text.js';

/** `─ Steps ─────────── note` in one row: cheaper than a border (which costs two rows per pane). */
export function PaneTitle({ title, note, width }: { title: string; note?: string; width: number }) {
  const theme = useTheme();
  const head = `${theme.glyphs.rule} ${title} `;
  const tail = note ? ` ${note}` : '';
  const ruleLength = Math.max(0, width - Array.from(head).length - Array.from(tail).length);
  return (
    <Text wrap="truncate-end">
      <Text color={theme.color('muted')}>{theme.glyphs.rule} </Text>
      <Text bold>{title} </Text>
      <Text color={theme.color('muted')}>{theme.glyphs.rule.repeat(ruleLength)}</Text>
      {note ? <Text dimColor>{fit(tail, width)}</Text> : null}
    </Text>
  );
}

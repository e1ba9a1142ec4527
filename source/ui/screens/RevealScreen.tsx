/**
 * The one screen that shows secret material unredacted: the unseal keys and root token right after
 * init (Prompter.revealOnce). The caller has already written them to custody, so this is never the
 * only copy — but it is the moment the user writes them down, so:
 *  - every line is shown whole (a long key wraps, it is never cut), scrolling when they do not fit;
 *  - nothing but `y` closes it (enter has no default, esc does nothing, not even Ctrl+C: when custody
 *    could not be written these lines are the only copy), and `y` counts only once every line has
 *    been on screen;
 *  - once acknowledged the lines are gone: everything else the app renders passes the redactor.
 */
import { Box, Text } from 'ink';
import { useCallback, useState } from 'react';
import type { Reveal } from '../../core/step.js';
import { sanitize } from '../components/text.js';
import { useKeyHandler } from '../hooks/keys.js';
import { actionFor, REVEAL_KEYS, type KeyPress } from '../keymap.js';
import { useTheme } from '../theme.js';

interface RevealRow {
  text: string;
  secret: boolean;
}

/** Hard-wraps `text` at `width` characters: a key split over two rows is still whole. */
function hardWrap(text: string, width: number): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [''];
  const rows: string[] = [];
  for (let at = 0; at < chars.length; at += width) rows.push(chars.slice(at, at + width).join(''));
  return rows;
}

/** Wraps prose at word boundaries (words longer than the width are hard-wrapped). */
function wordWrap(text: string, width: number): string[] {
  const rows: string[] = [];
  for (const paragraph of text.split('\n')) {
    let row = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const candidate = row ? `${row} ${word}` : word;
      if (Array.from(candidate).length <= width) row = candidate;
      else {
        if (row) rows.push(row);
        const pieces = hardWrap(word, width);
        row = pieces.pop() ?? '';
        rows.push(...pieces);
      }
    }
    rows.push(row);
  }
  return rows;
}

export function revealRows(reveal: Reveal, width: number): RevealRow[] {
  const inner = Math.max(10, width);
  return [
    ...reveal.lines.flatMap((line) => hardWrap(sanitize(line), inner).map((text) => ({ text, secret: true }))),
    { text: '', secret: false },
    ...wordWrap(sanitize(reveal.note), inner).map((text) => ({ text, secret: false })),
  ];
}

export interface RevealScreenProps {
  reveal: Reveal;
  onAcknowledged(): void;
  width: number;
  height: number;
}

export function RevealScreen({ reveal, onAcknowledged, width, height }: RevealScreenProps) {
  const theme = useTheme();
  const rows = revealRows(reveal, width);
  // The title (at most two rows), a blank row, the window, a blank row, the instruction row.
  const titleRows = wordWrap(sanitize(reveal.title), width).slice(0, 2);
  const windowHeight = Math.max(1, height - titleRows.length - 3);
  const maxTop = Math.max(0, rows.length - windowHeight);
  const [top, setTop] = useState(0);
  const [seenAll, setSeenAll] = useState(maxTop === 0);
  const [warning, setWarning] = useState<string | undefined>();
  const shownTop = Math.min(top, maxTop);
  const allSeen = seenAll || shownTop >= maxTop;

  const handle = useCallback(
    (press: KeyPress): boolean => {
      const action = actionFor(REVEAL_KEYS, press);
      const page = press.name.startsWith('page') ? Math.max(1, windowHeight - 1) : 1;
      if (action === 'scroll-down') {
        const next = Math.min(maxTop, shownTop + page);
        setTop(next);
        if (next >= maxTop) setSeenAll(true);
        setWarning(undefined);
      } else if (action === 'scroll-up') {
        setTop(Math.max(0, shownTop - page));
      } else if (action === 'acknowledge') {
        if (allSeen) onAcknowledged();
        else setWarning('Scroll down (j) to the last line first: every line must have been on screen.');
      } else if (press.name === 'enter' || press.name === 'esc' || press.name === 'ctrl+c' || press.name === 'q') {
        setWarning('This screen closes only with y, once the keys and the token are stored safely.');
      }
      // Every other key is swallowed: nothing behind this screen may act while it is open.
      return true;
    },
    [allSeen, maxTop, onAcknowledged, shownTop, windowHeight],
  );
  useKeyHandler('dialog', handle);

  const visible = rows.slice(shownTop, shownTop + windowHeight);
  const position = maxTop > 0 ? ` Lines ${shownTop + 1}-${shownTop + visible.length} of ${rows.length} (j/k scroll).` : '';
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {titleRows.map((row, index) => (
        <Box key={`title-${index}`} height={1} width={width} overflow="hidden">
          <Text bold color={theme.color('accent')} wrap="truncate-end">
            {row}
          </Text>
        </Box>
      ))}
      <Box height={1} width={width} overflow="hidden">
        <Text dimColor wrap="truncate-end">
          Shown once.{position}
        </Text>
      </Box>
      <Box flexDirection="column" height={windowHeight} width={width} overflow="hidden">
        {visible.map((row, index) => (
          <Box key={shownTop + index} height={1} width={width} overflow="hidden">
            <Text wrap="truncate-end" {...(row.secret ? { bold: true } : {})}>
              {row.text}
            </Text>
          </Box>
        ))}
      </Box>
      <Box height={1} />
      <Box height={1} width={width} overflow="hidden">
        {warning ? (
          <Text color={theme.color('warning')} wrap="truncate-end">
            {warning}
          </Text>
        ) : (
          <Text wrap="truncate-end">
            {allSeen ? 'Press ' : 'Scroll down (j) to see every line, then press '}
            <Text bold color={theme.color('accent')}>
              y
            </Text>{' '}
            once they are stored safely. They are not shown again.
          </Text>
        )}
      </Box>
    </Box>
  );
}

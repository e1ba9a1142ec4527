/** Every key of every screen, generated from keymap.ts (the same tables the handlers use). */
import { Box, Text } from 'ink';
import { useCallback, useMemo, useState } from 'react';
import { PaneTitle } from '../components/PaneTitle.js';
import { useKeyHandler } from '../hooks/keys.js';
import {
  actionFor,
  describeBinding,
  describeKeys,
  DIALOG_KEYS,
  FIELD_EDIT_KEYS,
  GLOBAL_KEYS,
  HELP_KEYS,
  HOME_KEYS,
  PROFILE_KEYS,
  REVEAL_KEYS,
  SETUP_KEYS,
  UNSEAL_KEYS,
  type KeyBinding,
  type KeyPress,
  type KeyServer,
} from '../keymap.js';
import { useTheme } from '../theme.js';

const SECTIONS: readonly { title: string; bindings: readonly KeyBinding[] }[] = [
  { title: 'Everywhere', bindings: GLOBAL_KEYS },
  { title: 'Home screen', bindings: HOME_KEYS },
  { title: 'Setup screen', bindings: SETUP_KEYS },
  { title: 'Profile screen', bindings: PROFILE_KEYS },
  { title: 'Profile screen, editing a field (typing enters text)', bindings: FIELD_EDIT_KEYS },
  { title: 'Questions (dialogs)', bindings: DIALOG_KEYS },
  { title: 'Unseal keys (typed, masked)', bindings: UNSEAL_KEYS },
  { title: 'Unseal keys and root token (shown once after init)', bindings: REVEAL_KEYS },
  { title: 'This help', bindings: HELP_KEYS },
];

type HelpLine = { kind: 'title'; text: string } | { kind: 'key'; keys: string; text: string } | { kind: 'blank' };

/** The help's lines, naming the profile's server where a key acts on it. */
export function helpLines(server: KeyServer): HelpLine[] {
  return SECTIONS.flatMap((section, index) => [
    ...(index > 0 ? [{ kind: 'blank' } as const] : []),
    { kind: 'title', text: section.title } as const,
    ...section.bindings.map((binding) => ({ kind: 'key', keys: describeKeys(binding.keys), text: describeBinding(binding, server) }) as const),
  ]);
}

const KEYS_WIDTH = 18;

export function HelpScreen({ server, width, height }: { server: KeyServer; width: number; height: number }) {
  const theme = useTheme();
  const lines = useMemo(() => helpLines(server), [server]);
  const [top, setTop] = useState(0);
  const listHeight = Math.max(1, height - 1);
  const maxTop = Math.max(0, lines.length - listHeight);

  const handle = useCallback(
    (press: KeyPress): boolean => {
      const action = actionFor(HELP_KEYS, press);
      const step = press.name.startsWith('page') ? Math.max(1, listHeight - 1) : 1;
      if (action === 'scroll-down') setTop((value) => Math.min(maxTop, value + step));
      else if (action === 'scroll-up') setTop((value) => Math.max(0, value - step));
      // `close` (esc, ?) is left to the global keys, which know where to go back to.
      else return false;
      return true;
    },
    [listHeight, maxTop],
  );
  useKeyHandler('screen', handle);

  const shownTop = Math.min(top, maxTop);
  const visible = lines.slice(shownTop, shownTop + listHeight);
  const position = maxTop > 0 ? `${shownTop + 1}-${shownTop + visible.length} of ${lines.length}, j/k scroll` : undefined;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title="Keys" width={width} {...(position ? { note: position } : {})} />
      {visible.map((line, index) => {
        const key = shownTop + index;
        if (line.kind === 'blank') return <Text key={key}> </Text>;
        if (line.kind === 'title')
          return (
            <Text key={key} bold color={theme.color('accent')} wrap="truncate-end">
              {line.text}
            </Text>
          );
        return (
          <Box key={key} height={1} overflow="hidden">
            <Box width={KEYS_WIDTH} flexShrink={0}>
              <Text bold wrap="truncate-end">
                {'  '}
                {line.keys}
              </Text>
            </Box>
            <Text wrap="truncate-end">{line.text}</Text>
          </Box>
        );
      })}
    </Box>
  );
}

import { Text } from 'ink';
import { describeKeys, type KeyBinding } from '../keymap.js';
import { useTheme } from '../theme.js';

/** The footer: the keys of the current screen, one row, cut to the width. */
export function KeyHints({ bindings, notice }: { bindings: readonly KeyBinding[]; notice?: string }) {
  const theme = useTheme();
  if (notice) {
    return (
      <Text color={theme.color('warning')} wrap="truncate-end">
        {notice}
      </Text>
    );
  }
  const shown = bindings.filter((binding) => binding.footer);
  return (
    <Text wrap="truncate-end">
      {shown.map((binding, index) => (
        <Text key={`${binding.action}-${index}`}>
          {index > 0 ? '  ' : ''}
          <Text bold color={theme.color('accent')}>
            {describeKeys(binding.keys)}
          </Text>{' '}
          <Text dimColor>{binding.label}</Text>
        </Text>
      ))}
    </Text>
  );
}

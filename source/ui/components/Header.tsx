import { Box, Text } from 'ink';
import type { Screen } from '../state/app-state.js';
import { useTheme } from '../theme.js';

const TABS: readonly { screen: Screen; title: string }[] = [
  { screen: 'home', title: 'Home' },
  { screen: 'setup', title: 'Setup' },
  { screen: 'profile', title: 'Profile' },
  { screen: 'help', title: 'Help' },
];

/** One row: the product, the screens (current one highlighted), the profile name and the server it sets up. */
export function Header({ screen, profileName, serverName, width }: { screen: Screen; profileName: string; serverName: string; width: number }) {
  const theme = useTheme();
  return (
    <Box height={1} width={width} overflow="hidden">
      <Text bold color={theme.color('accent')} wrap="truncate-end">
        picluster-vault-tui{' '}
      </Text>
      {TABS.map((tab) => (
        <Text key={tab.screen} wrap="truncate-end" {...(tab.screen === screen ? { inverse: true, bold: true } : { dimColor: true })}>
          {tab.screen === screen ? `[${tab.title}]` : ` ${tab.title} `}
        </Text>
      ))}
      <Box flexGrow={1} justifyContent="flex-end">
        <Text dimColor wrap="truncate-start">
          profile: {profileName} ({serverName})
        </Text>
      </Box>
    </Box>
  );
}

/**
 * Where the setup stands: the target of the profile, what is running now, and how the last run
 * ended — for a failure its message and the hint saying how to fix it.
 */
import { Box, Text } from 'ink';
import { memo, type ReactNode } from 'react';
import type { Profile } from '../../profile/schema.js';
import { serverOf } from '../../core/server.js';
import { describeClusterStatus } from '../../services/cluster-status.js';
import type { SetupState } from '../state/setup-state.js';
import { useTheme } from '../theme.js';
import { describeSeal, describeServer, type VaultStatusReading } from '../vault-status.js';
import { formatDuration, sanitize } from './text.js';

export function describeTarget(profile: Profile): string {
  if (profile.host.transport === 'local') return 'this machine (local)';
  return `ssh ${profile.host.user}@${profile.host.address}:${profile.host.port}`;
}

const LABEL_WIDTH = 9;

/** A labelled line; `wrap` lets long values (results, messages) continue on the next rows (`rows` fixes how many). */
function Field({ label, wrap = false, rows, children }: { label: string; wrap?: boolean; rows?: number; children: ReactNode }) {
  return (
    <Box flexShrink={0} {...(wrap ? (rows === undefined ? {} : { height: rows }) : { height: 1 })} overflow="hidden">
      <Box width={LABEL_WIDTH} flexShrink={0}>
        <Text dimColor>{label}</Text>
      </Box>
      <Text wrap={wrap ? 'wrap' : 'truncate-end'}>{children}</Text>
    </Box>
  );
}

export const StatusPane = memo(function StatusPane({
  profileName,
  profile,
  setup,
  unsavedChanges,
  height,
  width,
}: {
  profileName: string;
  profile: Profile;
  setup: SetupState;
  unsavedChanges: boolean;
  height: number;
  width: number;
}) {
  const theme = useTheme();
  const current = setup.steps.find((step) => step.id === setup.currentStepId);
  const last = setup.last;
  const failedTitle = last?.failedStepId ? (setup.steps.find((step) => step.id === last.failedStepId)?.title ?? last.failedStepId) : undefined;
  const driftSteps = setup.steps.filter((step) => step.state === 'drift');

  let now: ReactNode;
  if (setup.run === 'cancelling') now = <Text color={theme.color('warning')}>cancelling...</Text>;
  else if (setup.run === 'running')
    now = current ? (
      <Text color={theme.color('running')}>
        {setup.mode === 'check' ? 'checking' : current.applying ? 'applying' : 'checking'} {sanitize(current.title)}
      </Text>
    ) : (
      <Text color={theme.color('running')}>starting {setup.mode === 'check' ? 'checks' : 'setup'}...</Text>
    );
  else now = <Text dimColor>idle</Text>;

  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <Field label="Profile">
        {profileName}
        {unsavedChanges ? <Text color={theme.color('warning')}> (unsaved changes)</Text> : null}
      </Field>
      <Field label="Target">{sanitize(describeTarget(profile))}</Field>
      <Field label={serverOf(profile).name}>
        {sanitize(profile.vault.version)}
        {profile.vault.nodeIp ? ` at ${sanitize(profile.vault.nodeIp)}` : ''}
      </Field>
      {setup.vault ? <VaultState reading={setup.vault} width={width} /> : null}
      {setup.cluster ? (
        <Field label="Store">
          <Text color={theme.color(setup.cluster.store?.ready === true ? 'success' : 'warning')}>{sanitize(describeClusterStatus(setup.cluster))}</Text>
        </Field>
      ) : null}
      <Field label="Now" wrap>
        {now}
      </Field>
      {last ? <LastResult last={last} failedTitle={failedTitle} /> : null}
      {!last && setup.resume ? (
        <Field label="Last" wrap>
          <Text color={theme.color('warning')}>{sanitize(setup.resume)}</Text>
        </Field>
      ) : null}
      {last?.message && (last.result === 'failed' || last.result === 'crashed' || (last.result === 'cancelled' && last.message !== 'cancelled')) ? (
        <Text color={theme.color(last.result === 'cancelled' ? 'warning' : 'error')} wrap="wrap">
          {sanitize(last.message)}
        </Text>
      ) : null}
      {last?.hint ? (
        <Text wrap="wrap">
          <Text bold>Hint: </Text>
          {sanitize(last.hint)}
        </Text>
      ) : null}
      {last?.mode === 'check'
        ? driftSteps.map((step) => (
            <Text key={step.id} color={theme.color('warning')} wrap="wrap">
              {theme.glyphs.state.drift} {sanitize(step.title)}
              {step.detail ? `: ${sanitize(step.detail)}` : ''}
            </Text>
          ))
        : null}
    </Box>
  );
});

/** The server as `vault status` / `bao status` sees it, read from this machine; a failure is one line, never a crash. */
function VaultState({ reading, width }: { reading: VaultStatusReading; width: number }) {
  const theme = useTheme();
  if (reading.kind !== 'status') {
    const text = `${reading.kind === 'no-ca' ? 'not checked' : 'unreachable'}: ${sanitize(reading.reason)}`;
    // Two rows at most: enough for the reason (address, error code) without pushing the run's state out.
    const rows = Math.min(2, Math.max(1, Math.ceil(Array.from(text).length / Math.max(1, width - LABEL_WIDTH))));
    return (
      <Field label="State" wrap rows={rows}>
        <Text color={theme.color(reading.kind === 'no-ca' ? 'muted' : 'error')}>{text}</Text>
      </Field>
    );
  }
  const { status } = reading;
  return (
    <>
      <Field label="State">
        <Text color={theme.color(status.sealed ? 'warning' : 'success')}>{describeSeal(status)}</Text>
      </Field>
      <Field label="Server">{sanitize(describeServer(status))}</Field>
    </>
  );
}

function LastResult({ last, failedTitle }: { last: NonNullable<SetupState['last']>; failedTitle: string | undefined }) {
  const theme = useTheme();
  const took = last.durationMs === undefined ? '' : ` in ${formatDuration(last.durationMs)}`;
  const counts = last.counts;
  const tally = counts ? `${counts.done} done, ${counts.todo} todo, ${counts.drift} drift${counts.failed ? `, ${counts.failed} failed` : ''}` : '';
  switch (last.result) {
    case 'ok':
      return (
        <Field label="Last" wrap>
          <Text color={theme.color('success')}>{last.mode === 'check' ? `checked${took}: all done` : `setup complete${took}`}</Text>
        </Field>
      );
    case 'drift':
      return (
        <Field label="Last" wrap>
          <Text color={theme.color('warning')}>
            checked{took}: {tally}
          </Text>
        </Field>
      );
    case 'failed':
      return (
        <Field label="Last" wrap>
          <Text color={theme.color('error')}>
            {last.mode === 'check' ? `checked${took}: ${tally}; ` : ''}failed at {sanitize(failedTitle ?? 'a step')}
          </Text>
        </Field>
      );
    case 'cancelled':
      return (
        <Field label="Last" wrap>
          <Text color={theme.color('warning')}>cancelled{failedTitle ? ` at ${sanitize(failedTitle)}` : ''}; run again to resume</Text>
        </Field>
      );
    case 'crashed':
      return (
        <Field label="Last" wrap>
          <Text color={theme.color('error')}>could not run</Text>
        </Field>
      );
  }
}

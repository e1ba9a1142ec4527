/**
 * The Home screen, the first one once the setup is complete: a big seal indicator, the fields of
 * `status` (refreshed every few seconds), and one key per day-2 task — `u` unseal, `r` re-check
 * (drift table), `enter`/`F` fix, `s` seal, `l` live logs, `b` snapshot.
 *
 * The lower pane shows, in this order of precedence: the live journal while `l` follows it, the
 * drift table once a re-check ran, the journal after `l` stopped, or what the keys do.
 */
import { Box, Text } from 'ink';
import { useCallback, type Dispatch } from 'react';
import type { LogBuffer } from '../../core/log-buffer.js';
import type { ServerFlavor } from '../../core/server.js';
import type { RunMode } from '../../core/step.js';
import type { StatusReport, UnitStatus } from '../../services/status.js';
import { CERT_WARN_DAYS, describeHa } from '../../services/status.js';
import { describeClusterStatus } from '../../services/cluster-status.js';
import { Dialog } from '../components/Dialog.js';
import { LogPane } from '../components/LogPane.js';
import { PaneTitle } from '../components/PaneTitle.js';
import { RenderBoundary } from '../components/RenderBoundary.js';
import { visibleWindow } from '../components/StepList.js';
import { fit, formatDuration, sanitize, unitName } from '../components/text.js';
import type { HomeControls } from '../hooks/useHome.js';
import { useKeyHandler } from '../hooks/keys.js';
import { actionFor, DIALOG_KEYS, HOME_KEYS, type KeyPress } from '../keymap.js';
import { driftRows, fixableSteps, type HomeAction, type HomeState } from '../state/home-state.js';
import type { SetupState, StepRow } from '../state/setup-state.js';
import { useTheme, type ColorName } from '../theme.js';

/** The step `u` runs on its own (steps/vault/unseal.ts UNSEAL_STEP_ID; not imported: the UI loads no step code). */
const UNSEAL_STEP = 'vault.unseal';
const INDICATOR_WIDTH = 21;
const INDICATOR_ROWS = 3;
const FIELD_ROWS = 6;
const LABEL_WIDTH = 13;

export interface HomeScreenProps {
  home: HomeState;
  dispatch: Dispatch<HomeAction>;
  setup: SetupState;
  startRun(mode: RunMode, only?: readonly string[]): void;
  controls: HomeControls;
  /** The profile's server: named in the summary, the dialogs and the unit rows. */
  server: ServerFlavor;
  width: number;
  height: number;
}

export interface HomeLayout {
  fieldRows: number;
  warningRows: number;
  /** The lower pane including its title row. */
  paneHeight: number;
}

export function homeLayout(height: number, warnings: number, actionRows = 1): HomeLayout {
  const fieldRows = Math.max(0, Math.min(FIELD_ROWS, height - INDICATOR_ROWS));
  const afterFields = Math.max(0, height - INDICATOR_ROWS - fieldRows);
  // The action line always has its rows; warnings take up to two while the lower pane keeps four.
  const warningRows = Math.max(0, Math.min(warnings, 2, afterFields - actionRows - 4));
  return { fieldRows, warningRows, paneHeight: Math.max(0, afterFields - actionRows - warningRows) };
}

/** The indicator's word and colour: what a user glancing at a phone must see first. */
export function sealWord(report: StatusReport | undefined): { text: string; color: ColorName } {
  if (!report) return { text: 'CHECKING...', color: 'muted' };
  switch (report.state) {
    case 'unsealed':
      // Unsealed but a standby with no active node (for seconds after an unseal): not serving yet.
      return { text: 'UNSEALED', color: report.vault.role === 'waiting-for-leader' ? 'warning' : 'success' };
    case 'sealed':
      return { text: 'SEALED', color: 'error' };
    case 'uninitialized':
      return { text: 'NOT INITIALISED', color: 'warning' };
    case 'unreachable':
      return { text: 'UNREACHABLE', color: 'error' };
    case 'error':
      return { text: 'UNKNOWN', color: 'warning' };
  }
}

export function HomeScreen({ home, dispatch, setup, startRun, controls, server, width, height }: HomeScreenProps) {
  const theme = useTheme();
  const report = home.status;
  const fixing = setup.run !== 'idle' && setup.mode === 'apply';
  const rows = home.rechecked ? driftRows(setup.steps, fixing) : [];
  const selected = Math.min(home.selected, Math.max(0, rows.length - 1));
  const idle = setup.run === 'idle';
  const hasUnsealStep = setup.steps.some((row) => row.id === UNSEAL_STEP);

  const handle = useCallback(
    (press: KeyPress): boolean => {
      if (press.name === 'esc' && home.logs !== 'off') {
        controls.stopLogs();
        return true;
      }
      const action = actionFor(HOME_KEYS, press);
      switch (action) {
        case undefined:
          return false;
        case 'unseal':
          if (!hasUnsealStep) return false;
          if (idle) startRun('apply', [UNSEAL_STEP]);
          return true;
        case 'recheck':
          if (idle) {
            controls.retryHost();
            dispatch({ type: 'recheck-started' });
            startRun('check');
          }
          return true;
        case 'fix': {
          const row = rows[selected];
          if (!row) return false;
          if (idle) {
            dispatch({ type: 'message', message: undefined });
            startRun('apply', [row.id]);
          }
          return true;
        }
        case 'fix-all': {
          const ids = fixableSteps(rows);
          if (idle && ids.length > 0) {
            dispatch({ type: 'message', message: undefined });
            startRun('apply', ids);
          }
          return true;
        }
        case 'seal':
          dispatch({ type: 'seal-asked' });
          return true;
        case 'logs':
          controls.toggleLogs();
          return true;
        case 'snapshot':
          controls.snapshot();
          return true;
        case 'select-down':
          dispatch({ type: 'select', delta: 1, rows: rows.length });
          return true;
        case 'select-up':
          dispatch({ type: 'select', delta: -1, rows: rows.length });
          return true;
      }
    },
    [controls, dispatch, hasUnsealStep, home.logs, idle, rows, selected, startRun],
  );
  useKeyHandler('screen', handle);

  const handleSealQuestion = useCallback(
    (press: KeyPress): boolean => {
      if (press.name === 'ctrl+c') return false;
      const action = actionFor(DIALOG_KEYS, press);
      if (action === 'yes') controls.seal();
      else if (action === 'no' || action === 'cancel' || action === 'submit') dispatch({ type: 'seal-dismissed' });
      return true;
    },
    [controls, dispatch],
  );
  useKeyHandler('dialog', handleSealQuestion, home.confirmSeal);

  if (home.confirmSeal) {
    return (
      <Dialog
        title={`Seal ${server.name}?`}
        question={`${server.name} at ${report?.vault.address ?? 'the profile address'} stops serving secrets until it is unsealed again (u here, or the unseal command). Seal it now?`}
        detail="The root token from custody is used (asked for when custody has none)."
        keys="y seal  n/esc/enter keep it unsealed"
        width={width}
        height={height}
      />
    );
  }

  const warnings = report?.warnings ?? [];
  // A message that does not fit one row (a snapshot's folder) gets a second one.
  const actionRows = idle && home.message && Array.from(home.message.text).length > width ? 2 : 1;
  const layout = homeLayout(height, warnings.length, actionRows);
  const shownWarnings = warnings.slice(0, layout.warningRows);
  if (warnings.length > layout.warningRows && shownWarnings.length > 0) {
    shownWarnings[shownWarnings.length - 1] = `${shownWarnings.at(-1)} (+${warnings.length - layout.warningRows} more: status prints all)`;
  }
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Box height={Math.min(INDICATOR_ROWS, height)} width={width} overflow="hidden">
        <SealIndicator report={report} />
        <Box flexDirection="column" marginLeft={1} width={Math.max(0, width - INDICATOR_WIDTH - 1)} overflow="hidden">
          <SummaryLines report={report} server={server} width={Math.max(0, width - INDICATOR_WIDTH - 1)} />
        </Box>
      </Box>
      {layout.fieldRows > 0 ? <StatusFields report={report} hostProblem={home.hostProblem} server={server} width={width} rows={layout.fieldRows} /> : null}
      {shownWarnings.map((warning, index) => (
        <Box key={index} height={1} width={width} overflow="hidden">
          <Text color={theme.color('warning')} wrap="truncate-end">
            warning: {sanitize(warning)}
          </Text>
        </Box>
      ))}
      <Box height={actionRows} width={width} overflow="hidden">
        <ActionLine home={home} setup={setup} />
      </Box>
      {layout.paneHeight > 0 ? <LowerPane home={home} setup={setup} rows={rows} selected={selected} journal={controls.journal} server={server} width={width} height={layout.paneHeight} /> : null}
    </Box>
  );
}

function SealIndicator({ report }: { report: StatusReport | undefined }) {
  const theme = useTheme();
  const word = sealWord(report);
  return (
    <Box
      width={INDICATOR_WIDTH}
      height={INDICATOR_ROWS}
      flexShrink={0}
      borderStyle={theme.unicode ? 'bold' : 'classic'}
      borderColor={theme.color(word.color)}
      justifyContent="center"
    >
      <Text bold color={theme.color(word.color)} wrap="truncate-end">
        {word.text}
      </Text>
    </Box>
  );
}

function clock(iso: string): string {
  const date = new Date(iso);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

/** Beside the indicator: the server and its API address, when it was read, and what to do about the state. */
function SummaryLines({ report, server, width }: { report: StatusReport | undefined; server: ServerFlavor; width: number }) {
  const theme = useTheme();
  if (!report) {
    return (
      <Text dimColor wrap="truncate-end">
        reading {server.name}'s status...
      </Text>
    );
  }
  const next: Record<StatusReport['state'], string> = {
    unsealed: report.vault.role === 'waiting-for-leader' ? 'unsealed, waiting for leadership: not serving yet' : 'serving secrets',
    sealed: `sealed, unseal progress ${report.vault.unseal ? `${report.vault.unseal.progress}/${report.vault.unseal.threshold}` : '?'}: press u to unseal`,
    uninitialized: 'not initialised: run the setup (tab to Setup)',
    unreachable: 'no answer from the API',
    error: `cannot ask ${server.name}`,
  };
  return (
    <>
      <Text wrap="truncate-end">
        <Text dimColor>{server.name} API </Text>
        {sanitize(report.vault.address ?? 'no address in the profile')}
      </Text>
      <Text wrap="truncate-end">
        <Text color={theme.color(sealWord(report).color)}>{next[report.state]}</Text>
        <Text dimColor> - read {clock(report.checkedAt)}</Text>
      </Text>
      <Text color={theme.color('error')} wrap="truncate-end">
        {report.vault.error ? fit(sanitize(report.vault.error), width) : ' '}
      </Text>
    </>
  );
}

function days(count: number): string {
  return `${count} day${count === 1 ? '' : 's'}`;
}

function yesNo(value: boolean | null): string {
  return value === null ? 'unknown' : value ? 'yes' : 'no';
}

function unitText(unit: UnitStatus | null): string {
  return unit ? `${unit.active}, ${unit.enabled}` : 'unknown';
}

interface FieldSpec {
  label: string;
  value: string;
  /** Shown instead of `value` when that does not fit. */
  short?: string;
  color?: ColorName;
}

/** The `status` fields in two columns (six rows at most). */
function statusFields(report: StatusReport | undefined, hostProblem: string | undefined, server: ServerFlavor): [FieldSpec[], FieldSpec[]] {
  const vault = report?.vault;
  const unseal = vault?.unseal;
  const certificate = vault?.certificate;
  const host = report?.host;
  const left: FieldSpec[] = [
    { label: 'Initialised', value: yesNo(vault?.initialized ?? null) },
    { label: 'Sealed', value: yesNo(vault?.sealed ?? null), ...(vault?.sealed ? { color: 'error' as const } : vault?.sealed === false ? { color: 'success' as const } : {}) },
    { label: 'Unseal', value: unseal ? `${unseal.progress}/${unseal.threshold} (${unseal.shares} key shares)` : 'unknown' },
    { label: 'Version', value: vault?.version ?? 'unknown' },
    { label: 'Storage', value: vault?.storageType ?? 'unknown' },
    clusterField(report),
  ];
  let hostLine: FieldSpec;
  if (!report) hostLine = { label: 'Host', value: 'unknown' };
  else if (host === null) hostLine = { label: 'Host', value: hostProblem ? `not asked (r retries): ${hostProblem}` : 'not asked', color: hostProblem ? 'error' : 'muted' };
  else if (host && !host.reachable) hostLine = { label: 'Host', value: `unreachable: ${host.error ?? ''}`, color: 'error' };
  else hostLine = { label: 'Host', value: host?.transport ?? 'unknown' };
  const unitColor = (unit: UnitStatus | null | undefined): ColorName | undefined => (unit ? (unit.active === 'failed' ? 'error' : undefined) : 'muted');
  const vaultUnit = host?.services.vault;
  const unsealUnit = host?.services.vaultUnseal;
  // Each row is named after the unit read (the report's), else the profile's server's.
  const vaultLabel = unitName(vaultUnit?.unit ?? server.unit);
  const unsealLabel = unitName(unsealUnit?.unit ?? server.unsealUnit);
  const right: FieldSpec[] = [
    {
      label: 'HA mode',
      value: vault ? describeHa(vault) : 'unknown',
      ...(vault?.role === 'waiting-for-leader' ? { short: 'waiting for leadership', color: 'warning' as const } : {}),
    },
    certificate
      ? {
          label: 'Certificate',
          // The date only when there is room: a certificate due for renewal says so instead.
          value:
            certificate.daysLeft < 0
              ? `expired ${days(-certificate.daysLeft)} ago`
              : certificate.daysLeft <= CERT_WARN_DAYS
                ? `${days(certificate.daysLeft)} left, renewal due`
                : `${days(certificate.daysLeft)} left (${certificate.notAfter.slice(0, 10)})`,
          ...(certificate.daysLeft > CERT_WARN_DAYS ? { short: `${days(certificate.daysLeft)} left` } : {}),
          ...(certificate.daysLeft <= CERT_WARN_DAYS ? { color: 'warning' as const } : {}),
        }
      : { label: 'Certificate', value: 'unknown' },
    hostLine,
    { label: vaultLabel, value: host ? unitText(vaultUnit ?? null) : '-', ...(unitColor(vaultUnit) ? { color: unitColor(vaultUnit)! } : {}) },
    { label: unsealLabel, value: host ? unitText(unsealUnit ?? null) : '-', ...(unitColor(unsealUnit) ? { color: unitColor(unsealUnit)! } : {}) },
  ];
  return [left, right];
}

/** The ClusterSecretStore as ESO reports it, once the cluster phase created it and the host is asked. */
function clusterField(report: StatusReport | undefined): FieldSpec {
  const cluster = report?.cluster;
  if (!cluster) return { label: 'Store', value: report && report.host !== null ? 'not configured' : 'unknown', color: 'muted' };
  return { label: 'Store', value: describeClusterStatus(cluster), color: cluster.store?.ready === true ? 'success' : 'warning' };
}

/** A column's label width: LABEL_WIDTH, or more when a label needs it (openbao-unseal). */
function labelWidth(fields: readonly FieldSpec[]): number {
  return Math.max(LABEL_WIDTH, ...fields.map((field) => Array.from(field.label).length + 1));
}

function StatusFields({
  report,
  hostProblem,
  server,
  width,
  rows,
}: {
  report: StatusReport | undefined;
  hostProblem: string | undefined;
  server: ServerFlavor;
  width: number;
  rows: number;
}) {
  const theme = useTheme();
  const [left, right] = statusFields(report, hostProblem, server);
  const leftWidth = Math.floor(width / 2);
  const rightWidth = width - leftWidth;
  const leftLabels = labelWidth(left);
  const rightLabels = labelWidth(right);
  const cell = (field: FieldSpec | undefined, cellWidth: number, labels: number) => {
    if (!field) return null;
    const room = Math.max(1, cellWidth - labels - 1);
    const value = field.short !== undefined && Array.from(field.value).length > room ? field.short : field.value;
    return (
      <Box width={cellWidth} flexShrink={0} overflow="hidden">
        <Box width={labels} flexShrink={0}>
          <Text dimColor wrap="truncate-end">
            {field.label}
          </Text>
        </Box>
        <Text wrap="truncate-end" {...(field.color ? { color: theme.color(field.color) } : {})}>
          {fit(sanitize(value), room)}
        </Text>
      </Box>
    );
  };
  return (
    <Box flexDirection="column" height={rows} width={width} overflow="hidden">
      {left.slice(0, rows).map((field, index) => (
        <Box key={field.label} height={1} width={width} overflow="hidden">
          {cell(field, leftWidth, leftLabels)}
          {cell(right[index], rightWidth, rightLabels)}
        </Box>
      ))}
    </Box>
  );
}

/** One line: the action under way, or how the last one ended. */
function ActionLine({ home, setup }: { home: HomeState; setup: SetupState }) {
  const theme = useTheme();
  const current = setup.steps.find((row) => row.id === setup.currentStepId);
  if (setup.run !== 'idle') {
    const verb = setup.run === 'cancelling' ? 'cancelling' : setup.mode === 'check' ? 'checking' : current?.applying ? 'fixing' : 'checking';
    return (
      <Text color={theme.color('running')} wrap="truncate-end">
        {verb} {current ? sanitize(current.title) : '...'}
      </Text>
    );
  }
  if (home.message) {
    const tone: Record<typeof home.message.tone, ColorName> = { info: 'running', success: 'success', error: 'error' };
    return (
      <Text color={theme.color(tone[home.message.tone])} wrap="wrap">
        {sanitize(home.message.text)}
      </Text>
    );
  }
  const last = setup.last;
  if (home.rechecked && last) {
    const took = last.durationMs === undefined ? '' : ` in ${formatDuration(last.durationMs)}`;
    const failedTitle = last.failedStepId ? (setup.steps.find((row) => row.id === last.failedStepId)?.title ?? last.failedStepId) : undefined;
    if (last.result === 'crashed') return <Text color={theme.color('error')} wrap="truncate-end">could not run: {sanitize(last.message ?? '')}</Text>;
    if (last.mode === 'check') {
      const counts = last.counts;
      const tally = counts ? `${counts.done} done, ${counts.todo} todo, ${counts.drift} drift${counts.failed ? `, ${counts.failed} not checked` : ''}` : '';
      return (
        <Text color={theme.color(last.result === 'ok' ? 'success' : 'warning')} wrap="truncate-end">
          re-checked{took}: {tally}
        </Text>
      );
    }
    if (last.result === 'ok') return <Text color={theme.color('success')} wrap="truncate-end">fixed{took}: r checks again</Text>;
    return (
      <Text color={theme.color(last.result === 'cancelled' ? 'warning' : 'error')} wrap="truncate-end">
        fix {last.result === 'cancelled' ? 'cancelled' : 'failed'} at {sanitize(failedTitle ?? 'a step')}
        {last.message && last.result !== 'cancelled' ? `: ${sanitize(last.message)}` : ''}
      </Text>
    );
  }
  return (
    <Text dimColor wrap="truncate-end">
      r re-checks every step, l follows the service logs, b takes a snapshot
    </Text>
  );
}

function LowerPane({
  home,
  setup,
  rows,
  selected,
  journal,
  server,
  width,
  height,
}: {
  home: HomeState;
  setup: SetupState;
  rows: StepRow[];
  selected: number;
  journal: LogBuffer;
  server: ServerFlavor;
  width: number;
  height: number;
}) {
  const theme = useTheme();
  const body = Math.max(0, height - 1);
  if (home.logs !== 'off' || (!home.rechecked && journal.total > 0)) {
    const note = home.logs === 'starting' ? 'connecting...' : home.logs === 'following' ? 'following - l or esc stops' : 'stopped - l follows again';
    return (
      <Box flexDirection="column" height={height} width={width} overflow="hidden">
        <PaneTitle title={`Logs: ${unitName(server.unit)}, ${unitName(server.unsealUnit)}`} width={width} note={note} />
        {/* The host's journal streams on its own: a line it cannot draw must not take Home down. */}
        <RenderBoundary part="Logs pane" width={width} height={body}>
          <LogPane buffer={journal} height={body} width={width} follow logTop={0} />
        </RenderBoundary>
      </Box>
    );
  }
  if (!home.rechecked) {
    return (
      <Box flexDirection="column" height={height} width={width} overflow="hidden">
        <PaneTitle title="Drift" width={width} />
        <Text dimColor wrap="wrap">
          {`Press r to re-check every step of the setup against the host and ${server.name} (nothing is changed). Steps that drifted or are not done are listed here; enter fixes the selected one, F fixes them all.`}
        </Text>
      </Box>
    );
  }
  const checking = setup.run !== 'idle' && setup.mode === 'check';
  const note = rows.length === 0 ? undefined : `${rows.length} of ${setup.steps.length} steps - ${theme.unicode ? '↑↓' : 'j/k'} select, enter fix, F all`;
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <PaneTitle title="Drift" width={width} {...(note ? { note } : {})} />
      {rows.length === 0 ? (
        <Text color={theme.color(checking ? 'running' : 'success')} wrap="wrap">
          {checking ? 'checking...' : setup.last?.result === 'crashed' ? 'The re-check could not run (see the line above).' : 'No drift: every step checked is done.'}
        </Text>
      ) : (
        <RenderBoundary part="Drift table" width={width} height={body}>
          <DriftTable rows={rows} selected={selected} width={width} height={body} />
        </RenderBoundary>
      )}
    </Box>
  );
}

const STATE_COLORS: Partial<Record<StepRow['state'], ColorName>> = { drift: 'warning', todo: 'warning', failed: 'error', cancelled: 'warning', running: 'running', pending: 'muted' };
const STATE_WIDTH = 9;

/** Step, state, detail; the selected row marked and kept in view. */
export function DriftTable({ rows, selected, width, height }: { rows: readonly StepRow[]; selected: number; width: number; height: number }) {
  const theme = useTheme();
  const bodyRows = Math.max(0, height - 1);
  const window = visibleWindow(rows, selected, bodyRows);
  const titleWidth = Math.min(41, Math.max(8, ...rows.map((row) => Array.from(row.title).length)) + 1, Math.floor(width / 2));
  const detailWidth = Math.max(1, width - 2 - titleWidth - STATE_WIDTH);
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <Box height={1} width={width} overflow="hidden">
        <Text bold wrap="truncate-end">
          {'  '}
          {'Step'.padEnd(titleWidth)}
          {'State'.padEnd(STATE_WIDTH)}
          Detail
        </Text>
      </Box>
      {window.rows.map((row, index) => {
        const isSelected = window.start + index === selected;
        const color = STATE_COLORS[row.state];
        return (
          <Box key={row.id} height={1} width={width} overflow="hidden">
            <Text wrap="truncate-end">
              <Text color={theme.color('accent')}>{isSelected ? `${theme.glyphs.selected} ` : '  '}</Text>
              <Text {...(isSelected ? { inverse: true } : {})}>{fit(sanitize(row.title), titleWidth - 1).padEnd(titleWidth)}</Text>
              <Text {...(color ? { color: theme.color(color) } : {})}>{(row.state === 'running' ? 'fixing' : row.state).padEnd(STATE_WIDTH)}</Text>
              <Text dimColor>{fit(sanitize(row.detail ?? ''), detailWidth)}</Text>
            </Text>
          </Box>
        );
      })}
    </Box>
  );
}

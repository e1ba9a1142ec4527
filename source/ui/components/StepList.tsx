/**
 * The plan's steps grouped by phase, each with its state icon and duration. Only the rows that fit
 * are rendered: the window keeps the running (or last failed) step in view.
 */
import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import { memo, useEffect, useState } from 'react';
import type { ServerFlavor } from '../../core/server.js';
import type { Phase } from '../../core/step.js';
import type { StepRow } from '../state/setup-state.js';
import { useTheme, type ColorName, type StepVisualState } from '../theme.js';
import { fit, formatDuration, sanitize } from './text.js';

/** A phase's heading; the vault phase (its id stays `vault`) is named after the profile's server. */
export function phaseTitle(phase: Phase, server: Pick<ServerFlavor, 'name'>): string {
  const titles: Record<Phase, string> = { host: 'Host', vault: server.name, cluster: 'Cluster' };
  return titles[phase];
}

const STATE_COLORS: Record<StepVisualState, ColorName> = {
  pending: 'muted',
  running: 'running',
  done: 'success',
  skipped: 'muted',
  failed: 'error',
  cancelled: 'warning',
  drift: 'warning',
  todo: 'warning',
};

type ListRow = { kind: 'phase'; phase: Phase } | { kind: 'step'; step: StepRow };

function flatten(steps: readonly StepRow[]): ListRow[] {
  const rows: ListRow[] = [];
  let phase: Phase | undefined;
  for (const step of steps) {
    if (step.phase !== phase) {
      phase = step.phase;
      rows.push({ kind: 'phase', phase });
    }
    rows.push({ kind: 'step', step });
  }
  return rows;
}

/** The row to keep in view: the running step, else the selected one, else the first failure, else the first pending. */
function focusIndex(rows: readonly ListRow[], selectedId: string | undefined): number {
  const stepAt = (predicate: (step: StepRow) => boolean): number => rows.findIndex((row) => row.kind === 'step' && predicate(row.step));
  const running = stepAt((step) => step.state === 'running');
  if (running >= 0) return running;
  const selected = selectedId === undefined ? -1 : stepAt((step) => step.id === selectedId);
  if (selected >= 0) return selected;
  const failed = stepAt((step) => step.state === 'failed' || step.state === 'cancelled');
  if (failed >= 0) return failed;
  const firstPending = stepAt((step) => step.state === 'pending');
  return firstPending >= 0 ? firstPending : 0;
}

/**
 * The `height` rows to show so that `focus` is visible with a few rows of what comes next below it;
 * the list scrolls only once the focus gets near the bottom (so a phase title stays in view as long as it can).
 */
export function visibleWindow<T>(rows: readonly T[], focus: number, height: number): { start: number; rows: T[] } {
  if (rows.length <= height) return { start: 0, rows: [...rows] };
  const lookahead = Math.min(3, Math.floor(height / 3));
  const start = Math.max(0, Math.min(focus - (height - 1 - lookahead), rows.length - height));
  return { start, rows: rows.slice(start, start + height) };
}

/** Rows out of sight above and below the window, counting the row each marker itself replaces. */
export function hiddenCounts(total: number, start: number, shown: number): { above: number; below: number } {
  if (total <= shown) return { above: 0, below: 0 };
  const after = total - (start + shown);
  return { above: start > 0 ? start + 1 : 0, below: after > 0 ? after + 1 : 0 };
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return <Text dimColor>{formatDuration(Math.max(0, now - since))}</Text>;
}

function StateIcon({ state }: { state: StepVisualState }) {
  const theme = useTheme();
  if (state === 'running') {
    return (
      <Text color={theme.color('running')}>
        <Spinner type={theme.glyphs.spinner} />
      </Text>
    );
  }
  return <Text color={theme.color(STATE_COLORS[state])}>{theme.glyphs.state[state]}</Text>;
}

const DURATION_WIDTH = 7;

export const StepList = memo(function StepList({
  steps,
  height,
  width,
  selectedId,
  server,
}: {
  steps: readonly StepRow[];
  height: number;
  width: number;
  /** Marked with the selection glyph (resume: the step the next run continues from). */
  selectedId?: string | undefined;
  /** The profile's server: the vault phase's heading. */
  server: Pick<ServerFlavor, 'name'>;
}) {
  const theme = useTheme();
  if (steps.length === 0) {
    return (
      <Box height={height} width={width} overflow="hidden">
        <Text dimColor wrap="wrap">
          The plan has no steps.
        </Text>
      </Box>
    );
  }
  const rows = flatten(steps);
  const window = visibleWindow(rows, focusIndex(rows, selectedId), height);
  const hidden = hiddenCounts(rows.length, window.start, window.rows.length);
  const titleWidth = Math.max(4, width - 2 - DURATION_WIDTH - 1);
  // A list taller than its pane says so at the cut edges, so no step is silently out of sight.
  const shown = window.rows.map((row, index) =>
    index === 0 && hidden.above > 0
      ? ({ kind: 'more', text: `… ${hidden.above} more above` } as const)
      : index === window.rows.length - 1 && hidden.below > 0
        ? ({ kind: 'more', text: `… ${hidden.below} more below` } as const)
        : row,
  );
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      {shown.map((row) =>
        row.kind === 'more' ? (
          <Text key={row.text} dimColor wrap="truncate-end">
            {row.text}
          </Text>
        ) : row.kind === 'phase' ? (
          <Text key={`phase-${row.phase}`} bold color={theme.color('accent')} wrap="truncate-end">
            {phaseTitle(row.phase, server)}
          </Text>
        ) : (
          <Box key={row.step.id} height={1} width={width}>
            <StateIcon state={row.step.state} />
            {row.step.id === selectedId ? <Text color={theme.color('accent')}>{theme.glyphs.selected}</Text> : <Text> </Text>}
            <Box width={titleWidth} overflow="hidden">
              <Text
                wrap="truncate-end"
                {...(row.step.id === selectedId ? { bold: true, inverse: true } : row.step.state === 'pending' || row.step.state === 'skipped' ? { dimColor: true } : {})}
              >
                {fit(sanitize(row.step.title), titleWidth)}
              </Text>
            </Box>
            <Box width={DURATION_WIDTH + 1} justifyContent="flex-end">
              {row.step.state === 'running' && row.step.startedAt !== undefined ? (
                <Elapsed since={row.step.startedAt} />
              ) : row.step.durationMs !== undefined ? (
                <Text dimColor>{formatDuration(row.step.durationMs)}</Text>
              ) : null}
            </Box>
          </Box>
        ),
      )}
    </Box>
  );
});

/**
 * The Setup screen's slice: one row per step of the plan and the state of the current run. It is
 * driven by RunnerEvents only (plus the user's run/cancel requests), so the screen shows what the
 * runner says happened — nothing is inferred.
 */
import type { Check, Phase, PlanResult, RunMode, RunnerEvent, StepInfo, StepView } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import { firstUnfinishedStep, lastRunMessage } from '../resume.js';
import type { StepVisualState } from '../theme.js';
import type { ClusterStatus } from '../../services/cluster-status.js';
import type { VaultStatusReading } from '../vault-status.js';

export interface StepRow extends StepInfo {
  state: StepVisualState;
  durationMs?: number;
  /** When the step started (ms since epoch), for the live duration of the running step. */
  startedAt?: number;
  /** Check detail or failure message. */
  detail?: string;
  /** True while apply runs (after the first check said todo/drift). */
  applying?: boolean;
}

export interface RunSummary {
  mode: RunMode;
  result: PlanResult | 'crashed';
  durationMs?: number;
  failedStepId?: string;
  message?: string;
  hint?: string;
  counts?: { done: number; todo: number; drift: number; failed: number };
}

export type RunPhase = 'idle' | 'running' | 'cancelling';

export interface SetupState {
  steps: StepRow[];
  run: RunPhase;
  mode?: RunMode;
  currentStepId?: string;
  last?: RunSummary;
  /** The newest view a step presented (e.g. the self-test table), shown in place of the log. */
  view?: { stepId: string; view: StepView };
  /** What the pane below the steps shows: the live log, or the step's view (`v` switches). */
  lowerPane: 'log' | 'view';
  /**
   * Resume: the step the next run continues from (the first the saved progress does not record as
   * done), selected in the step list until a run starts.
   */
  selectedStepId?: string;
  /** Resume: how the last run (of an earlier session) ended when it did not finish, until a run starts. */
  resume?: string;
  /** The newest reading of Vault's seal status (undefined: never read, or no API address). */
  vault?: VaultStatusReading;
  /** The newest reading of the cluster's ClusterSecretStore (undefined: not configured yet, or never read). */
  cluster?: ClusterStatus;
  /** Bumped whenever a step finishes: the Vault status is read again then (a step may have changed it). */
  vaultRefresh: number;
  /** The log pane shows the newest lines as they arrive. */
  follow: boolean;
  /** When not following: absolute index (as counted by LogBuffer.total) of the top line shown. */
  logTop: number;
}

export type SetupAction =
  | { type: 'plan-loaded'; steps: StepInfo[]; profile?: Profile }
  | { type: 'run-requested'; mode: RunMode }
  | { type: 'cancel-requested' }
  | { type: 'runner-event'; event: RunnerEvent }
  | { type: 'run-crashed'; message: string; hint?: string }
  | { type: 'follow-toggled' }
  | { type: 'log-scrolled'; top: number; follow: boolean }
  | { type: 'lower-pane-toggled' }
  /** undefined: the profile names no API address (any earlier reading is stale). */
  | { type: 'vault-status'; reading: VaultStatusReading | undefined }
  | { type: 'cluster-status'; reading: ClusterStatus | undefined };

export function initialSetupState(steps: StepInfo[] = [], profile?: Profile): SetupState {
  return { steps: rowsFrom(steps, profile), run: 'idle', follow: true, logTop: 0, lowerPane: 'log', vaultRefresh: 0, ...resumeFrom(steps, profile) };
}

/** Where the saved progress says the setup stands: the step to continue from and what happened last time. */
function resumeFrom(steps: StepInfo[], profile: Profile | undefined): Pick<SetupState, 'selectedStepId' | 'resume'> {
  // A setup that never ran has nothing to resume: no step is singled out.
  if (!profile || steps.length === 0 || (!profile.lastRun && Object.keys(profile.progress).length === 0)) return {};
  const selected = firstUnfinishedStep(profile, steps);
  const resume = lastRunMessage(profile, steps);
  return { ...(selected === undefined ? {} : { selectedStepId: selected }), ...(resume === undefined ? {} : { resume }) };
}

/** Rows before any run: saved progress is shown for orientation (the next run's checks are the truth). */
function rowsFrom(steps: StepInfo[], profile: Profile | undefined): StepRow[] {
  return steps.map((info) => {
    const saved = profile?.progress[info.id];
    const row: StepRow = { ...info, state: 'pending' };
    if (saved?.state === 'done') row.state = 'done';
    else if (saved?.state === 'failed') row.state = 'failed';
    else if (saved?.state === 'cancelled' || saved?.state === 'running') row.state = 'cancelled';
    if (saved?.durationMs !== undefined) row.durationMs = saved.durationMs;
    if (saved?.error !== undefined) row.detail = saved.error;
    return row;
  });
}

function updateRow(state: SetupState, stepId: string, change: (row: StepRow) => StepRow): StepRow[] {
  return state.steps.map((row) => (row.id === stepId ? change(row) : row));
}

function checkState(check: Check): StepVisualState {
  return check.state === 'done' ? 'done' : check.state === 'drift' ? 'drift' : 'todo';
}

function countChecks(checks: Record<string, Check>, steps: StepRow[]): RunSummary['counts'] {
  const counts = { done: 0, todo: 0, drift: 0, failed: 0 };
  for (const row of steps) {
    const check = checks[row.id];
    if (check) counts[check.state]++;
    else if (row.state === 'failed') counts.failed++;
  }
  return counts;
}

function applyRunnerEvent(state: SetupState, event: RunnerEvent): SetupState {
  switch (event.type) {
    case 'plan-start': {
      // The plan the runner actually runs is authoritative (the profile may have changed the steps),
      // except when it runs a part of the plan shown (`u` runs the unseal step alone): the other rows stay.
      const known = new Set(state.steps.map((row) => row.id));
      const running = new Set(event.steps.map((info) => info.id));
      const part = event.steps.length < state.steps.length && event.steps.every((info) => known.has(info.id));
      const steps: StepRow[] = part
        ? state.steps.map((row) => (running.has(row.id) ? { id: row.id, phase: row.phase, title: row.title, state: 'pending' } : row))
        : event.steps.map((info) => ({ ...info, state: 'pending' }));
      // The new run takes over from what the saved progress said about the last one.
      const { last: _previous, currentStepId: _current, selectedStepId: _selected, resume: _resume, ...rest } = state;
      return { ...rest, steps, mode: event.mode, run: state.run === 'cancelling' ? 'cancelling' : 'running' };
    }
    case 'step-start':
      return {
        ...state,
        currentStepId: event.stepId,
        steps: updateRow(state, event.stepId, ({ detail: _detail, durationMs: _duration, applying: _applying, ...row }) => ({
          ...row,
          state: 'running',
          startedAt: event.at,
        })),
      };
    case 'step-checked':
      if (state.mode !== 'check') {
        return { ...state, steps: updateRow(state, event.stepId, (row) => ({ ...row, detail: event.check.detail })) };
      }
      return {
        ...state,
        steps: updateRow(state, event.stepId, (row) => ({ ...row, state: checkState(event.check), detail: event.check.detail })),
      };
    case 'step-applying':
      return { ...state, steps: updateRow(state, event.stepId, (row) => ({ ...row, applying: true })) };
    case 'step-done':
      return {
        ...state,
        vaultRefresh: state.vaultRefresh + 1,
        steps: updateRow(state, event.stepId, (row) => ({
          ...row,
          state: 'done',
          durationMs: event.durationMs,
          detail: event.outcome === 'already-done' ? `already done${event.check.detail ? `: ${event.check.detail}` : ''}` : event.check.detail,
          applying: false,
        })),
      };
    case 'step-skipped':
      return {
        ...state,
        steps: updateRow(state, event.stepId, (row) =>
          // In check mode the row already shows todo/drift from its check; keep it.
          state.mode === 'check' && (row.state === 'todo' || row.state === 'drift') ? row : { ...row, state: 'skipped', detail: event.reason },
        ),
      };
    case 'step-failed': {
      const cancelled = state.run === 'cancelling' || event.message === 'cancelled';
      return {
        ...state,
        vaultRefresh: state.vaultRefresh + 1,
        steps: updateRow(state, event.stepId, (row) => ({
          ...row,
          state: cancelled ? 'cancelled' : 'failed',
          durationMs: event.durationMs,
          detail: event.message,
          applying: false,
        })),
        last: {
          mode: state.mode ?? 'apply',
          result: cancelled ? 'cancelled' : 'failed',
          failedStepId: event.stepId,
          message: event.message,
          ...(event.hint === undefined ? {} : { hint: event.hint }),
        },
      };
    }
    case 'plan-done': {
      const { currentStepId: _current, ...rest } = state;
      const failure = state.last && (state.last.result === 'failed' || state.last.result === 'cancelled') ? state.last : undefined;
      const last: RunSummary = {
        ...(failure ?? {}),
        mode: event.mode,
        result: event.result,
        durationMs: event.durationMs,
        counts: countChecks(event.checks, state.steps),
      };
      return { ...rest, run: 'idle', last, vaultRefresh: state.vaultRefresh + 1 };
    }
    case 'step-view':
      // A new table is shown at once (it is what the step wants the user to see); `v` goes back to the log.
      return { ...state, view: { stepId: event.stepId, view: event.view }, lowerPane: 'view' };
    case 'log':
      // Log lines go to the LogBuffer, never through React state.
      return state;
  }
}

export function setupReducer(state: SetupState, action: SetupAction): SetupState {
  switch (action.type) {
    case 'plan-loaded': {
      if (state.run !== 'idle') return state;
      const { selectedStepId: _selected, resume: _resume, ...rest } = state;
      return { ...rest, steps: rowsFrom(action.steps, action.profile), ...resumeFrom(action.steps, action.profile) };
    }
    case 'run-requested':
      return { ...state, run: 'running', mode: action.mode };
    case 'cancel-requested':
      return state.run === 'running' ? { ...state, run: 'cancelling' } : state;
    case 'runner-event':
      return applyRunnerEvent(state, action.event);
    case 'run-crashed': {
      const { currentStepId: _current, ...rest } = state;
      return {
        ...rest,
        run: 'idle',
        last: { mode: state.mode ?? 'apply', result: 'crashed', message: action.message, ...(action.hint === undefined ? {} : { hint: action.hint }) },
      };
    }
    case 'follow-toggled':
      return { ...state, follow: !state.follow };
    case 'log-scrolled':
      return { ...state, logTop: action.top, follow: action.follow };
    case 'lower-pane-toggled':
      return state.view ? { ...state, lowerPane: state.lowerPane === 'log' ? 'view' : 'log' } : { ...state, lowerPane: 'log' };
    case 'vault-status': {
      if (action.reading) return { ...state, vault: action.reading };
      const { vault: _stale, ...rest } = state;
      return rest;
    }
    case 'cluster-status': {
      if (action.reading) return { ...state, cluster: action.reading };
      const { cluster: _stale, ...rest } = state;
      return rest;
    }
  }
}

/** Steps grouped by phase, in plan order. */
export function groupByPhase(steps: readonly StepRow[]): { phase: Phase; steps: StepRow[] }[] {
  const groups: { phase: Phase; steps: StepRow[] }[] = [];
  for (const step of steps) {
    const group = groups.at(-1);
    if (group && group.phase === step.phase) group.steps.push(step);
    else groups.push({ phase: step.phase, steps: [step] });
  }
  return groups;
}

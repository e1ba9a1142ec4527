/**
 * The Home screen's slice: the newest status reading (services/status.ts collectStatus, the same
 * report `status --json` prints), the drift table's selection, the seal question, the one-key
 * actions under way (seal, snapshot, live logs) and the line saying how the last one ended.
 *
 * The drift table itself is not kept here: it is the Setup slice's step rows after a re-check (one
 * runner, one truth), filtered by `driftRows`.
 */
import type { StatusReport } from '../../services/status.js';
import type { StepRow } from './setup-state.js';

export type HomeTask = 'seal' | 'snapshot';

export type LogsState = 'off' | 'starting' | 'following';

export interface HomeMessage {
  tone: 'info' | 'success' | 'error';
  text: string;
}

export interface HomeState {
  /** The newest status reading; undefined until the first one arrives. */
  status?: StatusReport;
  /** Why the host was not asked in the newest reading (it failed earlier; `r` asks again). */
  hostProblem?: string;
  /** Bumped to read the status at once (after an action, on `r`). */
  refresh: number;
  /** A re-check ran in this session: the drift table is shown. */
  rechecked: boolean;
  /** Index of the selected row of the drift table. */
  selected: number;
  /** The "seal Vault now?" question is open. */
  confirmSeal: boolean;
  /** A seal or snapshot under way (one at a time). */
  task?: HomeTask;
  logs: LogsState;
  /** How the last one-key action ended (cleared when a run starts: the run's own summary is shown then). */
  message?: HomeMessage;
}

export type HomeAction =
  | { type: 'status-read'; report: StatusReport; hostProblem?: string }
  | { type: 'refresh-requested' }
  | { type: 'recheck-started' }
  | { type: 'select'; delta: number; rows: number }
  | { type: 'seal-asked' }
  | { type: 'seal-dismissed' }
  | { type: 'task-started'; task: HomeTask; text: string }
  | { type: 'task-finished'; message: HomeMessage }
  | { type: 'logs-starting' }
  | { type: 'logs-following' }
  | { type: 'logs-stopped'; message?: HomeMessage }
  | { type: 'message'; message: HomeMessage | undefined };

export function initialHomeState(): HomeState {
  return { refresh: 0, rechecked: false, selected: 0, confirmSeal: false, logs: 'off' };
}

function withoutMessage(state: HomeState): HomeState {
  const { message: _message, ...rest } = state;
  return rest;
}

export function homeReducer(state: HomeState, action: HomeAction): HomeState {
  switch (action.type) {
    case 'status-read': {
      const { hostProblem: _previous, ...rest } = state;
      return action.hostProblem === undefined ? { ...rest, status: action.report } : { ...rest, status: action.report, hostProblem: action.hostProblem };
    }
    case 'refresh-requested':
      return { ...state, refresh: state.refresh + 1 };
    case 'recheck-started':
      return { ...withoutMessage(state), rechecked: true, selected: 0, refresh: state.refresh + 1 };
    case 'select': {
      if (action.rows <= 0) return { ...state, selected: 0 };
      const current = Math.min(state.selected, action.rows - 1);
      return { ...state, selected: Math.max(0, Math.min(action.rows - 1, current + action.delta)) };
    }
    case 'seal-asked':
      return state.task ? state : { ...state, confirmSeal: true };
    case 'seal-dismissed':
      return { ...state, confirmSeal: false };
    case 'task-started':
      return { ...state, confirmSeal: false, task: action.task, message: { tone: 'info', text: action.text } };
    case 'task-finished': {
      const { task: _task, ...rest } = state;
      return { ...rest, message: action.message, refresh: state.refresh + 1 };
    }
    case 'logs-starting':
      return { ...state, logs: 'starting' };
    case 'logs-following':
      return state.logs === 'starting' ? { ...state, logs: 'following' } : state;
    case 'logs-stopped':
      return action.message ? { ...state, logs: 'off', message: action.message } : { ...state, logs: 'off' };
    case 'message':
      return action.message ? { ...state, message: action.message } : withoutMessage(state);
  }
}

/**
 * The rows of the drift table: every step a re-check did not find done (todo, drift, a check that
 * failed). While a fix runs (`fixing`), the steps it has still to do or is doing stay in the table
 * too, so a row leaves it only once it is done.
 */
export function driftRows(steps: readonly StepRow[], fixing: boolean): StepRow[] {
  return steps.filter(
    (row) =>
      row.state === 'drift' || row.state === 'todo' || row.state === 'failed' || row.state === 'cancelled' || (fixing && (row.state === 'pending' || row.state === 'running')),
  );
}

/** The steps `F` fixes: those a re-check found drifted or not done. */
export function fixableSteps(steps: readonly StepRow[]): string[] {
  return steps.filter((row) => row.state === 'drift' || row.state === 'todo').map((row) => row.id);
}

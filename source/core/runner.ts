/**
 * Runs a plan: for each step, check → (apply → check again to verify). Emits typed events that the
 * TUI and the headless printer render, records progress after every step, and stops at the first
 * failure so a later run resumes there (the checks skip what is already done).
 *
 * Two modes:
 *  - apply: bring every step to `done`, stopping at the first failure or cancellation;
 *  - check: checks only ("re-check"), every step is looked at, nothing is changed; the result says
 *    done / todo / drift per step.
 */
import { CancelledError, describeError, isAbortError } from './errors.js';
import type { ProgressSink } from './progress.js';
import type { Redactor } from './redact.js';
import type {
  Check,
  LogLevel,
  LogLine,
  Logger,
  Plan,
  PlanResult,
  Prompter,
  RunMode,
  RunnerEvent,
  Services,
  Step,
  StepContext,
} from './step.js';
import { stepInfo } from './step.js';
import type { Profile } from '../profile/schema.js';

export interface RunEnvironment {
  profileName: string;
  profile: Profile;
  services: Services;
  prompt: Prompter;
  redactor: Redactor;
  progress?: ProgressSink;
}

export interface RunOptions {
  mode: RunMode;
  signal?: AbortSignal;
  onEvent: (event: RunnerEvent) => void;
}

export type PlanDoneEvent = Extract<RunnerEvent, { type: 'plan-done' }>;

export async function runPlan(plan: Plan, env: RunEnvironment, options: RunOptions): Promise<PlanDoneEvent> {
  const { mode, onEvent } = options;
  const signal = options.signal ?? new AbortController().signal;
  const runStart = performance.now();
  const startedAt = new Date().toISOString();
  const checks: Record<string, Check> = {};
  let result: PlanResult = 'ok';
  let failedStep: string | undefined;

  const emit = (event: RunnerEvent): void => {
    try {
      onEvent(event);
    } catch {
      // A rendering bug must not break a half-applied setup; the log file still has everything.
    }
  };
  const runnerLog = makeLogger(env.redactor, emit, undefined);
  // Saved progress describes the setup: what the last apply run reached and how it ended (resume
  // shows it). A re-check changes nothing, so it records nothing and cannot hide an interrupted setup.
  const progress = mode === 'apply' ? env.progress : undefined;

  await recordSafely(runnerLog, () => progress?.runStarted({ mode, startedAt }));
  emit({ type: 'plan-start', mode, steps: plan.steps.map(stepInfo), at: Date.now() });

  for (const step of plan.steps) {
    if (signal.aborted) {
      result = 'cancelled';
      break;
    }
    const stepStart = performance.now();
    const log = makeLogger(env.redactor, emit, step.id);
    const ctx: StepContext = {
      profileName: env.profileName,
      profile: env.profile,
      log,
      signal,
      services: env.services,
      prompt: env.prompt,
      registerSecret: (value) => env.redactor.register(value),
      present: (view) =>
        emit({
          type: 'step-view',
          stepId: step.id,
          view: {
            ...view,
            title: env.redactor.redact(view.title),
            rows: view.rows.map((row) => row.map((cell) => env.redactor.redact(cell))),
          },
          at: Date.now(),
        }),
    };
    emit({ type: 'step-start', stepId: step.id, at: Date.now() });
    await recordSafely(runnerLog, () => progress?.stepRecorded(step.id, { state: 'running', at: new Date().toISOString() }));

    try {
      const before = await untilAborted(step.check(ctx), signal);
      checks[step.id] = before;
      emit({ type: 'step-checked', stepId: step.id, check: before, at: Date.now() });
      log.debug(`check: ${before.state}${before.detail ? ` (${before.detail})` : ''}`, 'runner');

      if (mode === 'check') {
        if (before.state === 'done') {
          emit(doneEvent(step, 'already-done', before, stepStart));
        } else {
          emit({ type: 'step-skipped', stepId: step.id, reason: `checks only: ${before.state}`, at: Date.now() });
          if (result === 'ok') result = 'drift';
        }
        continue;
      }

      if (before.state === 'done') {
        emit(doneEvent(step, 'already-done', before, stepStart));
      } else {
        emit({ type: 'step-applying', stepId: step.id, at: Date.now() });
        await untilAborted(step.apply(ctx), signal);
        const after = await untilAborted(step.check(ctx), signal);
        checks[step.id] = after;
        if (after.state !== 'done') {
          throw new VerifyError(step, after);
        }
        emit(doneEvent(step, 'applied', after, stepStart));
      }
      await recordSafely(runnerLog, () =>
        progress?.stepRecorded(step.id, {
          state: 'done',
          at: new Date().toISOString(),
          durationMs: Math.round(performance.now() - stepStart),
        }),
      );
    } catch (error) {
      const durationMs = Math.round(performance.now() - stepStart);
      const cancelled = signal.aborted || isAbortError(error);
      const { message, hint } = describeError(cancelled ? new CancelledError() : error);
      const safeMessage = env.redactor.redact(message);
      const safeHint = hint === undefined ? undefined : env.redactor.redact(hint);
      emit({
        type: 'step-failed',
        stepId: step.id,
        message: safeMessage,
        ...(safeHint === undefined ? {} : { hint: safeHint }),
        durationMs,
        at: Date.now(),
      });
      log.error(safeHint ? `${safeMessage} (hint: ${safeHint})` : safeMessage, 'runner');
      await recordSafely(runnerLog, () =>
        progress?.stepRecorded(step.id, {
          state: cancelled ? 'cancelled' : 'failed',
          at: new Date().toISOString(),
          durationMs,
          error: safeMessage,
        }),
      );
      if (cancelled) {
        result = 'cancelled';
        failedStep = step.id;
        break;
      }
      // A re-check looks at every step even when one cannot be checked; an apply run stops here
      // so nothing builds on a step that is not done.
      result = 'failed';
      failedStep ??= step.id;
      if (mode === 'apply') break;
    }
  }

  const done: PlanDoneEvent = {
    type: 'plan-done',
    mode,
    result,
    checks,
    durationMs: Math.round(performance.now() - runStart),
    at: Date.now(),
  };
  await recordSafely(runnerLog, () =>
    progress?.runEnded({
      mode,
      startedAt,
      endedAt: new Date().toISOString(),
      result,
      ...(failedStep === undefined ? {} : { failedStep }),
    }),
  );
  emit(done);
  return done;
}

/** A step whose apply returned but whose check still does not say `done`. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  constructor(step: Step, after: Check) {
    super(`${step.title}: still ${after.state} after applying${after.detail ? ` (${after.detail})` : ''}`);
  }
}

function doneEvent(step: Step, outcome: 'applied' | 'already-done', check: Check, start: number): RunnerEvent {
  return {
    type: 'step-done',
    stepId: step.id,
    outcome,
    check,
    durationMs: Math.round(performance.now() - start),
    at: Date.now(),
  };
}

/**
 * Resolves with the promise, or rejects as soon as the signal aborts: a step that ignores its
 * signal cannot keep the user waiting after Ctrl+C. (Its work may finish in the background; every
 * step is idempotent, so the next run's check sees whatever state it left.)
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new CancelledError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Progress is for display: failing to save it is logged, never fatal to the run. */
async function recordSafely(log: Logger, record: () => void | Promise<void> | undefined): Promise<void> {
  try {
    await record();
  } catch (error) {
    log.warn(`could not save progress to the profile: ${describeError(error).message}`, 'runner');
  }
}

export function makeLogger(redactor: Redactor, emit: (event: RunnerEvent) => void, stepId: string | undefined): Logger {
  const write = (level: LogLevel, text: string, source?: string): void => {
    // One call may carry several lines (command output); each becomes its own log line.
    for (const part of redactor.redact(text).split(/\r?\n/)) {
      const line: LogLine = { at: Date.now(), level, text: part };
      if (stepId !== undefined) line.stepId = stepId;
      if (source !== undefined) line.source = source;
      emit({ type: 'log', line });
    }
  };
  return {
    debug: (text, source) => write('debug', text, source),
    info: (text, source) => write('info', text, source),
    warn: (text, source) => write('warn', text, source),
    error: (text, source) => write('error', text, source),
  };
}

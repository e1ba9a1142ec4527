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

  const fault = mode === 'apply' ? faultFromEnvironment(process.env[FAULT_ENV]) : undefined;

  await recordSafely(runnerLog, () => progress?.runStarted({ mode, startedAt }));
  emit({ type: 'plan-start', mode, steps: plan.steps.map(stepInfo), at: Date.now() });

  for (const step of plan.steps) {
    if (signal.aborted) {
      result = 'cancelled';
      break;
    }
    const stepStart = performance.now();
    const stepFault = fault?.stepId === step.id ? fault : undefined;
    let applyLines = 0;
    let applying = false;
    const stepEmit = !stepFault
      ? emit
      : (event: RunnerEvent): void => {
          emit(event);
          if (applying && stepFault.point === 'mid-apply' && event.type === 'log' && event.line.level !== 'debug' && ++applyLines >= stepFault.line) {
            killForFault();
          }
        };
    const log = makeLogger(env.redactor, stepEmit, step.id);
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
        if (stepFault?.point === 'before-apply') killForFault();
        applying = true;
        await untilAborted(step.apply(ctx), signal);
        applying = false;
        // An apply that wrote fewer lines than asked is cut at its end, still before its verify.
        if (stepFault?.point === 'mid-apply') killForFault();
        const after = await untilAborted(step.check(ctx), signal);
        checks[step.id] = after;
        if (after.state !== 'done') {
          throw new VerifyError(step, after);
        }
        emit(doneEvent(step, 'applied', after, stepStart));
        if (stepFault?.point === 'after-apply') killForFault();
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

/**
 * Fault injection for the reliability suite (test/e2e/faults), and for nothing else:
 *
 *     PICLUSTER_VAULT_TUI_TEST_FAULT=<step id>:before-apply | :mid-apply[:N] | :after-apply
 *
 * makes the process SIGKILL itself at that point of that step, in an apply run:
 *  - before-apply: the step was checked (todo/drift) and is about to apply;
 *  - mid-apply[:N]: while apply runs, at its Nth log line (default 1; at its end, before the verify
 *    check, if it writes fewer), i.e. with part of its work done and the rest not;
 *  - after-apply: applied and verified, before the progress is saved.
 * SIGKILL runs no handler and flushes nothing: to the product it is a power cut. The tests prove a
 * plain re-run converges from each point. The variable is read here only, is inert when unset, when
 * malformed or when it names no step of the plan, and is not a setting: the name says it is a test's.
 */
export const FAULT_ENV = 'PICLUSTER_VAULT_TUI_TEST_FAULT';

export type FaultPoint = 'before-apply' | 'mid-apply' | 'after-apply';

export interface FaultHook {
  stepId: string;
  point: FaultPoint;
  /** mid-apply: the log line of the apply at which the process dies. */
  line: number;
}

/** Parses the variable; undefined (no fault) for anything but the documented forms. */
export function faultFromEnvironment(value: string | undefined): FaultHook | undefined {
  const match = value === undefined ? null : /^([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+):(before-apply|after-apply|mid-apply(?::([1-9]\d{0,3}))?)$/.exec(value);
  if (!match) return undefined;
  const point = match[2]!.startsWith('mid-apply') ? 'mid-apply' : (match[2] as FaultPoint);
  return { stepId: match[1]!, point, line: match[3] === undefined ? 1 : Number(match[3]) };
}

function killForFault(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to oneself is delivered before kill(2) returns; nothing after it runs.
  throw new Error('unreachable: SIGKILL did not end the process');
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

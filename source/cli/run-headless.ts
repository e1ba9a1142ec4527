/**
 * Runs the plan without the TUI (`setup --yes`, `plan` with states): progress lines on stderr, every
 * log line in the log file, the summary on stdout (plain or --json). Ctrl+C, SIGTERM and SIGHUP (the
 * SSH session dropped) cancel the running step; progress is saved by the runner and connections
 * are closed before the process exits, so the next run resumes where this one stopped.
 */
import { InputError } from '../core/errors.js';
import { createHeadlessPrompter } from '../core/headless-prompter.js';
import { LogFile } from '../core/log-file.js';
import { Redactor } from '../core/redact.js';
import { runPlan, type PlanDoneEvent } from '../core/runner.js';
import type { Check, Phase, RunMode, RunnerEvent, StepInfo } from '../core/step.js';
import { logFile } from '../profile/paths.js';
import { ProfileStore } from '../profile/store.js';
import { openRunServices } from '../services/run-services.js';
import { buildPlan } from '../steps/index.js';
import type { GlobalOptions, Output } from './output.js';

export interface StepReport extends StepInfo {
  /** done / todo / drift from the last check; failed when it could not be brought to done or checked. */
  state: Check['state'] | 'failed' | 'not-run';
  detail?: string;
  outcome?: 'applied' | 'already-done';
  error?: string;
  hint?: string;
  durationMs?: number;
}

export interface HeadlessResult {
  done: PlanDoneEvent;
  steps: StepReport[];
  logFile: string;
}

export interface HeadlessOptions {
  mode: RunMode;
  phases: readonly Phase[];
  assumeYes: boolean;
  /** Print per-step progress on stderr. */
  progress: boolean;
  /** --show-keys: print revealed secrets (init keys) on stderr; custody holds them either way. */
  showRevealed?: boolean;
  /** --recover-helm: settle a helm release left pending without asking (cluster.eso-install). */
  recoverHelm?: boolean;
}

export async function runHeadless(global: GlobalOptions, options: HeadlessOptions, output: Output): Promise<HeadlessResult> {
  const store = new ProfileStore();
  const profile = store.load(global.profile);
  const plan = buildPlan(profile, options.phases, { recoverHelm: options.recoverHelm === true });
  if (plan.steps.length === 0 && options.mode === 'apply') {
    throw new InputError(`there are no steps in the ${options.phases.join(', ')} phase${options.phases.length === 1 ? '' : 's'}`, {
      field: '--phase',
      hint: 'run `plan` to see the phases and their steps',
    });
  }
  const redactor = new Redactor();
  const log = new LogFile(logFile(global.profile));
  const prompt = createHeadlessPrompter({
    assumeYes: options.assumeYes,
    registerSecret: (value) => redactor.register(value),
    showRevealed: options.showRevealed === true,
  });
  const services = openRunServices(profile, prompt, { store, profileName: global.profile });
  const controller = new AbortController();
  const reports = new Map<string, StepReport>(plan.steps.map((step) => [step.id, { id: step.id, phase: step.phase, title: step.title, state: 'not-run' }]));
  const printer = progressPrinter(output, plan.steps.length, options);

  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      output.err(`${signal}: cancelling the running step (progress is saved; run the same command again to resume)`);
      controller.abort();
      return;
    }
    // when-exit (loaded with conf, through atomically) hooks these signals too and re-sends the
    // signal to this process once its own cleanup ran: that copy arrives within a millisecond or two
    // and is not the user. A second Ctrl+C later means now: the log file has everything up to here.
    if (Date.now() - firstSignalAt >= REPEAT_SIGNAL_MS) process.exit(130);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  log.writeRaw(`${new Date().toISOString()} INFO  [cli] ${options.mode === 'apply' ? 'setup' : 'check'} ${options.phases.join(',')} for profile ${global.profile}`);
  try {
    const done = await runPlan(
      plan,
      { profileName: global.profile, profile, services, prompt, redactor, progress: store.progressSink(global.profile) },
      {
        mode: options.mode,
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'log') {
            try {
              log.write(event.line);
            } catch {
              // A full disk must not stop the run; stderr still shows the line.
            }
          }
          record(reports, event);
          printer(event);
        },
      },
    );
    return { done, steps: [...reports.values()], logFile: log.path };
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    await services.close().catch(() => undefined);
    log.close();
  }
}

function record(reports: Map<string, StepReport>, event: RunnerEvent): void {
  if (!('stepId' in event)) return;
  const report = reports.get(event.stepId);
  if (!report) return;
  switch (event.type) {
    case 'step-checked':
      report.state = event.check.state;
      report.detail = event.check.detail;
      break;
    case 'step-done':
      report.state = 'done';
      report.detail = event.check.detail;
      report.outcome = event.outcome;
      report.durationMs = event.durationMs;
      break;
    case 'step-failed':
      report.state = 'failed';
      report.error = event.message;
      if (event.hint !== undefined) report.hint = event.hint;
      report.durationMs = event.durationMs;
      break;
    default:
      break;
  }
}

/** A second signal sooner than this after the first is when-exit's echo of it (see onSignal). */
const REPEAT_SIGNAL_MS = 300;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Plain progress for a terminal or a log collector: one line per step event, command output indented. */
function progressPrinter(output: Output, total: number, options: HeadlessOptions): (event: RunnerEvent) => void {
  const s = output.errStyle;
  const numbers = new Map<string, number>();
  const titles = new Map<string, string>();
  const label = (stepId: string): string => `[${numbers.get(stepId) ?? '?'}/${total}] ${titles.get(stepId) ?? stepId}`;
  return (event) => {
    if (!options.progress) return;
    switch (event.type) {
      case 'plan-start':
        event.steps.forEach((step, index) => {
          numbers.set(step.id, index + 1);
          titles.set(step.id, step.title);
        });
        output.err(s.bold(`${event.mode === 'apply' ? 'setup' : 'check'}: ${event.steps.length} step${event.steps.length === 1 ? '' : 's'}`));
        break;
      case 'step-applying':
        output.err(`${label(event.stepId)} ...`);
        break;
      case 'log':
        // The runner's own error line repeats the step-failed event, which is printed below.
        if (event.line.level !== 'debug' && event.line.stepId !== undefined && !(event.line.source === 'runner' && event.line.level === 'error')) {
          const text = `      ${event.line.text}`;
          output.err(event.line.level === 'info' ? s.dim(text) : event.line.level === 'warn' ? s.yellow(text) : s.red(text));
        }
        break;
      case 'step-done':
        output.err(`${label(event.stepId)}: ${s.green(event.outcome === 'applied' ? 'done' : 'already done')} ${s.dim(`(${seconds(event.durationMs)})`)}`);
        break;
      case 'step-skipped':
        output.err(`${label(event.stepId)}: ${s.yellow(event.reason)}`);
        break;
      case 'step-view': {
        const { columns, rows, title } = event.view;
        const widths = columns.map((column, index) => Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)));
        const line = (cells: string[]): string => `      ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ')}`.trimEnd();
        output.err(`      ${s.bold(title)}`);
        output.err(s.dim(line(columns)));
        for (const row of rows) output.err(line(row));
        break;
      }
      case 'step-failed':
        output.err(`${label(event.stepId)}: ${s.red(s.bold('failed'))}: ${event.message}`);
        if (event.hint) output.err(`      ${s.yellow('hint:')} ${event.hint}`);
        break;
      default:
        break;
    }
  };
}

const STATE_LABEL: Record<StepReport['state'], string> = {
  done: 'done',
  todo: 'todo',
  drift: 'drift',
  failed: 'FAILED',
  'not-run': 'not run',
};

/** The summary table on stdout, or the same as JSON. */
export function printSummary(output: Output, global: GlobalOptions, result: HeadlessResult, json: boolean): void {
  const { done, steps } = result;
  if (json) {
    output.json({ profile: global.profile, mode: done.mode, result: done.result, durationMs: done.durationMs, logFile: result.logFile, steps });
    return;
  }
  const s = output.outStyle;
  const width = Math.max(...steps.map((step) => step.title.length), 10);
  for (const step of steps) {
    const state = STATE_LABEL[step.state];
    const colored = step.state === 'done' ? s.green(state) : step.state === 'failed' ? s.red(state) : s.yellow(state);
    const detail = step.error ?? step.detail ?? '';
    output.out(`${step.title.padEnd(width)}  ${colored}${' '.repeat(Math.max(1, 8 - state.length))}${s.dim(detail)}`);
  }
  output.out(`${done.mode === 'apply' ? 'setup' : 'check'} ${done.result} in ${seconds(done.durationMs)}; log: ${result.logFile}`);
}

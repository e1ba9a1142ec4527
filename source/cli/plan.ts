/**
 * `plan`: what a setup run would do, phase by phase. Steps describe themselves with `describe(ctx)`;
 * the context given here refuses every service and question, so a step that tried to reach out
 * while describing fails loudly. Unless --offline, each step's real state (done / todo / drift) is
 * checked too — a read-only check run through the runner, so it is the same check setup makes.
 */
import { UserError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { PHASES, type Logger, type Planned, type StepContext } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import { ProfileStore } from '../profile/store.js';
import { buildPlan } from '../steps/index.js';
import type { GlobalOptions, Output } from './output.js';
import { runHeadless, type StepReport } from './run-headless.js';
import { parsePhases } from './setup.js';

const PLANNED_LABEL: Record<Planned['kind'], string> = {
  command: 'run',
  file: 'write',
  api: 'call',
  manifest: 'apply',
  local: 'local',
};

function planContext(profileName: string, profile: Profile, redactor: Redactor, output: Output): StepContext {
  const refuse = (what: string) => (): Promise<never> =>
    Promise.reject(new UserError(`plan does not ${what}`, { hint: 'This is a bug in the step: describe() must only say what apply would do.' }));
  const toStderr = (level: string) => (text: string) => output.err(`${level}: ${redactor.redact(text)}`);
  const log: Logger = { info: toStderr('info'), warn: toStderr('warning'), error: toStderr('error'), debug: () => undefined };
  return {
    profileName,
    profile,
    log,
    signal: new AbortController().signal,
    services: { host: refuse('connect to the host') },
    prompt: { confirm: refuse('ask questions'), secret: refuse('ask questions'), text: refuse('ask questions'), revealOnce: refuse('show secrets') },
    registerSecret: (value) => redactor.register(value),
    present: () => undefined,
  };
}

export interface PlanOptions {
  json?: boolean;
  phase?: string[];
  /** Describe only: connect to nothing. */
  offline?: boolean;
  yes?: boolean;
}

export async function plan(global: GlobalOptions, options: PlanOptions, output: Output): Promise<number> {
  const phases = parsePhases(options.phase);
  const profile = new ProfileStore().load(global.profile);
  const redactor = new Redactor();
  const ctx = planContext(global.profile, profile, redactor, output);
  const planned = buildPlan(profile, phases).steps;
  let states: Map<string, StepReport> | undefined;
  let checkFailed = false;
  if (!options.offline && planned.length > 0) {
    const result = await runHeadless(global, { mode: 'check', phases, assumeYes: options.yes === true, progress: false }, output);
    states = new Map(result.steps.map((step) => [step.id, step]));
    checkFailed = result.done.result === 'failed';
  }
  const steps = planned.map((step) => {
    const state = states?.get(step.id);
    return {
      id: step.id,
      phase: step.phase,
      title: step.title,
      ...(state ? { state: state.state, detail: state.error ?? state.detail ?? '' } : {}),
      // Why a state could not be checked comes with how to fix it, as in `setup`.
      ...(state?.hint ? { hint: state.hint } : {}),
      planned: step.describe(ctx).map((item) => ({ kind: item.kind, summary: redactor.redact(item.summary) })),
    };
  });
  if (options.json) {
    output.json({ profile: global.profile, steps });
    return checkFailed ? 1 : 0;
  }
  const s = output.outStyle;
  if (steps.length === 0) {
    output.out(`plan for profile "${global.profile}": no steps`);
    return 0;
  }
  output.out(`plan for profile "${global.profile}": ${steps.length} step${steps.length === 1 ? '' : 's'}`);
  let number = 0;
  for (const phase of PHASES) {
    const inPhase = steps.filter((step) => step.phase === phase);
    if (inPhase.length === 0) continue;
    output.out('');
    output.out(s.bold(`${phase}`));
    for (const step of inPhase) {
      number += 1;
      const state = step.state === undefined ? '' : ` ${stateLabel(step.state, s)}${step.detail ? s.dim(` (${step.detail})`) : ''}`;
      output.out(`  ${number}. ${step.title} ${s.dim(`[${step.id}]`)}${state}`);
      if (step.hint) output.out(`       ${s.yellow('hint:')} ${step.hint}`);
      // A step that is done has nothing to do; the rest show exactly what apply would run and write.
      if (step.state === 'done') continue;
      for (const item of step.planned) output.out(`       ${s.cyan(PLANNED_LABEL[item.kind].padEnd(5))} ${item.summary}`);
      if (step.planned.length === 0) output.out(`       ${s.dim('(nothing to change)')}`);
    }
  }
  return checkFailed ? 1 : 0;
}

function stateLabel(state: StepReport['state'], s: Output['outStyle']): string {
  switch (state) {
    case 'done':
      return s.green('done');
    case 'failed':
      return s.red('could not check');
    case 'not-run':
      return s.dim('not checked');
    default:
      return s.yellow(state);
  }
}

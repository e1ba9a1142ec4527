/**
 * `plan`: what a setup run would do, phase by phase, without touching the host, Vault or the
 * cluster. Steps describe themselves with `describe(ctx)`; the context given here refuses every
 * service and question, so a step that tried to reach out while describing fails loudly.
 */
import { UserError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { PHASES, type Logger, type Planned, type StepContext } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import { ProfileStore } from '../profile/store.js';
import { buildPlan } from '../steps/index.js';
import type { GlobalOptions, Output } from './output.js';

const PLANNED_LABEL: Record<Planned['kind'], string> = {
  command: 'run',
  file: 'write',
  api: 'call',
  manifest: 'apply',
  local: 'local',
};

function planContext(profile: Profile, redactor: Redactor, output: Output): StepContext {
  const refuse = (what: string) => (): Promise<never> =>
    Promise.reject(new UserError(`plan does not ${what}`, { hint: 'This is a bug in the step: describe() must only say what apply would do.' }));
  const toStderr = (level: string) => (text: string) => output.err(`${level}: ${redactor.redact(text)}`);
  const log: Logger = { info: toStderr('info'), warn: toStderr('warning'), error: toStderr('error'), debug: () => undefined };
  return {
    profile,
    log,
    signal: new AbortController().signal,
    services: { host: refuse('connect to the host') },
    prompt: { confirm: refuse('ask questions'), secret: refuse('ask questions'), text: refuse('ask questions') },
    registerSecret: (value) => redactor.register(value),
  };
}

export function plan(global: GlobalOptions, options: { json?: boolean }, output: Output): number {
  const profile = new ProfileStore().load(global.profile);
  const redactor = new Redactor();
  const ctx = planContext(profile, redactor, output);
  const steps = buildPlan(profile).steps.map((step) => ({
    id: step.id,
    phase: step.phase,
    title: step.title,
    planned: step.describe(ctx).map((item) => ({ kind: item.kind, summary: redactor.redact(item.summary) })),
  }));
  if (options.json) {
    output.json({ profile: global.profile, steps });
    return 0;
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
      output.out(`  ${number}. ${step.title} ${s.dim(`[${step.id}]`)}`);
      for (const item of step.planned) output.out(`       ${s.cyan(PLANNED_LABEL[item.kind].padEnd(5))} ${item.summary}`);
      if (step.planned.length === 0) output.out(`       ${s.dim('(nothing to change)')}`);
    }
  }
  return 0;
}

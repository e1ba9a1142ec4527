/**
 * A small "system" held in memory and steps that converge it, for testing the runner and the
 * screens without a host. The steps follow the real contract: check looks at the state, apply
 * changes it, and nothing is recorded about what the step did other than the state itself.
 */
import type { Check, Phase, Plan, Prompter, Reveal, Services, Step, StepContext } from '../../source/core/step.js';

export class FakeSystem {
  readonly values = new Map<string, string>();
  readonly applied: string[] = [];
  readonly checked: string[] = [];
}

export interface TestStepOptions {
  id: string;
  phase?: Phase;
  title?: string;
  /** The value apply writes and check expects. */
  want?: string;
  /** Lines apply logs. */
  logs?: string[];
  /** apply throws this. */
  failWith?: Error;
  /** apply waits on this before changing anything (lets a test hold a step "running"). */
  gate?: Promise<void>;
  /** apply "succeeds" but leaves the state wrong (verify must catch it). */
  lies?: boolean;
}

export function testStep(system: FakeSystem, options: TestStepOptions): Step {
  const want = options.want ?? 'ok';
  return {
    id: options.id,
    phase: options.phase ?? 'host',
    title: options.title ?? `Test step ${options.id}`,
    describe: () => [{ kind: 'command', summary: `set ${options.id}=${want}` }],
    async check(): Promise<Check> {
      system.checked.push(options.id);
      const have = system.values.get(options.id);
      if (have === undefined) return { state: 'todo', detail: `${options.id} not set` };
      if (have !== want) return { state: 'drift', detail: `${options.id} is ${have}, want ${want}` };
      return { state: 'done', detail: `${options.id}=${want}` };
    },
    async apply(ctx: StepContext): Promise<void> {
      system.applied.push(options.id);
      for (const line of options.logs ?? []) ctx.log.info(line, 'stdout');
      if (options.gate) await options.gate;
      ctx.signal.throwIfAborted();
      if (options.failWith) throw options.failWith;
      system.values.set(options.id, options.lies ? 'wrong' : want);
    },
  };
}

export function testPlan(steps: Step[]): Plan {
  return { steps };
}

/** Services for plans of test steps: any use of the host is a test bug. */
export const noServices: Services = {
  host: () => Promise.reject(new Error('test steps do not use the host')),
};

/** A prompter with scripted answers; an unexpected question fails the test. */
export function scriptedPrompter(answers: { confirm?: boolean[]; secret?: string[]; text?: string[] } = {}, revealed: Reveal[] = []): Prompter {
  const confirm = [...(answers.confirm ?? [])];
  const secret = [...(answers.secret ?? [])];
  const text = [...(answers.text ?? [])];
  return {
    confirm: async (question) => {
      const next = confirm.shift();
      if (next === undefined) throw new Error(`unexpected confirm: ${question}`);
      return next;
    },
    secret: async (question) => {
      const next = secret.shift();
      if (next === undefined) throw new Error(`unexpected secret prompt: ${question}`);
      return next;
    },
    revealOnce: async (reveal) => {
      revealed.push(reveal);
    },
    text: async (question) => {
      const next = text.shift();
      if (next === undefined) throw new Error(`unexpected text prompt: ${question}`);
      return next;
    },
  };
}

/** Resolves when `release()` is called: holds a step in apply. */
export function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

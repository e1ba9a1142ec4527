/**
 * The cluster phase waits on controllers it does not drive (the token controller, ESO, the garbage
 * collector): one loop for all of them, reading the real state every `intervalMs` until it is there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepContext } from '../../core/step.js';

export interface PollOptions {
  timeoutMs: number;
  intervalMs: number;
}

/**
 * Calls `attempt` until it returns a value (undefined: not yet), at most `timeoutMs`; then throws
 * what `timedOut` makes. `attempt` may throw to give up early. Cancelled with the step's signal.
 */
export async function pollUntil<T>(ctx: Pick<StepContext, 'signal'>, options: PollOptions, attempt: () => Promise<T | undefined>, timedOut: () => Error): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw timedOut();
    await sleep(options.intervalMs, undefined, { signal: ctx.signal });
  }
}

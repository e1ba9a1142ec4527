/**
 * The Vault host's clock as this product reads it: `date +%s` over the host transport, bracketed by
 * this machine's clock (source/core/clock.ts). host.preflight runs the same command inside its
 * probe script; cluster.preflight runs it alone, so the bracket is one round trip wide.
 */
import { bracketed, type ClockReading } from '../../core/clock.js';
import type { StepContext } from '../../core/step.js';
import { hostRun } from './facts.js';

/** Prints `now=<seconds since the epoch>`: one line of a probe script, or the whole of one. */
export const HOST_CLOCK_LINE = 'echo "now=$(date +%s)"';

/** The host's seconds from a `now=` value, or NaN when the line is missing or garbled. */
export function hostSecondsOf(value: string): number {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

/** One reading of the Vault host's clock (NaN remoteSeconds when `date` printed nothing usable). */
export async function readHostClock(ctx: StepContext): Promise<ClockReading> {
  // Connected first: an SSH handshake inside the bracket would only widen it.
  await ctx.services.host();
  const { value, sentAtMs, receivedAtMs } = await bracketed(() => hostRun(ctx, 'reading the clock', HOST_CLOCK_LINE, { timeoutMs: 15_000 }));
  const line = value.split('\n').find((entry) => entry.startsWith('now=')) ?? '';
  return { remoteSeconds: hostSecondsOf(line.slice('now='.length)), sentAtMs, receivedAtMs };
}

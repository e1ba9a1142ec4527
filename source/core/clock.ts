/**
 * Comparing another machine's clock with this one's across a request. The other clock is read from
 * an answer — `date +%s` over SSH, an HTTP `Date` header — and both have whole-second resolution:
 * `date +%s` and the Date header (Go's net/http writes time.Now().UTC() in http.TimeFormat,
 * https://www.rfc-editor.org/rfc/rfc9110#name-date) drop the fraction, so a reading R means the
 * other clock was somewhere in [R, R + 1) when it answered. When it answered is only known to lie
 * between the local clock just before the request and just after the answer. Together that bounds
 * the offset (other minus local) to an interval; a decision about skew takes the least offset that
 * interval allows, so neither the truncation nor a slow answer ever makes clocks look further
 * apart than they can be.
 */

/** One reading of another clock, bracketed by the local clock. */
export interface ClockReading {
  /** The other clock, whole seconds since the epoch (truncated, as `date +%s` and HTTP Date are). */
  remoteSeconds: number;
  /** The local clock (ms since the epoch) right before the request was sent. */
  sentAtMs: number;
  /** The local clock (ms since the epoch) right after the answer arrived. */
  receivedAtMs: number;
}

/** Bounds of a clock offset in seconds: `low <= true offset < high`. */
export interface ClockOffset {
  low: number;
  high: number;
}

/** Runs `read` between two readings of the local clock. */
export async function bracketed<T>(read: () => Promise<T>, now: () => number = Date.now): Promise<{ value: T; sentAtMs: number; receivedAtMs: number }> {
  const sentAtMs = now();
  const value = await read();
  return { value, sentAtMs, receivedAtMs: now() };
}

/** The other clock minus this machine's, in seconds, as bounds. */
export function offsetFromLocal(reading: ClockReading): ClockOffset {
  return {
    low: reading.remoteSeconds - reading.receivedAtMs / 1000,
    high: reading.remoteSeconds + 1 - reading.sentAtMs / 1000,
  };
}

/** Clock A minus clock B, both measured against this machine: interval subtraction. */
export function offsetBetween(a: ClockOffset, b: ClockOffset): ClockOffset {
  return { low: a.low - b.high, high: a.high - b.low };
}

/** The middle of the bounds: the figure shown to the user. */
export function offsetEstimate(offset: ClockOffset): number {
  return (offset.low + offset.high) / 2;
}

/** How far apart the clocks are at least (0 when the bounds allow them to agree). */
export function leastApart(offset: ClockOffset): number {
  if (offset.low > 0) return offset.low;
  if (offset.high < 0) return -offset.high;
  return 0;
}

/** "A's clock is 90 s ahead of B's" (the estimate, whole seconds; "agrees with" when the bounds allow less than a second apart). */
export function describeOffset(a: string, b: string, offset: ClockOffset): string {
  const seconds = Math.round(offsetEstimate(offset));
  if (seconds === 0 || leastApart(offset) < 1) return `${a}'s clock agrees with ${b}'s`;
  return `${a}'s clock is ${Math.abs(seconds)} s ${seconds > 0 ? 'ahead of' : 'behind'} ${b}'s`;
}

/** The seconds of an HTTP Date header (IMF-fixdate, or the obsolete forms Date.parse reads), or undefined. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * Reads something now and every `intervalMs` while `active`, and again at once whenever `refresh`
 * changes — one read at a time: a slow or unreachable target never piles requests up (a refresh
 * asked for during a read starts one more read when it settles). The Setup screen's Vault reading
 * and the Home screen's status both poll this way.
 */
import { useEffect, useRef } from 'react';

export interface PolledReading<T> {
  /** Undefined: nothing to read (no polling at all). */
  read: (() => Promise<T>) | undefined;
  onValue(value: T): void;
  active: boolean;
  /** A new value reads at once. */
  refresh: unknown;
  intervalMs: number;
  /** Anything else whose change restarts the polling (e.g. the profile). */
  key?: unknown;
}

export function usePolledReading<T>({ read, onValue, active, refresh, intervalMs, key }: PolledReading<T>): void {
  const inFlight = useRef(false);
  const again = useRef(false);
  const latest = useRef({ read, onValue });
  latest.current = { read, onValue };
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const enabled = read !== undefined && active;
  useEffect(() => {
    if (!enabled) return undefined;
    const readNow = (): void => {
      if (inFlight.current) {
        again.current = true;
        return;
      }
      const current = latest.current.read;
      if (!current) return;
      inFlight.current = true;
      void current()
        .then((value) => {
          if (mounted.current) latest.current.onValue(value);
        })
        // Readers turn failures into readings; this only guards against a broken one.
        .catch(() => undefined)
        .finally(() => {
          inFlight.current = false;
          if (again.current && mounted.current) {
            again.current = false;
            readNow();
          }
        });
    };
    readNow();
    const timer = setInterval(readNow, intervalMs);
    return () => clearInterval(timer);
  }, [enabled, refresh, intervalMs, key]);
}

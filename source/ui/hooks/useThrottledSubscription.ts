/**
 * Re-renders a component when a synchronous source (the LogBuffer calls its listeners on every
 * push) changes, at most once per `intervalMs`: a command printing thousands of lines a second
 * costs a handful of renders, not thousands.
 *
 * The interval is counted from the previous re-render, not from the first change after it: under a
 * flood the next re-render is due `intervalMs` after the last one began, so the time a render takes
 * does not add to the period (20 frames a second need a period of 50 ms, render included). A change
 * after a quiet spell longer than the interval shows on the next turn of the event loop.
 * 40 ms: above 20 re-renders a second (Ink itself draws at most 60 frames a second: source/ui/run.tsx).
 */
import { useEffect, useState } from 'react';

export interface Subscribable {
  subscribe(listener: () => void): () => void;
}

export const LOG_RENDER_INTERVAL_MS = 40;

export function useThrottledSubscription(source: Subscribable, intervalMs = LOG_RENDER_INTERVAL_MS): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    let lastRender = -Infinity;
    const unsubscribe = source.subscribe(() => {
      if (timer) return;
      const wait = Math.max(0, lastRender + intervalMs - performance.now());
      timer = setTimeout(() => {
        timer = undefined;
        lastRender = performance.now();
        setVersion((value) => value + 1);
      }, wait);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [source, intervalMs]);
  return version;
}

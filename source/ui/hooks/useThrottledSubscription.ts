/**
 * Re-renders a component when a synchronous source (the LogBuffer calls its listeners on every
 * push) changes, at most once per `intervalMs`: a command printing thousands of lines a second
 * costs a handful of renders, not thousands.
 */
import { useEffect, useState } from 'react';

export interface Subscribable {
  subscribe(listener: () => void): () => void;
}

export function useThrottledSubscription(source: Subscribable, intervalMs = 80): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    const unsubscribe = source.subscribe(() => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        setVersion((value) => value + 1);
      }, intervalMs);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [source, intervalMs]);
  return version;
}

/**
 * The Events ESO records for a ClusterSecretStore: the cause of a failure (a Warning: the
 * condition carries only a fixed text) and the proof of a fresh validation. ESO records a Normal
 * `Valid` event ("store validated") on every reconcile that validates the store
 * (pkg/controllers/secretstore/common.go), while the Ready condition keeps its old
 * lastTransitionTime when it stays True and the status has no observedGeneration — so an event
 * newer than the apply is the only sign that ESO has looked at the store as it is now.
 * Events of a cluster-scoped object live in the `default` namespace.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ClusterClient } from '../../services/cluster.js';

export interface StoreEvent extends KubernetesObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | Date;
  eventTime?: string | Date;
  series?: { count?: number; lastObservedTime?: string | Date };
}

/** ESO's reason on a store it validated (esapi.ReasonStoreValid). */
export const STORE_VALID_REASON = 'Valid';

/** The store's events, or undefined when the cluster will not list them (best effort: RBAC, a flaky API). */
export async function listStoreEvents(cluster: ClusterClient, store: string): Promise<StoreEvent[] | undefined> {
  return cluster.list<StoreEvent>('v1', 'Event', { fieldSelector: `involvedObject.kind=ClusterSecretStore,involvedObject.name=${store}` }).catch(() => undefined);
}

function eventTime(event: StoreEvent): number {
  return new Date(event.series?.lastObservedTime ?? event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp ?? 0).getTime();
}

/** The newest Warning since `since` (events have second precision: one from before it speaks of an older attempt). */
export function newestWarning(events: readonly StoreEvent[], since: Date): string | undefined {
  const newest = events
    .filter((event) => event.type === 'Warning' && eventTime(event) >= since.getTime() - 1_000)
    .sort((a, b) => eventTime(b) - eventTime(a))[0];
  return newest?.message?.trim() || undefined;
}

/**
 * What identifies each occurrence of ESO's Valid event: the event object and how many times it
 * was seen. A repeated event is the same object with a higher count (client-go's event
 * correlator), a later one may be a new object.
 */
export function validationMarks(events: readonly StoreEvent[]): Set<string> {
  return new Set(
    events
      .filter((event) => event.type === 'Normal' && event.reason === STORE_VALID_REASON)
      .map((event) => `${event.metadata?.uid ?? event.metadata?.name ?? '?'}#${event.series?.count ?? event.count ?? 1}@${eventTime(event)}`),
  );
}

/** Whether `after` holds a Valid event occurrence that `before` did not: ESO validated the store since. */
export function validatedSince(before: ReadonlySet<string>, after: readonly StoreEvent[]): boolean {
  return [...validationMarks(after)].some((mark) => !before.has(mark));
}

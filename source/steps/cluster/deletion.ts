/**
 * Waiting for an object the product deleted to be really gone. Kubernetes keeps a deleted object
 * visible (with a deletionTimestamp) until every finalizer on it is removed: the garbage collector's
 * `foregroundDeletion` while dependents are deleted, a controller's own (ESO 0.20 and later put
 * `externalsecrets.external-secrets.io/externalsecret-cleanup` on every ExternalSecret and remove it
 * only when they run), and a namespace's `kubernetes` finalizer until the namespace controller has
 * emptied it. An apply onto such an object succeeds and is then lost with it, so the product waits
 * for the object itself; when it does not go, the message names what holds it.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.js';
import type { StepContext } from '../../core/step.js';
import type { ClusterClient } from '../../services/cluster.js';
import { pollUntil } from './poll.js';

export interface DeletedRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * The namespace controller's conditions for a deletion it cannot finish (k8s.io/api core/v1
 * NamespaceConditionType): status "True" means the problem is there, and the message says what
 * (e.g. an aggregated API such as a crashing metrics-server making discovery fail, which blocks
 * every namespace deletion on the cluster).
 */
export const NAMESPACE_DELETION_PROBLEMS = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
] as const;

interface Condition {
  type?: string;
  status?: string;
  message?: string;
}

type DeletingObject = KubernetesObject & { spec?: { finalizers?: string[] }; status?: { phase?: string; conditions?: Condition[] } };

export interface Holders {
  /** metadata.finalizers (and a namespace's spec.finalizers) still on the object. */
  finalizers: string[];
  /** A namespace's deletion problems, `Type: message`. */
  problems: string[];
}

/** What keeps a terminating object from going away, read from the object itself. */
export function holdersOf(object: DeletingObject): Holders {
  const finalizers = [...(object.metadata?.finalizers ?? []), ...(object.kind === 'Namespace' ? (object.spec?.finalizers ?? []) : [])];
  const problems = (object.status?.conditions ?? [])
    .filter((condition) => condition.status === 'True' && (NAMESPACE_DELETION_PROBLEMS as readonly string[]).includes(condition.type ?? ''))
    .map((condition) => `${condition.type}: ${condition.message ?? '(no message)'}`);
  return { finalizers: [...new Set(finalizers)], problems };
}

export function describeHolders(holders: Holders): string {
  const parts: string[] = [];
  if (holders.problems.length > 0) parts.push(holders.problems.join('; '));
  if (holders.finalizers.length > 0) parts.push(`finalizers ${holders.finalizers.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'nothing listed on the object';
}

function nameOf(ref: DeletedRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function kubectlRef(ref: DeletedRef): string {
  return `kubectl ${ref.namespace ? `-n ${ref.namespace} ` : ''}get ${ref.kind.toLowerCase()} ${ref.name} -o yaml`;
}

function hintFor(ref: DeletedRef, holders: Holders): string {
  if (holders.problems.some((problem) => problem.startsWith('NamespaceDeletionDiscoveryFailure'))) {
    return 'An API the cluster advertises does not answer (on K3s usually metrics-server): kubectl get apiservices shows the one that is not Available; fix or delete it and the namespace goes.';
  }
  if (holders.finalizers.length > 0) {
    return `Each finalizer is removed by the controller that added it, which must be running (${kubectlRef(ref)}). Remove one by hand only when its controller is gone for good.`;
  }
  return kubectlRef(ref);
}

/** Timed out waiting for a deleted object to go; says what holds it. */
export class StillTerminatingError extends UserError {
  constructor(
    readonly ref: DeletedRef,
    readonly holders: Holders,
    waitedMs: number,
  ) {
    super(`${nameOf(ref)} is still being deleted after ${Math.round(waitedMs / 1000)} s, held by ${describeHolders(holders)}`, { hint: hintFor(ref, holders) });
  }
}

/**
 * Polls until `ref` no longer exists (at most `timeoutMs`); then throws StillTerminatingError with
 * what the object says holds it.
 */
export async function waitUntilDeleted(ctx: Pick<StepContext, 'signal'>, cluster: ClusterClient, ref: DeletedRef, options: { timeoutMs: number; intervalMs: number }): Promise<void> {
  let last: DeletingObject | undefined;
  await pollUntil(
    ctx,
    options,
    async () => {
      last = await cluster.get<DeletingObject>(ref);
      return last ? undefined : true;
    },
    () => new StillTerminatingError(ref, holdersOf(last ?? { apiVersion: ref.apiVersion, kind: ref.kind }), options.timeoutMs),
  );
}

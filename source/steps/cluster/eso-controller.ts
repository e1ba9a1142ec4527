/**
 * Whether ESO's controller runs: a step that waits for ESO to do something (validate a store, sync
 * an ExternalSecret, remove its finalizer) says at once when nothing would, instead of waiting out
 * its whole deadline for a condition nobody will set.
 */
import { UserError } from '../../core/errors.js';
import type { StepContext } from '../../core/step.js';
import type { ClusterClient } from '../../services/cluster.js';
import { controllerOf, inspectEso } from './eso-install.js';
import { ESO } from './session.js';

/**
 * Throws unless ESO's controller Deployment has at least one ready replica (a Deployment scaled to 0
 * counts as not running: it would never reconcile). `waitingFor` says what would not happen.
 */
export async function requireRunningController(ctx: StepContext, cluster: ClusterClient, waitingFor: string): Promise<void> {
  const namespace = ctx.profile.cluster.esoNamespace;
  const controller = controllerOf(await inspectEso(cluster, namespace));
  const ready = controller?.status?.readyReplicas ?? 0;
  if (controller && ready > 0) return;
  const name = `Deployment ${namespace}/${controller?.metadata?.name ?? '?'}`;
  const wanted = controller?.spec?.replicas ?? 1;
  const what = !controller ? `there is no controller Deployment (${ESO.controllerLabel}) in namespace ${namespace}` : wanted === 0 ? `${name} is scaled to 0 replicas` : `${name} has ${ready} of ${wanted} replicas ready`;
  throw new UserError(`External Secrets Operator is not running, so nothing would ${waitingFor}: ${what}`, {
    hint: `kubectl -n ${namespace} get deployments,pods shows why (scaled to 0, image not pulled, crash loop); once its controller is ready run the same command again.`,
  });
}

/**
 * Applies objects that an admission webhook validates (ESO's, for ClusterSecretStores and
 * ExternalSecrets), waiting a bounded time while the webhook does not answer yet. Right after ESO
 * is installed (by helm, or beside the product by ArgoCD) its webhook needs a few seconds before it
 * serves: its certificate must be generated and injected by the cert-controller and its pod become
 * an endpoint. Meanwhile kube-apiserver refuses every such request ("failed calling webhook",
 * failurePolicy Fail), and nothing of it reached storage, so sending it again is safe.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { StepContext } from '../../core/step.js';
import { AdmissionWebhookError, type ClusterClient } from '../../services/cluster.js';
import { pollUntil } from './poll.js';

export const WEBHOOK_WAIT_MS = 60_000;
const RETRY_MS = 2_000;

export async function applyOnceWebhookAnswers(ctx: StepContext, cluster: ClusterClient, objects: readonly KubernetesObject[], fieldManager?: string, waitMs = WEBHOOK_WAIT_MS): Promise<KubernetesObject[]> {
  let last: AdmissionWebhookError | undefined;
  return pollUntil(
    ctx,
    { timeoutMs: waitMs, intervalMs: RETRY_MS },
    async () => {
      try {
        return await cluster.apply(objects, fieldManager);
      } catch (error) {
        if (!(error instanceof AdmissionWebhookError)) throw error;
        if (!last) ctx.log.warn(`the admission webhook ${error.webhook} does not answer yet: waiting up to ${Math.round(waitMs / 1000)} s for it`);
        last = error;
        return undefined;
      }
    },
    () => last!,
  );
}

/**
 * cluster.secret-store: the ClusterSecretStore `vault-backend`, in the external-secrets.io version the
 * cluster serves (v1 today; v1beta1 for ESO before 0.17), server-side applied from
 * assets/kubernetes/cluster-secret-store.yaml. Done only when ESO itself says Ready=True: that is a
 * real Kubernetes-auth login to Vault with the role and audience, over TLS verified with caBundle.
 * When it is not Ready, ESO's condition reason and message are what the user sees.
 * https://external-secrets.io/latest/provider/hashicorp-vault/
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { describeObject, renderManifests, type ClusterClient } from '../../services/cluster.js';
import { adminClient, apiAddress, caPemFor } from '../vault/session.js';
import { inspectEso, ESO_INSTALL_STEP_ID, type EsoInstallation } from './eso-install.js';
import { serviceAccountOf } from './eso-role.js';
import { pollUntil } from './poll.js';
import { applyOnceWebhookAnswers } from './webhook-wait.js';
import { ESO, type ClusterSession } from './session.js';

export const SECRET_STORE_STEP_ID = 'cluster.secret-store';
export const SECRET_STORE_MANIFEST = 'kubernetes/cluster-secret-store.yaml';
const POLL_MS = 1000;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export type StoreObject = KubernetesObject & {
  spec?: { provider?: { vault?: Record<string, unknown> } };
  status?: { conditions?: Condition[] };
};

export function readyCondition(object: { status?: { conditions?: Condition[] } } | undefined): Condition | undefined {
  return object?.status?.conditions?.find((condition) => condition.type === 'Ready');
}

export function describeCondition(condition: Condition | undefined): string {
  if (!condition) return 'no Ready condition yet (is the ESO controller running?)';
  return `Ready=${condition.status}${condition.reason ? ` (${condition.reason})` : ''}${condition.message ? `: ${condition.message}` : ''}`;
}

/** The served external-secrets.io version to write, or a UserError when ESO is not installed. */
export async function servedEsoVersion(cluster: ClusterClient, namespace: string): Promise<string> {
  return esoApiVersion(await inspectEso(cluster, namespace));
}

function esoApiVersion(installation: EsoInstallation): string {
  if (!installation.version) {
    throw new UserError(`the cluster serves no usable ${ESO.group} API (${installation.missingCrds.length > 0 ? `missing: ${installation.missingCrds.join(', ')}` : 'neither v1 nor v1beta1 served'})`, {
      hint: `run the step ${ESO_INSTALL_STEP_ID} first (setup --phase cluster does it in order)`,
    });
  }
  return `${ESO.group}/${installation.version}`;
}

/** The CA to put in caBundle: ours (generated) or the one the profile names; none when Vault's cert is publicly trusted. */
async function storeCaPem(ctx: StepContext): Promise<string | undefined> {
  const tls = ctx.profile.vault.tls;
  if (tls.mode === 'provided' && !tls.caFile) return undefined;
  return caPemFor(ctx);
}

export async function desiredStore(ctx: StepContext, session: ClusterSession): Promise<StoreObject> {
  const cluster = await session.cluster(ctx);
  const { authMountPath, esoAudience, esoNamespace } = ctx.profile.cluster;
  // One look at ESO gives both the API version to write and the service account to log in as.
  const installation = await inspectEso(cluster, esoNamespace);
  const account = serviceAccountOf(installation, esoNamespace);
  const caPem = await storeCaPem(ctx);
  const [store] = (await renderManifests(SECRET_STORE_MANIFEST, {
    apiVersion: esoApiVersion(installation),
    name: ESO.store,
    server: apiAddress(ctx),
    path: ctx.profile.vault.kvPath,
    caBundle: caPem ? Buffer.from(caPem).toString('base64') : '',
    mountPath: authMountPath,
    role: ESO.vaultRole,
    serviceAccount: account.name,
    serviceAccountNamespace: account.namespace,
    audience: esoAudience,
  })) as [StoreObject];
  if (!caPem) delete store.spec?.provider?.vault?.['caBundle'];
  return store;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((key) => `${key}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fields of spec.provider.vault that differ (compared as a whole per field: the store is ours). */
export function storeDrift(current: StoreObject, desired: StoreObject): string[] {
  const have = current.spec?.provider?.vault ?? {};
  const want = desired.spec?.provider?.vault ?? {};
  const drift: string[] = [];
  if (current.apiVersion !== desired.apiVersion) drift.push(`stored as ${current.apiVersion}, want ${desired.apiVersion}`);
  for (const key of new Set([...Object.keys(want), ...Object.keys(have)])) {
    if (canonical(have[key]) !== canonical(want[key])) drift.push(key === 'caBundle' ? 'caBundle is not the CA of Vault\'s certificate' : `spec.provider.vault.${key} differs`);
  }
  return drift;
}

interface StoreEvent extends KubernetesObject {
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string | Date;
  eventTime?: string | Date;
}

/**
 * The newest Warning event ESO recorded for the store, if any. ESO writes only a fixed text into
 * the store's condition ("unable to create client", pkg/controllers/secretstore/common.go) and the
 * cause (permission denied, x509, dial tcp, a TokenRequest refused) into a Warning Event. Events of
 * a cluster-scoped object live in the `default` namespace. Best effort: a cluster that will not
 * list events leaves the condition alone.
 */
export async function newestStoreWarning(cluster: ClusterClient, since: Date): Promise<string | undefined> {
  const events = await cluster
    .list<StoreEvent>('v1', 'Event', { fieldSelector: `involvedObject.kind=ClusterSecretStore,involvedObject.name=${ESO.store},type=Warning` })
    .catch(() => [] as StoreEvent[]);
  const at = (event: StoreEvent): number => new Date(event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp ?? 0).getTime();
  // Events have second precision; one from before this apply speaks of an older attempt.
  const newest = events.filter((event) => at(event) >= since.getTime() - 1_000).sort((a, b) => at(b) - at(a))[0];
  return newest?.message?.trim() || undefined;
}

/** Changed on every apply of the store, so that ESO validates it at once (see apply). */
export const RECONCILE_ANNOTATION = 'picluster-vault-tui/applied-at';

/** Said instead of the deadline's error while waiting, so the failure can be told with ESO's event. */
class StoreStillNotReady extends Error {}

export function secretStoreStep(session: ClusterSession): Step {
  async function waitForReady(ctx: StepContext, cluster: ClusterClient, ref: { apiVersion: string; kind: string; name: string }, generation: number | undefined, appliedAt: Date): Promise<Condition> {
    let last: Condition | undefined;
    let falseSince: number | undefined;
    const notReady = async (waited: string): Promise<UserError> => {
      const warning = last?.status === 'False' ? await newestStoreWarning(cluster, appliedAt) : undefined;
      return new UserError(`ClusterSecretStore ${ESO.store} ${waited}: ${describeCondition(last)}${warning ? `; ESO says: ${warning}` : ''}`, { hint: hintFor(last, warning, ctx) });
    };
    try {
      return await waitUntilReady();
    } catch (error) {
      if (error instanceof StoreStillNotReady) throw await notReady(error.message);
      throw error;
    }

    function waitUntilReady(): Promise<Condition> {
      return pollUntil(
        ctx,
        { timeoutMs: session.storeWaitMs, intervalMs: POLL_MS },
        async () => {
          const store = await cluster.get<StoreObject & { status?: { observedGeneration?: number } }>(ref);
          last = readyCondition(store);
          // A condition from before this apply (an older generation) says nothing about the new spec;
          // ESO does not always set observedGeneration, so without it the condition is taken as is.
          const observed = store?.status?.observedGeneration;
          const current = observed === undefined || generation === undefined || observed >= generation;
          if (current && last?.status === 'True') return last;
          // ESO retries a failed validation with backoff; one that still fails after several tries is
          // rarely transient, and the user is better served by its message now than after the deadline.
          falseSince = current && last?.status === 'False' ? (falseSince ?? Date.now()) : undefined;
          if (falseSince !== undefined && Date.now() - falseSince >= session.storeFailAfterMs) throw new StoreStillNotReady(`stayed not Ready for ${Math.round(session.storeFailAfterMs / 1000)} s`);
          return undefined;
        },
        () => new StoreStillNotReady(`did not become Ready within ${Math.round(session.storeWaitMs / 1000)} s`),
      );
    }
  }

  return {
    id: SECRET_STORE_STEP_ID,
    phase: 'cluster',
    title: `Create the ClusterSecretStore ${ESO.store}`,
    describe(ctx): Planned[] {
      return [
        { kind: 'manifest', summary: `server-side apply ${SECRET_STORE_MANIFEST}: ClusterSecretStore ${ESO.store} → ${apiAddress(ctx)} path ${ctx.profile.vault.kvPath} (KV v2), kubernetes auth role ${ESO.vaultRole} at ${ctx.profile.cluster.authMountPath}` },
        { kind: 'api', summary: `wait for ClusterSecretStore ${ESO.store} Ready=True (ESO logs in to Vault)` },
      ];
    },
    async check(ctx): Promise<Check> {
      const cluster = await session.cluster(ctx);
      const desired = await desiredStore(ctx, session);
      const current = await cluster.get<StoreObject>({ apiVersion: desired.apiVersion!, kind: 'ClusterSecretStore', name: ESO.store });
      if (!current) return { state: 'todo', detail: `no ClusterSecretStore ${ESO.store}` };
      const drift = storeDrift(current, desired);
      if (drift.length > 0) return { state: 'drift', detail: drift.join('; ') };
      const ready = readyCondition(current);
      if (ready?.status !== 'True') return { state: 'drift', detail: `ClusterSecretStore ${ESO.store}: ${describeCondition(ready)}` };
      return { state: 'done', detail: `ClusterSecretStore ${ESO.store} ${describeCondition(ready)}` };
    },
    async apply(ctx) {
      const cluster = await session.cluster(ctx);
      // The role must exist before ESO tries it; check it here too so a store applied alone says why it fails.
      const vault = await adminClient(ctx, session.vault);
      if (!(await vault.readAuth(ctx.profile.cluster.authMountPath, `role/${ESO.vaultRole}`))) {
        throw new UserError(`Vault has no role ${ESO.vaultRole} at auth/${ctx.profile.cluster.authMountPath}/ for the store to log in with`, { hint: 'run the step cluster.eso-role first (setup --phase cluster does it in order)' });
      }
      const desired = await desiredStore(ctx, session);
      // ESO retries a store that failed with a backoff of up to 7 minutes, and an apply that
      // changes nothing makes no watch event: a fresh annotation is a change, so ESO validates the
      // store now (its controller watches the store without predicates).
      const appliedAt = new Date();
      desired.metadata = { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [RECONCILE_ANNOTATION]: appliedAt.toISOString() } };
      ctx.log.info(`applying ${describeObject(desired)} (${desired.apiVersion})`);
      const [applied] = await applyOnceWebhookAnswers(ctx, cluster, [desired]);
      const condition = await waitForReady(ctx, cluster, { apiVersion: desired.apiVersion!, kind: 'ClusterSecretStore', name: ESO.store }, applied?.metadata?.generation, appliedAt);
      ctx.log.info(`ClusterSecretStore ${ESO.store} ${describeCondition(condition)}`);
    },
  };
}

function hintFor(condition: Condition | undefined, warning: string | undefined, ctx: StepContext): string {
  // The condition (the simulators' and older ESO's full error) and ESO's event (the cause, today).
  const message = `${condition?.message ?? ''} ${warning ?? ''}`;
  const { authMountPath, esoAudience } = ctx.profile.cluster;
  if (!condition) return `Check that the ESO controller runs: kubectl -n ${ctx.profile.cluster.esoNamespace} get deployments`;
  if (/service account token for service account/i.test(message)) {
    // ESO's controller runs as that same account: its pod's token died with the account, and the
    // kubelet renews a projected token only at 80% of its life, so ESO must be restarted too.
    const namespace = ctx.profile.cluster.esoNamespace;
    return `ESO logs in as the service account of the store's serviceAccountRef, which must exist: kubectl -n ${namespace} get serviceaccounts (reinstalling ESO restores it). ESO's own pods run as it too: once it is back, restart them (kubectl -n ${namespace} rollout restart deployment).`;
  }
  if (/x509|certificate|tls/i.test(message)) return 'ESO does not trust Vault\'s certificate: caBundle must be the CA that signed it, and the server address one of its names.';
  if (/permission denied|403/i.test(message)) {
    return `Vault refused ESO's login: check the role (vault read auth/${authMountPath}/role/${ESO.vaultRole}: service account, namespace, audience ${esoAudience}) and that Vault can call the TokenReview API (the reviewer account's binding to system:auth-delegator).`;
  }
  if (/connection refused|no such host|timeout|i\/o/i.test(message)) return `ESO cannot reach Vault at ${apiAddress(ctx)} from inside the cluster: the address must be reachable from the pods.`;
  return `Details: kubectl describe clustersecretstore ${ESO.store}`;
}

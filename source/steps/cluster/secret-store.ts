/**
 * cluster.secret-store: the ClusterSecretStore `vault-backend`, in the external-secrets.io version the
 * cluster serves (v1 since ESO 0.16; v1beta1 on older ESO), server-side applied from
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
import { requireRunningController } from './eso-controller.js';
import { listStoreEvents, newestWarning, validatedSince, validationMarks } from './store-events.js';
import { classifyStoreFailure, hintForStoreFailure, type StoreFailureCause, type StoreFailureFacts } from './store-failure.js';

export const SECRET_STORE_STEP_ID = 'cluster.secret-store';
export const SECRET_STORE_MANIFEST = 'kubernetes/cluster-secret-store.yaml';
const POLL_MS = 1000;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | Date;
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

/** Changed on every apply of the store, so that ESO validates it at once (see apply). */
export const RECONCILE_ANNOTATION = 'picluster-vault-tui/applied-at';

/** Said instead of the deadline's error while waiting, so the failure can be told with ESO's event. */
class StoreStillNotReady extends Error {}

/**
 * How long a Ready condition may go without ESO's proof that it looked at the store as applied
 * (its Valid or Warning event) before it is taken as it stands: client-go's event recorder drops
 * events past a burst of 25 per object (then one per 5 minutes), so a store applied very often may
 * get no event at all.
 */
const UNPROVEN_CONDITION_MS = 15_000;

function transitionedSince(condition: Condition | undefined, since: Date): boolean {
  return condition?.lastTransitionTime !== undefined && new Date(condition.lastTransitionTime).getTime() >= since.getTime() - 1_000;
}

export function secretStoreStep(session: ClusterSession): Step {
  async function waitForReady(ctx: StepContext, cluster: ClusterClient, ref: { apiVersion: string; kind: string; name: string }, appliedAt: Date, validatedBefore: ReadonlySet<string>): Promise<Condition> {
    let last: Condition | undefined;
    let warning: string | undefined;
    let falseSince: number | undefined;
    let unprovenSaid = false;
    const notReady = (waited: string): UserError => {
      // ESO before 1.0 writes the whole error into the condition too: said once.
      const detail = last?.status === 'False' && warning && !last.message?.includes(warning) ? warning : undefined;
      const cause = classifyStoreFailure(`${last?.message ?? ''} ${detail ?? ''}`);
      return new StoreNotReadyError(cause, `ClusterSecretStore ${ESO.store} ${waited}: ${describeCondition(last)}${detail ? `; ESO says: ${detail}` : ''}`, {
        hint: last ? hintForStoreFailure(cause, storeFailureFacts(ctx)) : `Check that the ESO controller runs: kubectl -n ${ctx.profile.cluster.esoNamespace} get deployments`,
      });
    };
    try {
      return await waitUntilReady();
    } catch (error) {
      if (error instanceof StoreStillNotReady) throw notReady(error.message);
      throw error;
    }

    function waitUntilReady(): Promise<Condition> {
      return pollUntil(
        ctx,
        { timeoutMs: session.storeWaitMs, intervalMs: POLL_MS },
        async () => {
          const store = await cluster.get<StoreObject>(ref);
          last = readyCondition(store);
          const events = await listStoreEvents(cluster, ESO.store);
          warning = events ? newestWarning(events, appliedAt) : undefined;
          // Only a condition ESO set after this apply speaks of the store as it is now (see
          // store-events.ts); a cluster that will not list events leaves the condition as proof.
          const proven =
            events === undefined ||
            transitionedSince(last, appliedAt) ||
            (last?.status === 'True' && validatedSince(validatedBefore, events)) ||
            (last?.status === 'False' && warning !== undefined);
          const unproven = !proven && Date.now() - appliedAt.getTime() >= UNPROVEN_CONDITION_MS;
          if (unproven && !unprovenSaid) {
            unprovenSaid = true;
            ctx.log.warn(`ESO recorded no event for this apply of ClusterSecretStore ${ESO.store} within ${UNPROVEN_CONDITION_MS / 1000} s (events are dropped for an object updated very often): taking its condition as it stands (${describeCondition(last)})`);
          }
          const current = proven || unproven;
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
      // Without a running controller nothing would validate it, and the condition ESO left on an
      // older apply would pass for this one.
      await requireRunningController(ctx, cluster, 'validate the store');
      const validatedBefore = validationMarks((await listStoreEvents(cluster, ESO.store)) ?? []);
      const appliedAt = new Date();
      desired.metadata = { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [RECONCILE_ANNOTATION]: appliedAt.toISOString() } };
      ctx.log.info(`applying ${describeObject(desired)} (${desired.apiVersion})`);
      await applyOnceWebhookAnswers(ctx, cluster, [desired]);
      const condition = await waitForReady(ctx, cluster, { apiVersion: desired.apiVersion!, kind: 'ClusterSecretStore', name: ESO.store }, appliedAt, validatedBefore);
      ctx.log.info(`ClusterSecretStore ${ESO.store} ${describeCondition(condition)}`);
    },
  };
}

function storeFailureFacts(ctx: StepContext): StoreFailureFacts {
  const { esoNamespace, authMountPath, esoAudience } = ctx.profile.cluster;
  return { esoNamespace, authMountPath, esoAudience, vaultAddress: apiAddress(ctx) };
}

/** The store did not become Ready; `failure` is what ESO's own record names. */
export class StoreNotReadyError extends UserError {
  constructor(
    readonly failure: StoreFailureCause,
    message: string,
    options: { hint: string },
  ) {
    super(message, options);
  }
}

/**
 * cluster.verify: proof that the chain works end to end. A fresh random value is written to Vault
 * (<kvPath>/picluster-vault-tui/eso-check), an ExternalSecret in its own namespace asks ESO for it
 * through the ClusterSecretStore, and once ESO says Ready=True (SecretSynced) the Kubernetes Secret's
 * data is compared with the value. The test objects are then removed, unless the profile keeps them
 * as a working example.
 *
 * Check stays read-only: the proof is recorded on the ClusterSecretStore as an annotation holding the
 * store generation it was made with (any change to the store's spec makes it stale), so a re-run of
 * a verified setup changes nothing.
 * https://external-secrets.io/latest/api/externalsecret/
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { renderManifests, type ClusterClient } from '../../services/cluster.js';
import { adminClient } from '../vault/session.js';
import { describeCondition, readyCondition, servedEsoVersion, type Condition, type StoreObject } from './secret-store.js';
import { applyOnceWebhookAnswers } from './webhook-wait.js';
import { pollUntil } from './poll.js';
import { describeHolders, StillTerminatingError, waitUntilDeleted } from './deletion.js';
import { requireRunningController } from './eso-controller.js';
import { ESO, VERIFY, type ClusterSession } from './session.js';

export const VERIFY_STEP_ID = 'cluster.verify';
export const ESO_CHECK_MANIFEST = 'kubernetes/eso-check.yaml';
/** Field manager of the annotation, apart from the store's own fields so applying the store keeps it. */
const VERIFY_FIELD_MANAGER = 'picluster-vault-tui-verify';
const POLL_MS = 500;
/** How long an object of an earlier check may take to go (finalizers, the namespace controller). */
const DELETION_WAIT_MS = 30_000;

type ExternalSecretObject = StoreObject & { status?: { conditions?: Condition[]; refreshTime?: string } };

function decoded(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

export function verifyStep(session: ClusterSession, server: ServerFlavor = VAULT): Step {
  async function refs(ctx: StepContext, cluster: ClusterClient) {
    const apiVersion = await servedEsoVersion(cluster, ctx.profile.cluster.esoNamespace);
    return {
      apiVersion,
      store: { apiVersion, kind: 'ClusterSecretStore', name: ESO.store },
      externalSecret: { apiVersion, kind: 'ExternalSecret', name: VERIFY.externalSecret, namespace: VERIFY.namespace },
      secret: { apiVersion: 'v1', kind: 'Secret', name: VERIFY.targetSecret, namespace: VERIFY.namespace },
      namespace: { apiVersion: 'v1', kind: 'Namespace', name: VERIFY.namespace },
    };
  }

  function waitForSync(ctx: StepContext, cluster: ClusterClient, ref: { apiVersion: string; kind: string; name: string; namespace: string }): Promise<Condition> {
    let last: Condition | undefined;
    return pollUntil(
      ctx,
      { timeoutMs: session.syncWaitMs, intervalMs: POLL_MS },
      async () => {
        last = readyCondition(await cluster.get<ExternalSecretObject>(ref));
        return last?.status === 'True' ? last : undefined;
      },
      () =>
        new UserError(`ExternalSecret ${VERIFY.namespace}/${VERIFY.externalSecret} did not sync within ${Math.round(session.syncWaitMs / 1000)} s: ${describeCondition(last)}`, {
          hint: `kubectl -n ${VERIFY.namespace} describe externalsecret ${VERIFY.externalSecret}; the store: kubectl describe clustersecretstore ${ESO.store}`,
        }),
    );
  }

  return {
    id: VERIFY_STEP_ID,
    phase: 'cluster',
    title: `Verify: a value in ${server.name} syncs into a Kubernetes Secret`,
    describe(ctx): Planned[] {
      const { kvPath } = ctx.profile.vault;
      return [
        { kind: 'api', summary: `write a random value to ${kvPath}/${VERIFY.vaultKey} in Vault` },
        { kind: 'manifest', summary: `server-side apply ${ESO_CHECK_MANIFEST}: Namespace ${VERIFY.namespace}, ExternalSecret ${VERIFY.externalSecret} → Secret ${VERIFY.targetSecret}` },
        { kind: 'api', summary: `wait for Ready=True (SecretSynced), compare the Secret with the value${ctx.profile.cluster.keepVerifyExample ? '; keep the objects as an example' : ', then remove the test objects and the value'}` },
      ];
    },
    async check(ctx): Promise<Check> {
      const cluster = await session.cluster(ctx);
      const r = await refs(ctx, cluster);
      const store = await cluster.get<StoreObject>(r.store);
      if (!store) return { state: 'todo', detail: `no ClusterSecretStore ${ESO.store} to verify` };
      const ready = readyCondition(store);
      if (ready?.status !== 'True') return { state: 'todo', detail: `ClusterSecretStore ${ESO.store}: ${describeCondition(ready)}` };
      const verified = store.metadata?.annotations?.[VERIFY.annotation];
      const generation = String(store.metadata?.generation ?? '');
      if (verified === undefined) return { state: 'todo', detail: 'no sync through the store verified yet' };
      if (verified !== generation) return { state: 'todo', detail: `the store changed since the last verified sync (generation ${verified} → ${generation})` };
      if (ctx.profile.cluster.keepVerifyExample) {
        const example = readyCondition(await cluster.get<ExternalSecretObject>(r.externalSecret));
        if (example?.status !== 'True') return { state: 'todo', detail: `the example ExternalSecret ${VERIFY.namespace}/${VERIFY.externalSecret}: ${example ? describeCondition(example) : 'missing'}` };
      }
      return { state: 'done', detail: `a value synced from Vault through ${ESO.store} (generation ${generation})${ctx.profile.cluster.keepVerifyExample ? `; example kept in namespace ${VERIFY.namespace}` : ''}` };
    },
    async apply(ctx) {
      const cluster = await session.cluster(ctx);
      const r = await refs(ctx, cluster);
      const { kvPath } = ctx.profile.vault;
      const keep = ctx.profile.cluster.keepVerifyExample;
      const vault = await adminClient(ctx, session.vault);
      const value = randomBytes(18).toString('base64url');
      ctx.registerSecret(value);
      const store = await cluster.get<StoreObject>(r.store);
      if (!store) throw new UserError(`there is no ClusterSecretStore ${ESO.store} to verify`, { hint: 'run the step cluster.secret-store first (setup --phase cluster does it in order)' });

      ctx.log.info(`writing a random value to ${kvPath}/${VERIFY.vaultKey}`);
      await vault.kvWrite(kvPath, VERIFY.vaultKey, { [VERIFY.property]: value, purpose: 'checks that External Secrets Operator syncs from this Vault' });
      // Without a running controller nothing would ever sync the check (nor remove ESO's cleanup
      // finalizer from an old ExternalSecret): said now, not after the whole sync wait.
      await requireRunningController(ctx, cluster, 'sync the check');
      // A Secret synced earlier still holds the old value: remove the ExternalSecret (its Secret is
      // owned by it) so the comparison below can only pass with a fresh sync. Both are waited for
      // until they are gone, not merely marked for deletion: an apply onto a terminating
      // ExternalSecret succeeds and then vanishes with it.
      await cluster.delete(r.externalSecret);
      await cluster.delete(r.secret);
      await waitUntilDeleted(ctx, cluster, r.externalSecret, { timeoutMs: DELETION_WAIT_MS, intervalMs: POLL_MS });
      await waitUntilDeleted(ctx, cluster, r.secret, { timeoutMs: DELETION_WAIT_MS, intervalMs: POLL_MS });
      // A namespace still terminating from the last check's clean-up cannot take new objects.
      const namespace = await cluster.get(r.namespace);
      if (namespace?.metadata?.deletionTimestamp) {
        ctx.log.info(`namespace ${VERIFY.namespace} from an earlier check is still terminating: waiting for it to go (up to ${DELETION_WAIT_MS / 1000} s)`);
        await waitUntilDeleted(ctx, cluster, r.namespace, { timeoutMs: DELETION_WAIT_MS, intervalMs: POLL_MS });
      }
      const manifests = await renderManifests(ESO_CHECK_MANIFEST, {
        namespace: VERIFY.namespace,
        apiVersion: r.apiVersion,
        name: VERIFY.externalSecret,
        store: ESO.store,
        target: VERIFY.targetSecret,
        key: VERIFY.vaultKey,
        property: VERIFY.property,
      });
      ctx.log.info(`applying Namespace ${VERIFY.namespace} and ExternalSecret ${VERIFY.externalSecret} (${r.apiVersion})`);
      await applyOnceWebhookAnswers(ctx, cluster, manifests);
      const started = Date.now();
      const condition = await waitForSync(ctx, cluster, r.externalSecret);
      const synced = decoded(await cluster.get<V1Secret>(r.secret), VERIFY.property);
      const matches = synced === value;
      ctx.present({
        kind: 'table',
        title: 'ExternalSecret check',
        columns: ['what', 'result'],
        rows: [
          ['Vault value', `${kvPath}/${VERIFY.vaultKey} (property ${VERIFY.property}, random)`],
          ['ExternalSecret', `${VERIFY.namespace}/${VERIFY.externalSecret}: ${describeCondition(condition)}`],
          ['Secret', `${VERIFY.namespace}/${VERIFY.targetSecret}: ${synced === undefined ? 'no such key' : matches ? 'holds the same value' : 'holds another value'}`],
          ['Synced in', `${((Date.now() - started) / 1000).toFixed(1)} s`],
          ['Test objects', keep ? `kept as an example in namespace ${VERIFY.namespace}` : 'removed'],
        ],
      });
      if (!matches) {
        throw new UserError(`Secret ${VERIFY.namespace}/${VERIFY.targetSecret} ${synced === undefined ? `has no key ${VERIFY.property}` : 'does not hold the value written to Vault'}`, {
          hint: `Compare kubectl -n ${VERIFY.namespace} get externalsecret ${VERIFY.externalSecret} -o yaml with the Vault path ${kvPath}/${VERIFY.vaultKey}.`,
        });
      }
      ctx.log.info(`Secret ${VERIFY.namespace}/${VERIFY.targetSecret} holds the value written to Vault: External Secrets Operator syncs from Vault`);
      if (!keep) {
        await cluster.delete(r.namespace);
        await vault.kvDeleteAll(kvPath, VERIFY.vaultKey);
        // Kubernetes removes a namespace only after its namespace controller has deleted what is in
        // it: the namespace is Terminating meanwhile. Waited for (bounded), so "removed" is true; a
        // namespace that stays Terminating does not fail a verification that passed, but is said.
        const stuck = await waitUntilDeleted(ctx, cluster, r.namespace, { timeoutMs: DELETION_WAIT_MS, intervalMs: POLL_MS }).then(
          () => undefined,
          (error: unknown) => {
            if (error instanceof StillTerminatingError) return error;
            throw error;
          },
        );
        if (!stuck) ctx.log.info(`removed namespace ${VERIFY.namespace} and ${kvPath}/${VERIFY.vaultKey}`);
        else ctx.log.warn(`removed ${kvPath}/${VERIFY.vaultKey}; namespace ${VERIFY.namespace} is still Terminating after ${DELETION_WAIT_MS / 1000} s, held by ${describeHolders(stuck.holders)} (${stuck.hint ?? ''}); the next check waits for it`);
      }
      await applyOnceWebhookAnswers(ctx, cluster, [{ apiVersion: r.apiVersion, kind: 'ClusterSecretStore', metadata: { name: ESO.store, annotations: { [VERIFY.annotation]: String(store.metadata?.generation ?? '') } } }], VERIFY_FIELD_MANAGER);
    },
  };
}

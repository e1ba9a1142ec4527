/**
 * cluster.reviewer-account: the account Vault's kubernetes auth method calls the TokenReview API with.
 * Namespace `vault`, service account `vault-auth`, a ClusterRoleBinding to `system:auth-delegator`
 * and a long-lived token Secret, server-side applied from assets/kubernetes/vault-auth.yaml; apply
 * then waits (bounded) for the token controller to fill the token in.
 * https://developer.hashicorp.com/vault/docs/auth/kubernetes#use-a-long-lived-token
 * https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#manually-create-a-long-lived-api-token-for-a-serviceaccount
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import type { KubernetesObject, V1ClusterRoleBinding, V1Secret } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { describeObject, renderManifests, type AccessCheck, type ClusterClient, type ObjectRef } from '../../services/cluster.js';
import { pollUntil } from './poll.js';
import { REVIEWER, type ClusterSession } from './session.js';

export const REVIEWER_ACCOUNT_STEP_ID = 'cluster.reviewer-account';
export const VAULT_AUTH_MANIFEST = 'kubernetes/vault-auth.yaml';

const AUTH_DELEGATOR = 'system:auth-delegator';
const TOKEN_SECRET_TYPE = 'kubernetes.io/service-account-token';
const SERVICE_ACCOUNT_ANNOTATION = 'kubernetes.io/service-account.name';
const POLL_MS = 250;

const REFS = {
  namespace: { apiVersion: 'v1', kind: 'Namespace', name: REVIEWER.namespace },
  serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', name: REVIEWER.serviceAccount, namespace: REVIEWER.namespace },
  binding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: REVIEWER.binding },
  tokenSecret: { apiVersion: 'v1', kind: 'Secret', name: REVIEWER.tokenSecret, namespace: REVIEWER.namespace },
} satisfies Record<string, ObjectRef>;

/**
 * What check and apply need to be allowed to do (server-side apply of a new object is a create and a
 * patch). Asked first, so a context without the rights gets one message naming all of them instead of
 * a 403 on whichever call comes first.
 */
const REQUIRED_ACCESS: AccessCheck[] = [
  ...['get', 'create', 'patch'].flatMap((verb) => [
    { verb, resource: 'namespaces', group: '' },
    { verb, resource: 'serviceaccounts', group: '', namespace: REVIEWER.namespace },
    { verb, resource: 'secrets', group: '', namespace: REVIEWER.namespace },
    { verb, resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
  ]),
];

export function reviewerManifests(): Promise<KubernetesObject[]> {
  return renderManifests(VAULT_AUTH_MANIFEST, { ...REVIEWER });
}

interface Found {
  namespace: KubernetesObject | undefined;
  serviceAccount: KubernetesObject | undefined;
  binding: V1ClusterRoleBinding | undefined;
  tokenSecret: V1Secret | undefined;
}

async function look(cluster: ClusterClient): Promise<Found> {
  const [namespace, serviceAccount, binding, tokenSecret] = await Promise.all([
    cluster.get(REFS.namespace),
    cluster.get(REFS.serviceAccount),
    cluster.get<V1ClusterRoleBinding>(REFS.binding),
    cluster.get<V1Secret>(REFS.tokenSecret),
  ]);
  return { namespace, serviceAccount, binding, tokenSecret };
}

/** The reviewer JWT from the token Secret, or undefined while the token controller has not filled it. */
export function tokenOf(secret: V1Secret | undefined): string | undefined {
  const encoded = secret?.data?.['token'];
  if (!encoded) return undefined;
  const token = Buffer.from(encoded, 'base64').toString('utf8');
  return token.length > 0 ? token : undefined;
}

/** Everything wrong with what exists, one phrase each (missing objects aside). */
function contentProblems(found: Found): string[] {
  const problems: string[] = [];
  const { binding, tokenSecret } = found;
  if (binding) {
    if (binding.roleRef.kind !== 'ClusterRole' || binding.roleRef.name !== AUTH_DELEGATOR) {
      problems.push(`ClusterRoleBinding ${REVIEWER.binding} grants ${binding.roleRef.kind} ${binding.roleRef.name}, not ClusterRole ${AUTH_DELEGATOR}`);
    }
    const bound = (binding.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === REVIEWER.serviceAccount && s.namespace === REVIEWER.namespace);
    if (!bound) problems.push(`ClusterRoleBinding ${REVIEWER.binding} does not bind ServiceAccount ${REVIEWER.namespace}/${REVIEWER.serviceAccount}`);
  }
  if (tokenSecret) {
    if (tokenSecret.type !== TOKEN_SECRET_TYPE) problems.push(`Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} is of type ${tokenSecret.type ?? 'Opaque'}, not ${TOKEN_SECRET_TYPE}`);
    const account = tokenSecret.metadata?.annotations?.[SERVICE_ACCOUNT_ANNOTATION];
    if (account !== REVIEWER.serviceAccount) problems.push(`Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} is for service account ${account ?? '(none)'}, not ${REVIEWER.serviceAccount}`);
  }
  return problems;
}

export function reviewerAccountStep(session: ClusterSession, server: ServerFlavor = VAULT): Step {
  return {
    id: REVIEWER_ACCOUNT_STEP_ID,
    phase: 'cluster',
    title: `Create the token reviewer account for ${server.name}`,
    describe(): Planned[] {
      return [
        { kind: 'manifest', summary: `server-side apply ${VAULT_AUTH_MANIFEST}: Namespace ${REVIEWER.namespace}, ServiceAccount ${REVIEWER.serviceAccount}, ClusterRoleBinding ${REVIEWER.binding} → ${AUTH_DELEGATOR}, Secret ${REVIEWER.tokenSecret} (${TOKEN_SECRET_TYPE})` },
        { kind: 'api', summary: `wait for the token controller to fill Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret}` },
      ];
    },
    async check(ctx): Promise<Check> {
      const cluster = await session.cluster(ctx);
      await cluster.requireAccess(REQUIRED_ACCESS);
      const found = await look(cluster);
      const missing = (Object.keys(REFS) as (keyof Found)[]).filter((key) => found[key] === undefined).map((key) => describeRef(key));
      // The namespace alone may exist for other reasons (Vault's own chart uses it too): nothing of
      // the account yet is a first run, not drift.
      if (!found.serviceAccount && !found.binding && !found.tokenSecret) {
        return { state: 'todo', detail: `no reviewer account (${missing.join(', ')} missing)` };
      }
      const problems = contentProblems(found);
      if (missing.length > 0) problems.unshift(`missing: ${missing.join(', ')}`);
      if (problems.length > 0) return { state: 'drift', detail: problems.join('; ') };
      if (!tokenOf(found.tokenSecret)) return { state: 'todo', detail: `Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} has no token yet` };
      return { state: 'done', detail: `${REVIEWER.namespace}/${REVIEWER.serviceAccount} bound to ${AUTH_DELEGATOR}, token in Secret ${REVIEWER.tokenSecret}` };
    },
    async apply(ctx) {
      const cluster = await session.cluster(ctx);
      await cluster.requireAccess(REQUIRED_ACCESS);
      const found = await look(cluster);
      refuseImmutableChanges(found);
      const manifests = await reviewerManifests();
      ctx.log.info(`applying ${manifests.map(describeObject).join(', ')} on ${cluster.server} (context ${cluster.context})`);
      await cluster.apply(manifests);
      const token = await waitForToken(ctx, cluster, session.tokenWaitMs);
      ctx.registerSecret(token);
      ctx.log.info(`the token controller filled Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret}`);
    },
  };
}

function describeRef(key: keyof Found): string {
  const ref: ObjectRef = REFS[key];
  return `${ref.kind} ${'namespace' in ref && ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/**
 * A binding's roleRef and a Secret's type cannot be changed in place (the API answers 422), and the
 * objects may be someone else's: say so instead of deleting them.
 */
function refuseImmutableChanges(found: Found): void {
  const { binding, tokenSecret } = found;
  if (binding && (binding.roleRef.kind !== 'ClusterRole' || binding.roleRef.name !== AUTH_DELEGATOR)) {
    throw new UserError(`ClusterRoleBinding ${REVIEWER.binding} exists and grants ${binding.roleRef.kind} ${binding.roleRef.name}; its role cannot be changed in place`, {
      hint: `If it is not used elsewhere, delete it (kubectl delete clusterrolebinding ${REVIEWER.binding}) and run the step again.`,
    });
  }
  if (tokenSecret && tokenSecret.type !== TOKEN_SECRET_TYPE) {
    throw new UserError(`Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} exists with type ${tokenSecret.type ?? 'Opaque'}; a Secret's type cannot be changed`, {
      hint: `If it is not used elsewhere, delete it (kubectl -n ${REVIEWER.namespace} delete secret ${REVIEWER.tokenSecret}) and run the step again.`,
    });
  }
}

/** Polls the token Secret until the token controller filled it, at most `timeoutMs`. */
export function waitForToken(ctx: StepContext, cluster: ClusterClient, timeoutMs: number): Promise<string> {
  return pollUntil(
    ctx,
    { timeoutMs, intervalMs: POLL_MS },
    async () => tokenOf(await cluster.get<V1Secret>(REFS.tokenSecret)),
    () =>
      new UserError(`Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} got no token within ${Math.round(timeoutMs / 1000)} s`, {
        hint: `The cluster's token controller fills it (kube-controller-manager; on K3s part of the server). Check it with: kubectl -n ${REVIEWER.namespace} describe secret ${REVIEWER.tokenSecret}`,
      }),
  );
}

/** The reviewer token Secret as it is now (undefined when missing). */
export function reviewerTokenSecret(cluster: ClusterClient): Promise<V1Secret | undefined> {
  return cluster.get<V1Secret>(REFS.tokenSecret);
}

/** The reviewer JWT, for the auth method's token_reviewer_jwt; undefined until this step is done. */
export async function readReviewerToken(cluster: ClusterClient): Promise<string | undefined> {
  return tokenOf(await cluster.get<V1Secret>(REFS.tokenSecret));
}

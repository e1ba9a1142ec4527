// cluster.reviewer-account through the real runner (runPlan) against a real Kubernetes control plane
// (test/support/test-cluster.ts): the objects Vault's kubernetes auth method needs, their drift, and
// the failures a user can act on.
// https://developer.hashicorp.com/vault/docs/auth/kubernetes#use-a-long-lived-token
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redactor } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { Prompter, RunnerEvent } from '../../source/core/step.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { FIELD_MANAGER } from '../../source/services/cluster.js';
import { REVIEWER_ACCOUNT_STEP_ID, reviewerAccountStep, reviewerManifests } from '../../source/steps/cluster/reviewer-account.js';
import { ClusterSession, REVIEWER } from '../../source/steps/cluster/session.js';
import { startTestCluster, statusOf, VIEWER_USER, waitUntil, type TestCluster } from '../support/test-cluster.js';

let plane: TestCluster;

// One control plane for the file; each case starts from a cluster without the reviewer account.
beforeAll(async () => {
  plane = await startTestCluster();
}, 120_000);
afterAll(async () => {
  await plane?.close();
});

const refs: Record<'namespace' | 'serviceAccount' | 'secret' | 'binding', Ref> = {
  namespace: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REVIEWER.namespace } },
  serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: REVIEWER.serviceAccount, namespace: REVIEWER.namespace } },
  secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: REVIEWER.tokenSecret, namespace: REVIEWER.namespace } },
  binding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: REVIEWER.binding } },
};

/** The object as the API server has it now, undefined on 404. */
type Ref = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
async function read<T extends k8s.KubernetesObject>(ref: Ref): Promise<T | undefined> {
  try {
    return (await plane.objects.read(ref)) as T;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function remove(ref: k8s.KubernetesObject): Promise<void> {
  await plane.objects.delete(ref).catch((error: unknown) => {
    if (statusOf(error) !== 404) throw error;
  });
}

beforeEach(async () => {
  await remove(refs.binding);
  await remove(refs.namespace);
  // Namespace deletion is asynchronous on a real server: the namespace controller deletes what is
  // in it, then the Namespace (Terminating until then; creating in it is refused meanwhile).
  await waitUntil('namespace vault deleted', async () => ((await read(refs.namespace)) === undefined ? true : undefined), 60_000, 250);
}, 90_000);
const noQuestions: Prompter = {
  confirm: async (question) => { throw new Error(`unexpected confirm: ${question}`); },
  secret: async (question) => { throw new Error(`unexpected secret prompt: ${question}`); },
  text: async (question) => { throw new Error(`unexpected text prompt: ${question}`); },
  revealOnce: async () => { throw new Error('unexpected reveal'); },
};

interface Run {
  done: PlanDoneEvent;
  events: RunnerEvent[];
  redactor: Redactor;
  outcome: string | undefined;
  failure: { message: string; hint?: string } | undefined;
  logs: string[];
}

async function run(options: { mode?: 'apply' | 'check'; cluster?: Record<string, unknown>; tokenWaitMs?: number } = {}): Promise<Run> {
  const profile: Profile = ProfileSchema.parse({ cluster: { kubeconfig: plane.kubeconfigPath, ...options.cluster } });
  const events: RunnerEvent[] = [];
  const redactor = new Redactor();
  // The real tokens controller (kube-controller-manager) fills the Secret within a second or so; the
  // bound is generous for a loaded machine.
  const step = reviewerAccountStep(new ClusterSession({ tokenWaitMs: options.tokenWaitMs ?? 30_000 }));
  const done = await runPlan(
    { steps: [step] },
    { profile, profileName: 'cluster-test', services: { host: async () => { throw new Error('the cluster phase never uses the host'); } }, prompt: noQuestions, redactor },
    { mode: options.mode ?? 'apply', onEvent: (event) => events.push(event) },
  );
  return {
    done,
    events,
    redactor,
    outcome: events.flatMap((e) => (e.type === 'step-done' ? [e.outcome] : [])).at(-1),
    failure: events.flatMap((e) => (e.type === 'step-failed' ? [{ message: e.message, ...(e.hint ? { hint: e.hint } : {}) }] : [])).at(-1),
    logs: events.flatMap((e) => (e.type === 'log' ? [e.line.text] : [])),
  };
}

async function reviewerToken(): Promise<string> {
  const secret = await read<k8s.V1Secret>(refs.secret);
  return Buffer.from(secret!.data!['token']!, 'base64').toString('utf8');
}

/** A TokenReview made with the reviewer token: what Vault does at every kubernetes login. */
async function reviewWithReviewerToken(tokenToReview: string): Promise<k8s.V1TokenReview> {
  const config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'lab', server: plane.url, caData: Buffer.from(plane.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'reviewer', token: await reviewerToken() }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'reviewer' }],
    currentContext: 'lab',
  });
  return config.makeApiClient(k8s.AuthenticationV1Api).createTokenReview({ body: { spec: { token: tokenToReview } } });
}

describe('cluster.reviewer-account', () => {
  it('the template renders the four objects, placeholders quoted', async () => {
    const manifests = await reviewerManifests();
    expect(manifests.map((m) => `${m.kind} ${m.metadata?.namespace ?? ''}/${m.metadata?.name}`)).toEqual([
      'Namespace /vault',
      'ServiceAccount vault/vault-auth',
      'ClusterRoleBinding /vault-auth-delegator',
      'Secret vault/vault-auth-token',
    ]);
    expect(manifests[2]).toMatchObject({ roleRef: { kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects: [{ kind: 'ServiceAccount', name: 'vault-auth', namespace: 'vault' }] });
    expect(manifests[3]).toMatchObject({ type: 'kubernetes.io/service-account-token', metadata: { annotations: { 'kubernetes.io/service-account.name': 'vault-auth' } } });
  });

  it('fresh cluster: todo, applied with the product field manager, token filled and masked, the token can review; a second run changes nothing', async () => {
    const before = await run({ mode: 'check' });
    expect(before.done.result).toBe('drift');
    expect(before.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'todo', detail: 'no reviewer account (Namespace vault, ServiceAccount vault/vault-auth, ClusterRoleBinding vault-auth-delegator, Secret vault/vault-auth-token missing)' });

    const first = await run();
    expect(first.failure).toBeUndefined();
    expect(first.outcome).toBe('applied');
    expect(first.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'done', detail: 'vault/vault-auth bound to system:auth-delegator, token in Secret vault-auth-token' });
    const token = await reviewerToken();
    expect(token.split('.')).toHaveLength(3);
    expect(first.redactor.redact(`jwt ${token}`)).not.toContain(token);
    expect(first.logs.join('\n')).not.toContain(token);
    const binding = (await read<k8s.V1ClusterRoleBinding>(refs.binding))!;
    expect(binding.metadata?.managedFields?.map((f) => f.manager)).toEqual([FIELD_MANAGER]);

    const review = await reviewWithReviewerToken(token);
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe('system:serviceaccount:vault:vault-auth');

    const versions = async () => Promise.all([refs.namespace, refs.serviceAccount, refs.secret, refs.binding].map(async (ref) => (await read(ref))?.metadata?.resourceVersion));
    const versionsBefore = await versions();
    const second = await run();
    expect(second.outcome).toBe('already-done');
    expect(await versions()).toEqual(versionsBefore);
  });

  it('the binding removed by hand is drift (Vault logins would be refused); apply puts it back', async () => {
    await run();
    await remove(refs.binding);
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'drift', detail: 'missing: ClusterRoleBinding vault-auth-delegator' });
    // kube-apiserver's RBAC authorizer reads bindings through an informer: the deletion reaches it
    // a moment later, so the refusal is waited for (bounded).
    const review = await waitUntil('the TokenReview refused without the binding', async () => {
      const outcome = await reviewWithReviewerToken(await reviewerToken()).catch((error: unknown) => error);
      return outcome instanceof k8s.ApiException ? outcome : undefined;
    }, 10_000);
    expect(review).toBeInstanceOf(k8s.ApiException);
    expect((review as k8s.ApiException<unknown>).code).toBe(403);
    const fixed = await run();
    expect(fixed.outcome).toBe('applied');
    const allowed = await waitUntil('the TokenReview allowed again', async () => reviewWithReviewerToken(await reviewerToken()), 10_000);
    expect(allowed.status?.authenticated).toBe(true);
  });

  it('subjects changed by another manager are drift; the forced apply takes them back', async () => {
    await run();
    // kubectl apply --server-side --force-conflicts by someone else.
    await plane.objects.patch({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: REVIEWER.binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: 'someone-else', namespace: 'default' }],
    } as k8s.V1ClusterRoleBinding, undefined, undefined, 'kubectl', true, k8s.PatchStrategy.ServerSideApply);
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'drift', detail: 'ClusterRoleBinding vault-auth-delegator does not bind ServiceAccount vault/vault-auth' });
    const fixed = await run();
    expect(fixed.outcome).toBe('applied');
    expect((await read<k8s.V1ClusterRoleBinding>(refs.binding))?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'vault-auth', namespace: 'vault' }]);
  });

  it('a Secret of another type under the token name is reported, not deleted', async () => {
    await plane.objects.create(refs.namespace);
    await plane.objects.create({ ...refs.secret, type: 'Opaque', data: { token: Buffer.from('mine').toString('base64') } } as k8s.V1Secret);
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]?.state).toBe('drift');
    const failed = await run();
    expect(failed.done.result).toBe('failed');
    expect(failed.failure).toEqual({
      message: 'Secret vault/vault-auth-token exists with type Opaque; a Secret\'s type cannot be changed',
      hint: 'If it is not used elsewhere, delete it (kubectl -n vault delete secret vault-auth-token) and run the step again.',
    });
    expect((await read<k8s.V1Secret>(refs.secret))?.type).toBe('Opaque');
    expect(await read(refs.serviceAccount)).toBeUndefined();
  });

  it('a context without the rights fails at the check, before writing anything, naming everything denied', async () => {
    const failed = await run({ cluster: { context: VIEWER_USER } });
    expect(failed.done.result).toBe('failed');
    expect(failed.failure?.message).toBe(
      // The view role reads namespaces and service accounts, nothing else of these.
      `the context "${VIEWER_USER}" may not get secrets in namespace vault; get clusterrolebindings.rbac.authorization.k8s.io; create namespaces; create serviceaccounts in namespace vault; create secrets in namespace vault; create clusterrolebindings.rbac.authorization.k8s.io; patch namespaces; patch serviceaccounts in namespace vault; patch secrets in namespace vault; patch clusterrolebindings.rbac.authorization.k8s.io`,
    );
    expect(await read(refs.namespace)).toBeUndefined();
  });

  it('an unknown context fails the check with the contexts the kubeconfig has', async () => {
    const failed = await run({ mode: 'check', cluster: { context: 'prod' } });
    expect(failed.done.result).toBe('failed');
    expect(failed.failure).toEqual({ message: `the kubeconfig ${plane.kubeconfigPath} has no context "prod"`, hint: `Set cluster.context in the profile to one of: default, ${VIEWER_USER}.` });
  });
});

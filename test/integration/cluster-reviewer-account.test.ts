// cluster.reviewer-account through the real runner (runPlan) against the lab's Kubernetes API server:
// the objects Vault's kubernetes auth method needs, their drift, and the failures a user can act on.
// https://developer.hashicorp.com/vault/docs/auth/kubernetes#use-a-long-lived-token
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redactor } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { Prompter, RunnerEvent } from '../../source/core/step.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { FIELD_MANAGER } from '../../source/services/cluster.js';
import { REVIEWER_ACCOUNT_STEP_ID, reviewerAccountStep, reviewerManifests } from '../../source/steps/cluster/reviewer-account.js';
import { ClusterSession, REVIEWER } from '../../source/steps/cluster/session.js';
import { startK8sSim, VIEWER_USER, type K8sSim } from '../lab/k8s-sim/index.js';

let dir: string;
let sim: K8sSim;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-reviewer-'));
});
// A fresh API server per case (same PKI directory, so only the first start pays for the keys).
beforeEach(async () => {
  sim = await startK8sSim({ dir: join(dir, 'cluster') });
});
afterEach(async () => {
  await sim?.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
  const profile: Profile = ProfileSchema.parse({ cluster: { kubeconfig: sim.kubeconfigPath, ...options.cluster } });
  const events: RunnerEvent[] = [];
  const redactor = new Redactor();
  const step = reviewerAccountStep(new ClusterSession({ tokenWaitMs: options.tokenWaitMs ?? 5000 }));
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

const types = () => ({
  namespaces: sim.cluster.type('', 'namespaces'),
  serviceaccounts: sim.cluster.type('', 'serviceaccounts'),
  secrets: sim.cluster.type('', 'secrets'),
  bindings: sim.cluster.type('rbac.authorization.k8s.io', 'clusterrolebindings'),
});

function reviewerToken(): string {
  const secret = sim.cluster.get(types().secrets, REVIEWER.namespace, REVIEWER.tokenSecret);
  return Buffer.from(secret!['data']['token'], 'base64').toString('utf8');
}

/** A TokenReview made with the reviewer token: what Vault does at every kubernetes login. */
async function reviewWithReviewerToken(tokenToReview: string): Promise<k8s.V1TokenReview> {
  const config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'lab', server: sim.url, caData: Buffer.from(sim.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'reviewer', token: reviewerToken() }],
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
    const token = reviewerToken();
    expect(token.split('.')).toHaveLength(3);
    expect(first.redactor.redact(`jwt ${token}`)).not.toContain(token);
    expect(first.logs.join('\n')).not.toContain(token);
    const binding = sim.cluster.get(types().bindings, undefined, REVIEWER.binding)!;
    expect(binding['metadata']['managedFields'].map((f: { manager: string }) => f.manager)).toEqual([FIELD_MANAGER]);

    const review = await reviewWithReviewerToken(token);
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe('system:serviceaccount:vault:vault-auth');

    const versions = () => [types().namespaces, types().serviceaccounts, types().secrets].map((t, i) => sim.cluster.get(t, i === 0 ? undefined : REVIEWER.namespace, [REVIEWER.namespace, REVIEWER.serviceAccount, REVIEWER.tokenSecret][i]!)!['metadata']['resourceVersion']);
    const versionsBefore = [...versions(), binding['metadata']['resourceVersion']];
    const second = await run();
    expect(second.outcome).toBe('already-done');
    expect([...versions(), sim.cluster.get(types().bindings, undefined, REVIEWER.binding)!['metadata']['resourceVersion']]).toEqual(versionsBefore);
  });

  it('the binding removed by hand is drift (Vault logins would be refused); apply puts it back', async () => {
    await run();
    sim.cluster.delete(types().bindings, undefined, REVIEWER.binding);
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'drift', detail: 'missing: ClusterRoleBinding vault-auth-delegator' });
    const review = await reviewWithReviewerToken(reviewerToken()).catch((error: unknown) => error);
    expect(review).toBeInstanceOf(k8s.ApiException);
    expect((review as k8s.ApiException<unknown>).code).toBe(403);
    const fixed = await run();
    expect(fixed.outcome).toBe('applied');
    expect((await reviewWithReviewerToken(reviewerToken())).status?.authenticated).toBe(true);
  });

  it('subjects changed by another manager are drift; the forced apply takes them back', async () => {
    await run();
    sim.cluster.patch(types().bindings, undefined, REVIEWER.binding, 'apply', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: REVIEWER.binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: 'someone-else', namespace: 'default' }],
    }, { manager: 'kubectl', force: true });
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]).toEqual({ state: 'drift', detail: 'ClusterRoleBinding vault-auth-delegator does not bind ServiceAccount vault/vault-auth' });
    const fixed = await run();
    expect(fixed.outcome).toBe('applied');
    expect(sim.cluster.get(types().bindings, undefined, REVIEWER.binding)!['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'vault-auth', namespace: 'vault' }]);
  });

  it('a Secret of another type under the token name is reported, not deleted', async () => {
    sim.cluster.create(types().namespaces, undefined, { metadata: { name: REVIEWER.namespace } });
    sim.cluster.create(types().secrets, REVIEWER.namespace, { metadata: { name: REVIEWER.tokenSecret }, type: 'Opaque', data: { token: Buffer.from('mine').toString('base64') } });
    const checked = await run({ mode: 'check' });
    expect(checked.done.checks[REVIEWER_ACCOUNT_STEP_ID]?.state).toBe('drift');
    const failed = await run();
    expect(failed.done.result).toBe('failed');
    expect(failed.failure).toEqual({
      message: 'Secret vault/vault-auth-token exists with type Opaque; a Secret\'s type cannot be changed',
      hint: 'If it is not used elsewhere, delete it (kubectl -n vault delete secret vault-auth-token) and run the step again.',
    });
    expect(sim.cluster.get(types().secrets, REVIEWER.namespace, REVIEWER.tokenSecret)!['type']).toBe('Opaque');
    expect(sim.cluster.get(types().serviceaccounts, REVIEWER.namespace, REVIEWER.serviceAccount)).toBeUndefined();
  });

  it('a context without the rights fails at the check, before writing anything, naming everything denied', async () => {
    const failed = await run({ cluster: { context: VIEWER_USER } });
    expect(failed.done.result).toBe('failed');
    expect(failed.failure?.message).toBe(
      // The view role reads namespaces and service accounts, nothing else of these.
      `the context "${VIEWER_USER}" may not get secrets in namespace vault; get clusterrolebindings.rbac.authorization.k8s.io; create namespaces; create serviceaccounts in namespace vault; create secrets in namespace vault; create clusterrolebindings.rbac.authorization.k8s.io; patch namespaces; patch serviceaccounts in namespace vault; patch secrets in namespace vault; patch clusterrolebindings.rbac.authorization.k8s.io`,
    );
    expect(sim.cluster.get(types().namespaces, undefined, REVIEWER.namespace)).toBeUndefined();
  });

  it('an unknown context fails the check with the contexts the kubeconfig has', async () => {
    const failed = await run({ mode: 'check', cluster: { context: 'prod' } });
    expect(failed.done.result).toBe('failed');
    expect(failed.failure).toEqual({ message: `the kubeconfig ${sim.kubeconfigPath} has no context "prod"`, hint: `Set cluster.context in the profile to one of: default, ${VIEWER_USER}.` });
  });
});

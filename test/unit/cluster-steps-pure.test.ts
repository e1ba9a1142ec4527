// The pure parts of the cluster phase: which kubeconfig is meant, how a curl failure from the Vault
// host reads, the ESO role and ClusterSecretStore drift, ESO readiness, the status line.
// https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-role
// https://external-secrets.io/latest/api/spec/
import { describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import { ProfileSchema } from '../../source/profile/schema.js';
import { K3S_KUBECONFIG, kubeconfigPathFor } from '../../source/services/cluster.js';
import { clusterWarning, describeClusterStatus, type ClusterStatus } from '../../source/services/cluster-status.js';
import { describeInstallation, isDeploymentReady, managedElsewhere } from '../../source/steps/cluster/eso-install.js';
import { desiredEsoRole, esoRoleDrift } from '../../source/steps/cluster/eso-role.js';
import { describeCurlFailure, phaseAccess } from '../../source/steps/cluster/preflight.js';
import { describeCondition, storeDrift, type StoreObject } from '../../source/steps/cluster/secret-store.js';
import { tokenFingerprint } from '../../source/steps/cluster/auth-method.js';

const cluster = (settings: Record<string, unknown> = {}) => ProfileSchema.parse({ cluster: settings }).cluster;

describe('kubeconfigPathFor', () => {
  const none = () => false;
  it('takes the profile first, then the first existing KUBECONFIG entry, then ~/.kube/config', () => {
    expect(kubeconfigPathFor(cluster({ kubeconfig: '/etc/k.yaml' }), { KUBECONFIG: '/a', HOME: '/home/pi' }, none)).toBe('/etc/k.yaml');
    expect(kubeconfigPathFor(cluster(), { KUBECONFIG: '/a:/b', HOME: '/home/pi' }, (file) => file === '/b')).toBe('/b');
    expect(kubeconfigPathFor(cluster(), { KUBECONFIG: '/a:/b', HOME: '/home/pi' }, none)).toBe('/a');
    expect(kubeconfigPathFor(cluster(), { HOME: '/home/pi' }, none)).toBe('/home/pi/.kube/config');
  });
  it('on a K3s server without ~/.kube/config: K3s\'s own file', () => {
    expect(kubeconfigPathFor(cluster(), { HOME: '/home/pi' }, (file) => file === K3S_KUBECONFIG)).toBe(K3S_KUBECONFIG);
    expect(kubeconfigPathFor(cluster(), { HOME: '/home/pi' }, (file) => file === K3S_KUBECONFIG || file === '/home/pi/.kube/config')).toBe('/home/pi/.kube/config');
  });
});

describe('describeCurlFailure (curl exit codes, https://curl.se/libcurl/c/libcurl-errors.html)', () => {
  it('says what failed and what to set', () => {
    const refused = describeCurlFailure(7, 'https://10.0.0.5:6443', 'curl: (7) Failed to connect to 10.0.0.5 port 6443');
    expect(refused.message).toBe('the Vault host cannot reach the Kubernetes API at https://10.0.0.5:6443: the connection is refused or the network unreachable (curl: (7) Failed to connect to 10.0.0.5 port 6443)');
    expect(refused.hint).toContain('profile set cluster.apiAddressForVault=URL');
    expect(describeCurlFailure(28, 'https://x:6443', '').message).toContain('no answer within 10 s');
    expect(describeCurlFailure(6, 'https://k3s.lan:6443', '').message).toContain('its name does not resolve there');
    const certificate = describeCurlFailure(60, 'https://x:6443', 'curl: (60) SSL certificate problem: unable to get local issuer certificate');
    expect(certificate.message).toContain('not verified by the kubeconfig\'s cluster CA');
    expect(certificate.hint).toContain('--tls-san');
  });
});

describe('phaseAccess', () => {
  it('asks for every object kind the phase writes, in the ESO namespace where it lists', () => {
    const access = phaseAccess('eso');
    expect(access).toContainEqual({ verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' });
    expect(access).toContainEqual({ verb: 'patch', resource: 'clustersecretstores', group: 'external-secrets.io' });
    expect(access).toContainEqual({ verb: 'list', resource: 'deployments', group: 'apps', namespace: 'eso' });
  });
});

describe('ESO role', () => {
  const desired = desiredEsoRole({ name: 'external-secrets', namespace: 'external-secrets' }, 'vault');
  it('matches what Vault reads back (lists in any order, TTLs in seconds)', () => {
    const read = { bound_service_account_names: ['external-secrets'], bound_service_account_namespaces: ['external-secrets'], token_policies: ['readonly'], token_ttl: 3600, token_max_ttl: 14400, audience: 'vault', alias_name_source: 'serviceaccount_uid' };
    expect(esoRoleDrift(read, desired)).toEqual([]);
  });
  it('names each difference', () => {
    const read = { bound_service_account_names: ['other'], bound_service_account_namespaces: ['external-secrets'], policies: ['readonly', 'readwrite'], token_ttl: 0, token_max_ttl: 14400, audience: '' };
    expect(esoRoleDrift(read, desired)).toEqual([
      'bound_service_account_names is [other], want [external-secrets]',
      'token_policies is [readonly, readwrite], want [readonly]',
      'token_ttl is 0s, want 3600s',
      'audience is (none), want vault',
    ]);
  });
});

describe('ClusterSecretStore drift and conditions', () => {
  const vault = { server: 'https://10.0.0.11:8200', path: 'secret', version: 'v2', caBundle: 'QUJD', auth: { kubernetes: { mountPath: 'kubernetes', role: 'external-secrets', serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences: ['vault'] } } } };
  const store = (spec: Record<string, unknown>, apiVersion = 'external-secrets.io/v1'): StoreObject => ({ apiVersion, kind: 'ClusterSecretStore', metadata: { name: 'vault-backend' }, spec: { provider: { vault: spec } } });
  it('no drift for the same spec with keys in another order', () => {
    const reordered = { auth: { kubernetes: { serviceAccountRef: { audiences: ['vault'], namespace: 'external-secrets', name: 'external-secrets' }, role: 'external-secrets', mountPath: 'kubernetes' } }, caBundle: 'QUJD', version: 'v2', path: 'secret', server: 'https://10.0.0.11:8200' };
    expect(storeDrift(store(reordered), store(vault))).toEqual([]);
  });
  it('names changed fields, the CA without quoting it, and a stale API version', () => {
    expect(storeDrift(store({ ...vault, server: 'https://other:8200', caBundle: 'WFla' }, 'external-secrets.io/v1beta1'), store(vault))).toEqual([
      'stored as external-secrets.io/v1beta1, want external-secrets.io/v1',
      'spec.provider.vault.server differs',
      'caBundle is not the CA of Vault\'s certificate',
    ]);
  });
  it('describes ESO\'s Ready condition as kubectl describe would', () => {
    expect(describeCondition(undefined)).toBe('no Ready condition yet (is the ESO controller running?)');
    expect(describeCondition({ type: 'Ready', status: 'False', reason: 'ValidationFailed', message: 'could not validate provider: invalid vault credentials' })).toBe(
      'Ready=False (ValidationFailed): could not validate provider: invalid vault credentials',
    );
  });
});

describe('ESO installation', () => {
  const deployment = (ready: number, replicas = 1, name = 'external-secrets'): V1Deployment => ({ metadata: { name }, spec: { replicas, selector: {}, template: {} }, status: { readyReplicas: ready, updatedReplicas: ready, availableReplicas: ready } });
  it('is done only with both CRDs served in a supported version and a ready controller', () => {
    expect(isDeploymentReady(deployment(1))).toBe(true);
    expect(isDeploymentReady(deployment(1, 2))).toBe(false);
    expect(describeInstallation({ version: 'v1', missingCrds: [], controllers: [deployment(1)], components: [] }, 'external-secrets')).toEqual({ done: true, detail: 'ESO serves external-secrets.io/v1; Deployment external-secrets/external-secrets ready' });
    expect(describeInstallation({ version: undefined, missingCrds: ['clustersecretstores.external-secrets.io'], controllers: [], components: [] }, 'eso').detail).toBe(
      'CRDs missing: clustersecretstores.external-secrets.io; no controller Deployment (app.kubernetes.io/name=external-secrets) in namespace eso',
    );
    expect(describeInstallation({ version: 'v1', missingCrds: [], controllers: [deployment(0)], components: [] }, 'eso').detail).toBe('Deployment eso/external-secrets not ready (0/1)');
  });

  it('waits for the webhook and the cert-controller where the chart has them (ESO refuses nothing only once they answer)', () => {
    const webhook = (ready: number) => ({ role: 'webhook' as const, deployment: deployment(ready, 1, 'external-secrets-webhook') });
    const certController = (ready: number) => ({ role: 'cert-controller' as const, deployment: deployment(ready, 1, 'external-secrets-cert-controller') });
    expect(describeInstallation({ version: 'v1', missingCrds: [], controllers: [deployment(1)], components: [webhook(0), certController(0)] }, 'eso')).toEqual({
      done: false,
      detail: 'webhook Deployment eso/external-secrets-webhook not ready (0/1); cert-controller Deployment eso/external-secrets-cert-controller not ready (0/1)',
    });
    expect(describeInstallation({ version: 'v1', missingCrds: [], controllers: [deployment(1)], components: [webhook(0), certController(1)] }, 'eso').detail).toBe(
      'webhook Deployment eso/external-secrets-webhook not ready (0/1)',
    );
    expect(describeInstallation({ version: 'v1', missingCrds: [], controllers: [deployment(1)], components: [webhook(1), certController(1)] }, 'eso')).toEqual({
      done: true,
      detail: 'ESO serves external-secrets.io/v1; Deployments eso/external-secrets, eso/external-secrets-webhook, eso/external-secrets-cert-controller ready',
    });
  });
});

describe('who installed ESO', () => {
  const object = (labels: Record<string, string>, annotations: Record<string, string> = {}) => ({ metadata: { name: 'external-secrets', labels, annotations } });
  it('helm install annotates its release; ArgoCD (helm template) and Flux do not count as this helm', () => {
    const helmRelease = { 'meta.helm.sh/release-name': 'external-secrets', 'meta.helm.sh/release-namespace': 'external-secrets' };
    expect(managedElsewhere(object({ 'app.kubernetes.io/managed-by': 'Helm' }, helmRelease))).toBeUndefined();
    // ArgoCD applies what `helm template` rendered: managed-by=Helm, but no release annotation.
    expect(managedElsewhere(object({ 'app.kubernetes.io/managed-by': 'Helm' }))).toBe('something other than a helm release (ArgoCD, kubectl)');
    expect(managedElsewhere(object({ 'app.kubernetes.io/managed-by': 'argocd' }, helmRelease))).toBe('argocd');
    expect(managedElsewhere(object({ 'app.kubernetes.io/managed-by': 'Helm', 'helm.toolkit.fluxcd.io/name': 'eso' }, helmRelease))).toBe('Flux');
    expect(managedElsewhere(undefined)).toBeUndefined();
  });
});

describe('reviewer token fingerprint', () => {
  it('is 16 hex digits of SHA-256, stable, and changes with the token', () => {
    expect(tokenFingerprint('a.b.c')).toMatch(/^[0-9a-f]{16}$/);
    expect(tokenFingerprint('a.b.c')).toBe(tokenFingerprint('a.b.c'));
    expect(tokenFingerprint('a.b.d')).not.toBe(tokenFingerprint('a.b.c'));
  });
});

describe('status cluster line', () => {
  const reading = (store: ClusterStatus['store'], error: string | null = null): ClusterStatus => ({ context: 'default', server: 'https://127.0.0.1:6443', error, store });
  it('reads like kubectl get clustersecretstore', () => {
    expect(describeClusterStatus(reading({ name: 'vault-backend', present: true, ready: true, reason: 'Valid', message: 'store validated' }))).toBe('vault-backend Ready (Valid)');
    expect(describeClusterStatus(reading({ name: 'vault-backend', present: true, ready: false, reason: 'ValidationFailed', message: 'permission denied' }))).toBe('vault-backend not Ready (ValidationFailed): permission denied');
    expect(describeClusterStatus(reading({ name: 'vault-backend', present: false, ready: null, reason: null, message: null }))).toBe('ClusterSecretStore vault-backend missing');
    expect(describeClusterStatus(reading(null, 'the kubeconfig /x does not exist'))).toBe('unreadable: the kubeconfig /x does not exist');
  });
  it('warns unless the store is Ready', () => {
    expect(clusterWarning(null)).toBeUndefined();
    expect(clusterWarning(reading({ name: 'vault-backend', present: true, ready: true, reason: 'Valid', message: null }))).toBeUndefined();
    expect(clusterWarning(reading({ name: 'vault-backend', present: true, ready: null, reason: null, message: null }))).toBe('vault-backend: no Ready condition (is ESO running?): ExternalSecrets do not sync from Vault');
  });
});

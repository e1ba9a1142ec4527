// The cause of a store failure, from ESO's Warning text, and the hint for it. The real texts are
// reproduced against the real ESO and OpenBao by test/e2e/fidelity/store.ts; these pin the
// classification and that every cause has a hint of its own.
import { describe, expect, it } from 'vitest';
import { classifyStoreFailure, hintForStoreFailure, type StoreFailureCause } from '../../source/steps/cluster/store-failure.js';

const facts = { esoNamespace: 'external-secrets', authMountPath: 'kubernetes', esoAudience: 'vault', vaultAddress: 'https://vault.lan:8200' };

describe('classifyStoreFailure', () => {
  it.each<[string, StoreFailureCause]>([
    ['unable to create client: cannot request Kubernetes service account token for service account "no-such-account": serviceaccounts "no-such-account" not found', 'service-account-missing'],
    ['unable to create client: cannot request Kubernetes service account token for service account "external-secrets": serviceaccounts "external-secrets" is forbidden: User "system:serviceaccount:external-secrets:external-secrets" cannot create resource "serviceaccounts/token"', 'token-request-denied'],
    // The real ESO 0.16.2 with serviceaccounts/token removed from its ClusterRole: its fallback to a legacy token Secret is all it says.
    ['cannot request Kubernetes service account token for service account "external-secrets": cannot find secrets bound to service account: "external-secrets"', 'token-request-denied'],
    ['unable to log in to auth method: Put "https://127.0.0.1:8200/v1/auth/kubernetes/login": tls: failed to verify certificate: x509: certificate signed by unknown authority', 'tls'],
    ['unable to log in with Kubernetes auth: Error making API request.\n\nCode: 400. Errors:\n\n* invalid role name "no-such-role"', 'role-missing'],
    ['Put "https://127.0.0.1:1/v1/auth/kubernetes/login": dial tcp 127.0.0.1:1: connect: connection refused', 'unreachable'],
    ['Code: 403. Errors:\n\n* permission denied', 'permission-denied'],
    ['something new', 'unknown'],
  ])('%s → %s', (text, cause) => {
    expect(classifyStoreFailure(text)).toBe(cause);
  });

  it('no text is unknown', () => {
    expect(classifyStoreFailure(undefined)).toBe('unknown');
    expect(classifyStoreFailure('')).toBe('unknown');
  });
});

describe('hintForStoreFailure', () => {
  const causes: StoreFailureCause[] = ['service-account-missing', 'token-request-denied', 'tls', 'role-missing', 'audience', 'permission-denied', 'unreachable', 'unknown'];

  it('every cause has its own hint', () => {
    const hints = causes.map((cause) => hintForStoreFailure(cause, facts));
    expect(new Set(hints).size).toBe(causes.length);
  });

  it('the hints name what to look at: the address pods use, the audience, the default policy', () => {
    expect(hintForStoreFailure('unreachable', facts)).toContain('https://vault.lan:8200');
    expect(hintForStoreFailure('audience', facts)).toContain('(vault)');
    expect(hintForStoreFailure('permission-denied', facts)).toContain('vault policy read default');
    expect(hintForStoreFailure('token-request-denied', facts)).toContain('serviceaccounts/token');
  });
});

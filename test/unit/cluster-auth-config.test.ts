// The kubernetes auth method's desired config and its drift (https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method).
import { describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { apiAddressForVault, authConfigDrift, isLoopbackUrl, type KubernetesAuthConfig } from '../../source/steps/cluster/auth-config.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const desired: KubernetesAuthConfig = { kubernetes_host: 'https://192.168.1.10:6443', kubernetes_ca_cert: CA, token_reviewer_jwt: 'a.b.c' };

describe('isLoopbackUrl', () => {
  it.each([
    ['https://127.0.0.1:6443', true],
    ['https://127.0.0.2:6443', true],
    ['https://localhost:6443', true],
    ['https://[::1]:6443', true],
    ['https://192.168.1.10:6443', false],
    ['https://k3s.home.arpa:6443', false],
    ['https://[fd00::1]:6443', false],
    ['not a url', false],
  ])('%s -> %s', (url, loopback) => {
    expect(isLoopbackUrl(url)).toBe(loopback);
  });
});

describe('apiAddressForVault', () => {
  it('the profile setting wins (trailing slash dropped), even on loopback: it is checked from the Vault host', () => {
    expect(apiAddressForVault('https://127.0.0.2:6443/', 'https://127.0.0.1:6443')).toBe('https://127.0.0.2:6443');
  });

  it('a routable kubeconfig server is used as it is', () => {
    expect(apiAddressForVault(undefined, 'https://192.168.1.10:6443')).toBe('https://192.168.1.10:6443');
  });

  it('a loopback kubeconfig server without a setting is a UserError saying what to set', () => {
    let error: unknown;
    try {
      apiAddressForVault(undefined, 'https://127.0.0.1:6443');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe("the kubeconfig's API address https://127.0.0.1:6443 is a loopback address, which Vault's host cannot use to reach the cluster");
    expect((error as UserError).hint).toContain('profile set cluster.apiAddressForVault=URL');
  });
});

describe('authConfigDrift', () => {
  it('matches when host, CA (whitespace and CRLF aside) and a reviewer JWT are set', () => {
    expect(authConfigDrift({ kubernetes_host: 'https://192.168.1.10:6443/', kubernetes_ca_cert: CA.replaceAll('\n', '\r\n').trim(), token_reviewer_jwt_set: true }, desired)).toEqual([]);
  });

  it('names every difference', () => {
    expect(authConfigDrift({ kubernetes_host: 'https://127.0.0.1:6443', kubernetes_ca_cert: '-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----', token_reviewer_jwt_set: false }, desired)).toEqual([
      'kubernetes_host is https://127.0.0.1:6443, want https://192.168.1.10:6443',
      'kubernetes_ca_cert is not the cluster CA from the kubeconfig',
      'token_reviewer_jwt is not set',
    ]);
    expect(authConfigDrift({}, desired)).toEqual(['kubernetes_host is (empty), want https://192.168.1.10:6443', 'kubernetes_ca_cert is not set', 'token_reviewer_jwt is not set']);
  });

  it('no config at all', () => {
    expect(authConfigDrift(undefined, desired)).toEqual(['the auth method has no config']);
  });
});

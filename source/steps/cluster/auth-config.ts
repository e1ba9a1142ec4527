/**
 * What the kubernetes auth method's config in Vault should hold, and how what Vault holds differs
 * from it. Pure: the step that reads and writes auth/<mount>/config builds on these.
 * https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method
 */
import { isIP } from 'node:net';
import { UserError } from '../../core/errors.js';

/** The body written to auth/<mount>/config. */
export interface KubernetesAuthConfig {
  kubernetes_host: string;
  kubernetes_ca_cert: string;
  token_reviewer_jwt: string;
}

/** What a read of auth/<mount>/config answers: the reviewer JWT is write-only, only whether one is set. */
export interface KubernetesAuthConfigRead {
  kubernetes_host?: string;
  kubernetes_ca_cert?: string;
  token_reviewer_jwt_set?: boolean;
}

/** True when the URL's host is a loopback address or `localhost` (K3s kubeconfigs say https://127.0.0.1:6443). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/**
 * The Kubernetes API address Vault is configured with: the profile's apiAddressForVault when set,
 * else the kubeconfig's server unless that is loopback (on the Vault host a loopback address is
 * Vault's own machine, not the cluster): then the user has to say which address Vault reaches.
 */
export function apiAddressForVault(configured: string | undefined, kubeconfigServer: string): string {
  if (configured) return configured.replace(/\/+$/, '');
  if (isLoopbackUrl(kubeconfigServer)) {
    throw new UserError(`the kubeconfig's API address ${kubeconfigServer} is a loopback address, which Vault's host cannot use to reach the cluster`, {
      hint: 'Set the Kubernetes API address reachable from the Vault host (an API VIP or a server node IP, e.g. https://192.168.1.10:6443): profile set cluster.apiAddressForVault=URL',
    });
  }
  return kubeconfigServer.replace(/\/+$/, '');
}

/** PEM text compared without regard to line endings and surrounding whitespace. */
function samePem(a: string, b: string): boolean {
  const normal = (pem: string): string => pem.replace(/\r\n/g, '\n').trim();
  return normal(a) === normal(b);
}

/**
 * Each way Vault's config differs from the desired one, one phrase each; empty when it matches.
 * The reviewer JWT cannot be read back, so only its absence is seen here.
 */
export function authConfigDrift(current: KubernetesAuthConfigRead | undefined, desired: KubernetesAuthConfig): string[] {
  if (!current) return ['the auth method has no config'];
  const drift: string[] = [];
  const host = (current.kubernetes_host ?? '').replace(/\/+$/, '');
  if (host !== desired.kubernetes_host) drift.push(`kubernetes_host is ${host ? host : '(empty)'}, want ${desired.kubernetes_host}`);
  if (!samePem(current.kubernetes_ca_cert ?? '', desired.kubernetes_ca_cert)) {
    drift.push(current.kubernetes_ca_cert ? 'kubernetes_ca_cert is not the cluster CA from the kubeconfig' : 'kubernetes_ca_cert is not set');
  }
  if (current.token_reviewer_jwt_set !== true) drift.push('token_reviewer_jwt is not set');
  return drift;
}

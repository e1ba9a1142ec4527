/**
 * Why ESO could not use the ClusterSecretStore, read from what ESO itself recorded. ESO puts only a
 * fixed text into the store's condition ("unable to create client", "unable to validate store":
 * external-secrets pkg/controllers/secretstore/common.go) and the cause into a Warning Event: the
 * Vault login's answer, the TLS or dial error, or the Kubernetes TokenRequest's refusal. The
 * patterns below are those texts as the real ESO and the real Vault/OpenBao write them (each is
 * reproduced against the real components by the cluster fidelity suite).
 */
import { ESO } from './session.js';

export type StoreFailureCause =
  /** The store's serviceAccountRef names an account that does not exist (TokenRequest 404). */
  | 'service-account-missing'
  /** ESO's own account may not create tokens for the referenced account (TokenRequest 403). */
  | 'token-request-denied'
  /** ESO does not trust Vault's certificate, or the address is not one of its names. */
  | 'tls'
  /** Vault has no role of that name at the auth mount. */
  | 'role-missing'
  /** The token's audience is not the one the Vault role requires. */
  | 'audience'
  /** Vault refused the login or the token lookup (role bindings, TokenReview, policy). */
  | 'permission-denied'
  /** ESO could not reach Vault (refused, no such host, timeout). */
  | 'unreachable'
  | 'unknown';

const PATTERNS: readonly [StoreFailureCause, RegExp][] = [
  // ESO: `cannot request Kubernetes service account token for service account "<sa>": <API error>`
  // (providers/v1/vault/auth_kubernetes.go errGetKubeSATokenRequest); the API's error says which.
  ['service-account-missing', /service account token for service account "[^"]*":.*\bnot found\b/i],
  // When its TokenRequest fails, ESO 0.16 falls back to a legacy token Secret of the account and
  // reports only that none exists: 'cannot request Kubernetes service account token for service
  // account "external-secrets": cannot find secrets bound to service account: "external-secrets"'
  // (seen from the real ESO 0.16.2 with serviceaccounts/token removed from its ClusterRole).
  ['token-request-denied', /service account token for service account "[^"]*":.*(\b(forbidden|cannot create resource)\b|cannot find secrets bound to service account)/i],
  ['tls', /x509:|tls: |certificate (signed by unknown authority|is valid for|is not valid)/i],
  // Vault's kubernetes auth plugin: `invalid role name "<role>"` (path_login.go).
  ['role-missing', /invalid role name/i],
  // Vault's kubernetes auth plugin and the TokenReview it calls, on an audience that does not match.
  ['audience', /\baudience\b|\baud\b.*claim/i],
  ['permission-denied', /permission denied|\b403\b|not authorized|unauthorized/i],
  ['unreachable', /connection refused|no such host|i\/o timeout|timeout|deadline exceeded|no route to host|network is unreachable/i],
];

/** The cause named by ESO's message (the event's text, or an older ESO's condition message). */
export function classifyStoreFailure(text: string | undefined): StoreFailureCause {
  if (!text) return 'unknown';
  return PATTERNS.find(([, pattern]) => pattern.test(text))?.[0] ?? 'unknown';
}

export interface StoreFailureFacts {
  esoNamespace: string;
  authMountPath: string;
  esoAudience: string;
  /** The Vault address the store gives ESO. */
  vaultAddress: string;
}

/** How to fix each cause, with the commands that show it. */
export function hintForStoreFailure(cause: StoreFailureCause, facts: StoreFailureFacts): string {
  const { esoNamespace, authMountPath, esoAudience, vaultAddress } = facts;
  const role = `vault read auth/${authMountPath}/role/${ESO.vaultRole}`;
  switch (cause) {
    case 'service-account-missing':
      // ESO's controller runs as that same account: its pod's token died with the account, and the
      // kubelet renews a projected token only at 80% of its life, so ESO must be restarted too.
      return `ESO logs in as the service account of the store's serviceAccountRef, which must exist: kubectl -n ${esoNamespace} get serviceaccounts (reinstalling ESO restores it). ESO's own pods run as it too: once it is back, restart them (kubectl -n ${esoNamespace} rollout restart deployment).`;
    case 'token-request-denied':
      return `ESO's controller may not create tokens for the store's service account: its ClusterRole (from the chart) must allow create on serviceaccounts/token; kubectl auth can-i create serviceaccounts/token -n ${esoNamespace} --as=system:serviceaccount:${esoNamespace}:${ESO.defaultServiceAccount}. Reinstalling ESO restores the chart's RBAC.`;
    case 'tls':
      return `ESO does not trust Vault's certificate: the store's caBundle must be the CA that signed it, and ${vaultAddress} one of its names (openssl s_client -connect <host:port> -showcerts shows both).`;
    case 'role-missing':
      return `Vault has no role ${ESO.vaultRole} at auth/${authMountPath}: run the setup again (the step cluster.eso-role writes it), or check with ${role}.`;
    case 'audience':
      return `The token ESO presents must carry the audience the Vault role requires (${esoAudience}): compare the store's serviceAccountRef.audiences with ${role} (audience).`;
    case 'permission-denied':
      return `Vault refused ESO's login or token lookup: check the role (${role}: service account, namespace, audience ${esoAudience}), that Vault can call the TokenReview API (the reviewer account's binding to system:auth-delegator), and that Vault's default policy still lets a token look itself up (vault policy read default).`;
    case 'unreachable':
      return `ESO cannot reach Vault at ${vaultAddress} from inside the cluster: the address must resolve through the cluster's DNS and be reachable from the pods (host firewall, a .local name, a network policy).`;
    case 'unknown':
      return `Details: kubectl describe clustersecretstore ${ESO.store}`;
  }
}

// Service account tokens: RS256 JWTs (https://datatracker.ietf.org/doc/html/rfc7519) with the
// claims a real API server writes.
// Legacy Secret-based tokens (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#legacy-serviceaccount-token-secrets):
//   iss "kubernetes/serviceaccount", sub, kubernetes.io/serviceaccount/{namespace,secret.name,service-account.name,service-account.uid}
// Bound tokens from TokenRequest (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/):
//   aud, exp, iat, nbf, iss, jti, sub, kubernetes.io {namespace, serviceaccount {name, uid}}
import { createHash, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';

export const LEGACY_ISSUER = 'kubernetes/serviceaccount';

export interface TokenSigner {
  keyId: string;
  sign(claims: Record<string, unknown>): string;
  /** Verifies the signature and returns the claims, or null when the token was not signed by us. */
  verify(token: string): Record<string, unknown> | null;
}

export function createTokenSigner(privateKeyPem: string): TokenSigner {
  const publicKey: KeyObject = createPublicKey(privateKeyPem);
  // kid is the SHA-256 of the DER public key, base64url, as kube-apiserver computes it.
  const keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return {
    keyId,
    sign(claims) {
      const input = `${encode({ alg: 'RS256', kid: keyId })}.${encode(claims)}`;
      return `${input}.${sign('sha256', Buffer.from(input), privateKeyPem).toString('base64url')}`;
    },
    verify(token) {
      const parts = token.split('.');
      if (parts.length !== 3) return null;
      try {
        const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string };
        if (header.alg !== 'RS256') return null;
        const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2]!, 'base64url'));
        if (!ok) return null;
        const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
        return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
      } catch {
        return null;
      }
    },
  };
}

export function legacyTokenClaims(account: { namespace: string; name: string; uid: string }, secretName: string): Record<string, unknown> {
  return {
    iss: LEGACY_ISSUER,
    'kubernetes.io/serviceaccount/namespace': account.namespace,
    'kubernetes.io/serviceaccount/secret.name': secretName,
    'kubernetes.io/serviceaccount/service-account.name': account.name,
    'kubernetes.io/serviceaccount/service-account.uid': account.uid,
    sub: `system:serviceaccount:${account.namespace}:${account.name}`,
  };
}

export function boundTokenClaims(
  account: { namespace: string; name: string; uid: string },
  options: { issuer: string; audiences: string[]; expirationSeconds: number; now: number },
): Record<string, unknown> {
  const iat = Math.floor(options.now / 1000);
  return {
    aud: options.audiences,
    exp: iat + options.expirationSeconds,
    iat,
    iss: options.issuer,
    jti: randomUUID(),
    'kubernetes.io': { namespace: account.namespace, serviceaccount: { name: account.name, uid: account.uid } },
    nbf: iat,
    sub: `system:serviceaccount:${account.namespace}:${account.name}`,
  };
}

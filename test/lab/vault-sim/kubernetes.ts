// Kubernetes auth method: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// and https://developer.hashicorp.com/vault/docs/auth/kubernetes (login verifies the JWT's claims
// against the role, then asks the cluster's TokenReview API whether the JWT is valid).
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { badRequest, envelope, invalidToken, noContent, notFound, stringField, VaultHttpError, type Reply, type VaultRequest } from './api.js';
import type { Core, Logger } from './core.js';
import { authBlock, issueToken } from './tokens.js';
import { parseDuration, stringList, toBoolean, type KubernetesMountData, type KubernetesRole, type MountEntry } from './state.js';

/** Where the plugin finds the CA of the cluster it runs in when the config names none. */
const LOCAL_CA_CERT = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

export function kubernetesMountData(core: Core, mount: MountEntry): KubernetesMountData {
  const all = core.data.kubernetes;
  all[mount.uuid] ??= { config: null, roles: {} };
  return all[mount.uuid]!;
}

export function kubernetesExists(core: Core, mount: MountEntry, rest: string): boolean {
  const data = kubernetesMountData(core, mount);
  // auth/<mount>/config has no existence check in the plugin: writes to it are always updates.
  const role = /^role\/(.+)$/.exec(rest);
  if (role) return data.roles[role[1]!.toLowerCase()] !== undefined;
  return true;
}

function roleData(role: KubernetesRole): Record<string, unknown> {
  const data: Record<string, unknown> = {
    alias_name_source: role.alias_name_source,
    // audience is left out while unset (path_role.go pathRoleRead)
    ...(role.audience ? { audience: role.audience } : {}),
    bound_service_account_names: role.bound_service_account_names,
    bound_service_account_namespace_selector: role.bound_service_account_namespace_selector,
    bound_service_account_namespaces: role.bound_service_account_namespaces,
    token_bound_cidrs: role.token_bound_cidrs,
    token_explicit_max_ttl: role.token_explicit_max_ttl,
    token_max_ttl: role.token_max_ttl,
    token_no_default_policy: role.token_no_default_policy,
    token_num_uses: role.token_num_uses,
    token_period: role.token_period,
    token_policies: role.token_policies,
    token_ttl: role.token_ttl,
    token_type: role.token_type,
  };
  // Roles written with the deprecated names read back with them too (tokenutil's upgrade path).
  if (role.legacy_fields.includes('policies')) data['policies'] = role.token_policies;
  if (role.legacy_fields.includes('ttl')) data['ttl'] = role.token_ttl;
  if (role.legacy_fields.includes('max_ttl')) data['max_ttl'] = role.token_max_ttl;
  return data;
}

function writeRole(existing: KubernetesRole | undefined, body: Record<string, unknown>): KubernetesRole {
  const role: KubernetesRole = existing ?? {
    bound_service_account_names: [],
    bound_service_account_namespaces: [],
    bound_service_account_namespace_selector: '',
    audience: '',
    alias_name_source: 'serviceaccount_uid',
    token_policies: [],
    token_ttl: 0,
    token_max_ttl: 0,
    token_period: 0,
    token_num_uses: 0,
    token_no_default_policy: false,
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_type: 'default',
    legacy_fields: [],
  };
  const legacy = new Set(role.legacy_fields);
  if (body['bound_service_account_names'] !== undefined) role.bound_service_account_names = stringList(body['bound_service_account_names']);
  if (body['bound_service_account_namespaces'] !== undefined) role.bound_service_account_namespaces = stringList(body['bound_service_account_namespaces']);
  // The selector is taken from every write: omitted, it is cleared (path_role.go pathRoleCreateUpdate).
  role.bound_service_account_namespace_selector = stringField(body, 'bound_service_account_namespace_selector');
  if (body['audience'] !== undefined) role.audience = stringField(body, 'audience');
  if (body['alias_name_source'] !== undefined) {
    const source = stringField(body, 'alias_name_source');
    if (!['serviceaccount_uid', 'serviceaccount_name'].includes(source)) throw badRequest(`invalid alias_name_source: ${JSON.stringify(source)}`);
    role.alias_name_source = source;
  }
  const durations: [string, string, 'token_ttl' | 'token_max_ttl' | 'token_period' | 'token_explicit_max_ttl'][] = [
    ['token_ttl', 'ttl', 'token_ttl'],
    ['token_max_ttl', 'max_ttl', 'token_max_ttl'],
    ['token_period', 'period', 'token_period'],
    ['token_explicit_max_ttl', '', 'token_explicit_max_ttl'],
  ];
  try {
    for (const [name, legacyName, key] of durations) {
      if (body[name] !== undefined) role[key] = parseDuration(body[name]);
      else if (legacyName && body[legacyName] !== undefined) {
        role[key] = parseDuration(body[legacyName]);
        legacy.add(legacyName);
      }
    }
  } catch (error) {
    throw badRequest((error as Error).message);
  }
  if (body['token_policies'] !== undefined) role.token_policies = stringList(body['token_policies']);
  else if (body['policies'] !== undefined) {
    role.token_policies = stringList(body['policies']);
    legacy.add('policies');
  }
  if (body['token_no_default_policy'] !== undefined) role.token_no_default_policy = toBoolean(body['token_no_default_policy']);
  if (body['token_num_uses'] !== undefined) role.token_num_uses = Number(body['token_num_uses']) || 0;
  if (body['token_bound_cidrs'] !== undefined) role.token_bound_cidrs = stringList(body['token_bound_cidrs']);
  if (body['token_type'] !== undefined) role.token_type = stringField(body, 'token_type');
  role.legacy_fields = [...legacy];

  // The checks and messages of path_role.go pathRoleCreateUpdate, in its order.
  if (role.token_max_ttl > 0 && role.token_ttl > role.token_max_ttl) throw badRequest('token ttl should not be greater than token max ttl');
  if (role.bound_service_account_names.length === 0) throw badRequest('"bound_service_account_names" can not be empty');
  if (role.bound_service_account_names.length > 1 && role.bound_service_account_names.includes('*')) {
    throw badRequest('can not mix "*" with values');
  }
  if (role.bound_service_account_namespaces.length === 0 && !role.bound_service_account_namespace_selector) {
    throw badRequest('"bound_service_account_namespaces" can not be empty if "bound_service_account_namespace_selector" is not set');
  }
  if (role.bound_service_account_namespaces.length > 1 && role.bound_service_account_namespaces.includes('*')) {
    throw badRequest('can not mix "*" with values');
  }
  return role;
}

interface ServiceAccountClaims {
  name: string;
  namespace: string;
  uid: string;
  secretName: string;
  audiences: string[];
}

function decodeClaims(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new VaultHttpError(403, ['malformed token']);
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!claims || typeof claims !== 'object') throw new Error('not an object');
    return claims as Record<string, unknown>;
  } catch {
    throw new VaultHttpError(403, ['failed to deserialize token claims']);
  }
}

/** Reads the service account from legacy secret-token claims or projected-token claims. */
function serviceAccountFromClaims(claims: Record<string, unknown>): ServiceAccountClaims {
  const projected = claims['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string; uid?: string } } | undefined;
  const aud = claims['aud'];
  return {
    name: projected?.serviceaccount?.name ?? String(claims['kubernetes.io/serviceaccount/service-account.name'] ?? ''),
    namespace: projected?.namespace ?? String(claims['kubernetes.io/serviceaccount/namespace'] ?? ''),
    uid: projected?.serviceaccount?.uid ?? String(claims['kubernetes.io/serviceaccount/service-account.uid'] ?? ''),
    secretName: String(claims['kubernetes.io/serviceaccount/secret.name'] ?? ''),
    audiences: Array.isArray(aud) ? aud.map(String) : typeof aud === 'string' ? [aud] : [],
  };
}

/** hashicorp/cap jwt's default clock-skew leeway. */
const JWT_LEEWAY_SECONDS = 60;

/**
 * The time checks of hashicorp/cap jwt (Validator.ValidateAllowMissingIatNbfExp) with their
 * messages: nbf in the future, exp in the past, iat in the future, each with the leeway. A token
 * without nbf is taken as valid from its iat (cap derives the one from the other), and one with
 * neither from its exp, so it is refused as not yet valid, as the real plugin does: Kubernetes'
 * own tokens carry all three.
 */
function timeClaimsProblem(claims: Record<string, unknown>): string | undefined {
  const number = (name: string): number | undefined => (typeof claims[name] === 'number' ? (claims[name] as number) : undefined);
  const now = Date.now() / 1000;
  const exp = number('exp');
  const iat = number('iat');
  const nbf = number('nbf') ?? iat ?? exp;
  if (nbf !== undefined && now + JWT_LEEWAY_SECONDS < nbf) return 'invalid not before (nbf) claim: token not yet valid';
  if (exp !== undefined && now - JWT_LEEWAY_SECONDS > exp) return 'invalid expiration time (exp) claim: token is expired';
  if (iat !== undefined && now + JWT_LEEWAY_SECONDS < iat) return 'invalid issued at (iat) claim: token issued in the future';
  return undefined;
}

function globMatch(patterns: string[], value: string): boolean {
  return patterns.some((pattern) => {
    if (!pattern.includes('*')) return pattern === value;
    const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return regex.test(value);
  });
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; uid?: string };
}

/** POST <host>/apis/authentication.k8s.io/v1/tokenreviews, TLS verified against the configured CA. */
function tokenReview(host: string, caCert: string, bearer: string, jwt: string, audiences: string[]): Promise<TokenReviewStatus> {
  const url = new URL(`${host.replace(/\/+$/, '')}/apis/authentication.k8s.io/v1/tokenreviews`);
  // An authv1.TokenReview marshalled as the plugin does: no kind or apiVersion (token_review.go Review).
  const payload = JSON.stringify({
    metadata: {},
    spec: { token: jwt, ...(audiences.length ? { audiences } : {}) },
    status: { user: {} },
  });
  const headers = {
    Authorization: `Bearer ${bearer}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  };
  return new Promise((resolve, reject) => {
    // No usable CA in the config: the plugin's client has an empty pool, so no server verifies.
    if (url.protocol === 'https:' && !caCert.includes('-----BEGIN CERTIFICATE-----')) {
      reject(new Error(`Post "${url.href}": tls: failed to verify certificate: x509: certificate signed by unknown authority`));
      return;
    }
    const onResponse = (response: import('node:http').IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        if (status === 401) return reject(new Error('lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token'));
        if (status < 200 || status > 206) return reject(new Error(`lookup failed: ${status} ${text.trim()}`));
        try {
          const parsed = JSON.parse(text) as { status?: TokenReviewStatus };
          resolve(parsed.status ?? {});
        } catch (error) {
          reject(error as Error);
        }
      });
      response.on('error', reject);
    };
    const options = { method: 'POST', headers, timeout: 10_000 };
    const outgoing =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ca: caCert }, onResponse)
        : httpRequest(url, options, onResponse);
    outgoing.on('timeout', () => outgoing.destroy(new Error('TokenReview request timed out')));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

async function login(core: Core, log: Logger, mount: MountEntry, mountPath: string, body: Record<string, unknown>): Promise<Reply> {
  const roleName = stringField(body, 'role');
  if (!roleName) throw badRequest('missing role');
  const jwt = stringField(body, 'jwt');
  if (!jwt) throw badRequest('missing jwt');
  const data = kubernetesMountData(core, mount);
  const role = data.roles[roleName.toLowerCase()];
  if (!role) throw badRequest(`invalid role name "${roleName}"`);
  const config = data.config;
  if (!config) throw new VaultHttpError(500, ['could not load backend configuration']);

  const claims = decodeClaims(jwt);
  const account = serviceAccountFromClaims(claims);
  if (role.audience.trim() && !account.audiences.includes(role.audience)) {
    throw new VaultHttpError(403, ['invalid audience (aud) claim: audience claim does not match any expected audience']);
  }
  const timeProblem = timeClaimsProblem(claims);
  if (timeProblem) throw new VaultHttpError(403, [timeProblem]);
  if (!(role.bound_service_account_names.length === 1 && role.bound_service_account_names[0] === '*')) {
    if (!globMatch(role.bound_service_account_names, account.name)) throw new VaultHttpError(403, ['service account name not authorized']);
  }
  const namespaces = role.bound_service_account_namespaces;
  if (!(namespaces[0] === '*' || globMatch(namespaces, account.namespace))) throw new VaultHttpError(403, ['namespace not authorized']);

  const wantAudiences = role.audience ? [role.audience] : account.audiences;
  let review: TokenReviewStatus;
  try {
    review = await tokenReview(config.kubernetes_host, config.kubernetes_ca_cert, config.token_reviewer_jwt || jwt, jwt, wantAudiences);
  } catch (error) {
    // The plugin logs the reason at debug level only and answers permission denied (path_login.go).
    log('DEBUG', `auth.kubernetes.${mount.accessor}: login unauthorized: err="${(error as Error).message}"`);
    throw invalidToken();
  }
  const username = review.user?.username ?? '';
  const parts = username.split(':');
  const problem =
    review.error ? `lookup failed: ${review.error}`
    : !review.authenticated ? 'lookup failed: service account jwt not valid'
    : wantAudiences.length && !(review.audiences ?? []).some((a) => wantAudiences.includes(a))
      ? `lookup failed: service account jwt valid for audience(s) [${(review.audiences ?? []).join(' ')}], but wanted [${wantAudiences.join(' ')}]`
    : parts.length !== 4 ? 'lookup failed: unexpected username format'
    : parts[0] !== 'system' || parts[1] !== 'serviceaccount' ? 'lookup failed: username returned is not a service account'
    : parts[3] !== account.name ? 'JWT names did not match'
    : !account.uid ? 'could not parse UID from claims'
    : review.user?.uid !== account.uid ? 'JWT UIDs did not match'
    : parts[2] !== account.namespace ? 'JWT namepaces did not match'
    : null;
  if (problem) {
    log('DEBUG', `auth.kubernetes.${mount.accessor}: login unauthorized: err="${problem}"`);
    throw invalidToken();
  }

  const metadata = {
    role: roleName,
    service_account_name: account.name,
    service_account_namespace: account.namespace,
    service_account_secret_name: account.secretName,
    service_account_uid: account.uid || review.user?.uid || '',
  };
  const entry = issueToken(core.data, {
    policies: role.token_policies,
    noDefaultPolicy: role.token_no_default_policy,
    ttl: role.token_ttl || mount.config.default_lease_ttl,
    maxTtl: role.token_max_ttl || mount.config.max_lease_ttl,
    renewable: true,
    displayName: `${mountPath.replace(/\/$/, '').replace(/\//g, '-')}-${account.namespace}-${account.name}`,
    path: `auth/${mountPath}login`,
    meta: metadata,
    parent: null,
    numUses: role.token_num_uses,
    authRole: roleName,
  });
  core.persist();
  return envelope(null, { auth: authBlock(entry) });
}

/** Handles auth/<mountPath><rest> for a kubernetes auth mount. */
export async function handleKubernetes(core: Core, log: Logger, request: VaultRequest, mount: MountEntry, mountPath: string, rest: string): Promise<Reply> {
  const data = kubernetesMountData(core, mount);
  const op = request.operation;
  const isWrite = op === 'create' || op === 'update';

  if (rest === 'login' && isWrite) return login(core, log, mount, mountPath, request.body);

  if (rest === 'config') {
    if (op === 'read') {
      const config = data.config;
      // Never written: the plugin has nothing to say, which the HTTP layer turns into a 404.
      if (!config) throw notFound();
      // token_reviewer_jwt is write-only: reads only say whether one is set.
      return envelope({
        disable_iss_validation: config.disable_iss_validation,
        disable_local_ca_jwt: config.disable_local_ca_jwt,
        issuer: config.issuer,
        kubernetes_ca_cert: config.kubernetes_ca_cert,
        kubernetes_host: config.kubernetes_host,
        pem_keys: config.pem_keys,
        token_reviewer_jwt_set: config.token_reviewer_jwt !== '',
        use_annotations_as_alias_metadata: config.use_annotations_as_alias_metadata,
      });
    }
    if (isWrite) {
      // Every write replaces the whole configuration: a field left out takes its default, so a
      // write without token_reviewer_jwt clears the one set before (path_config.go pathConfigWrite).
      const body = request.body;
      const host = stringField(body, 'kubernetes_host');
      if (!host) throw badRequest('no host provided');
      const disableLocalCaJwt = toBoolean(body['disable_local_ca_jwt']);
      const caCert = stringField(body, 'kubernetes_ca_cert');
      if (disableLocalCaJwt && !caCert) throw badRequest('kubernetes_ca_cert must be given when disable_local_ca_jwt is true');
      const pemKeys = stringList(body['pem_keys']);
      for (const pem of pemKeys) {
        try {
          createPublicKey(pem);
        } catch {
          throw badRequest('data does not contain any valid public keys');
        }
      }
      // Without a CA in the config the plugin reads the pod's own (it expects to run in the cluster).
      if (!caCert && !disableLocalCaJwt) {
        try {
          readFileSync(LOCAL_CA_CERT, 'utf8');
        } catch (error) {
          throw badRequest(`open ${LOCAL_CA_CERT}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
        }
      }
      // A CA without certificates is accepted (logins then fail TLS verification).
      if (caCert && !caCert.includes('-----BEGIN CERTIFICATE-----')) log('WARN', `auth.kubernetes.${mount.accessor}: Configured CA PEM data contains no valid certificates, TLS verification will fail`);
      data.config = {
        kubernetes_host: host,
        kubernetes_ca_cert: caCert,
        token_reviewer_jwt: stringField(body, 'token_reviewer_jwt'),
        pem_keys: pemKeys,
        issuer: stringField(body, 'issuer'),
        disable_iss_validation: body['disable_iss_validation'] === undefined ? true : toBoolean(body['disable_iss_validation']),
        disable_local_ca_jwt: disableLocalCaJwt,
        use_annotations_as_alias_metadata: toBoolean(body['use_annotations_as_alias_metadata']),
      };
      core.persist();
      return noContent;
    }
  }

  if (rest === 'role/' && op === 'list') {
    const keys = Object.keys(data.roles).sort();
    if (keys.length === 0) throw notFound();
    return envelope({ keys });
  }

  const roleMatch = /^role\/([^/]+)$/.exec(rest);
  if (roleMatch) {
    const name = roleMatch[1]!.toLowerCase();
    if (op === 'read') {
      const role = data.roles[name];
      if (!role) throw notFound();
      return envelope(roleData(role));
    }
    if (isWrite) {
      data.roles[name] = writeRole(data.roles[name] ? structuredClone(data.roles[name]) : undefined, request.body);
      core.persist();
      return noContent;
    }
    if (op === 'delete') {
      delete data.roles[name];
      core.persist();
      return noContent;
    }
  }
  throw new VaultHttpError(405, []);
}

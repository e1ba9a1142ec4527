// Kubernetes auth method: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// and https://developer.hashicorp.com/vault/docs/auth/kubernetes (login verifies the JWT's claims
// against the role, then asks the cluster's TokenReview API whether the JWT is valid).
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { badRequest, envelope, noContent, notFound, permissionDenied, stringField, VaultHttpError, type Reply, type VaultRequest } from './api.js';
import type { Core, Logger } from './core.js';
import { authBlock, issueToken } from './tokens.js';
import { parseDuration, stringList, toBoolean, type KubernetesMountData, type KubernetesRole, type MountEntry } from './state.js';

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
    audience: role.audience,
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
  if (body['bound_service_account_namespace_selector'] !== undefined) role.bound_service_account_namespace_selector = stringField(body, 'bound_service_account_namespace_selector');
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

  if (role.bound_service_account_names.length === 0) throw badRequest('"bound_service_account_names" can not be empty');
  if (role.bound_service_account_namespaces.length === 0 && !role.bound_service_account_namespace_selector) {
    throw badRequest('"bound_service_account_namespaces" can not be empty');
  }
  if (role.bound_service_account_names.length > 1 && role.bound_service_account_names.includes('*')) {
    throw badRequest('can not mix "*" with values');
  }
  if (role.token_max_ttl > 0 && role.token_ttl > role.token_max_ttl) throw badRequest('"token_ttl" value must be less than "token_max_ttl" value');
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
  const payload = JSON.stringify({
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    spec: { token: jwt, ...(audiences.length ? { audiences } : {}) },
  });
  const headers = {
    Authorization: `Bearer ${bearer}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  };
  return new Promise((resolve, reject) => {
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
        ? httpsRequest(url, { ...options, ...(caCert ? { ca: caCert } : {}) }, onResponse)
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

  const account = serviceAccountFromClaims(decodeClaims(jwt));
  if (role.audience.trim() && !account.audiences.includes(role.audience)) {
    throw new VaultHttpError(403, ['invalid audience (aud) claim: audience claim does not match any expected audience']);
  }
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
    // Vault logs the reason and answers permission denied.
    log('ERROR', `auth.kubernetes.${mount.accessor}: login unauthorized: err="${(error as Error).message}"`);
    throw permissionDenied();
  }
  const username = review.user?.username ?? '';
  const parts = username.split(':');
  const problem =
    review.error ? `lookup failed: ${review.error}`
    : !review.authenticated ? 'lookup failed: service account jwt not valid'
    : parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount' ? 'lookup failed: unexpected username format'
    : wantAudiences.length && review.audiences && !review.audiences.some((a) => wantAudiences.includes(a)) ? 'lookup failed: token audiences do not match'
    : parts[3] !== account.name ? 'JWT names did not match'
    : account.uid && review.user?.uid !== account.uid ? 'JWT UIDs did not match'
    : parts[2] !== account.namespace ? 'JWT namepaces did not match'
    : null;
  if (problem) {
    log('ERROR', `auth.kubernetes.${mount.accessor}: login unauthorized: err="${problem}"`);
    throw permissionDenied();
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
      if (!config) return envelope(null);
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
      const body = request.body;
      const host = stringField(body, 'kubernetes_host');
      if (!host) throw badRequest('no host provided');
      const reviewer = stringField(body, 'token_reviewer_jwt');
      if (reviewer && reviewer.split('.').length !== 3) throw badRequest('token contains an invalid number of segments');
      const caCert = stringField(body, 'kubernetes_ca_cert');
      if (caCert && !caCert.includes('-----BEGIN CERTIFICATE-----')) throw badRequest('Configured CA PEM data contains no valid certificates, TLS verification will fail');
      data.config = {
        kubernetes_host: host,
        kubernetes_ca_cert: caCert,
        // Vault keeps the previous reviewer JWT when the field is omitted on update.
        token_reviewer_jwt: body['token_reviewer_jwt'] === undefined ? (data.config?.token_reviewer_jwt ?? '') : reviewer,
        pem_keys: stringList(body['pem_keys']),
        issuer: stringField(body, 'issuer'),
        disable_iss_validation: body['disable_iss_validation'] === undefined ? true : toBoolean(body['disable_iss_validation']),
        disable_local_ca_jwt: toBoolean(body['disable_local_ca_jwt']),
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

// The token store: https://developer.hashicorp.com/vault/api-docs/auth/token
// and https://developer.hashicorp.com/vault/docs/concepts/tokens (TTLs, orphans, default policy).
import { badRequest, envelope, noContent, permissionDenied, VaultHttpError, type Reply, type VaultRequest } from './api.js';
import type { Core } from './core.js';
import { parseDuration, randomBase62, stringList, toBoolean, type TokenEntry, type VaultState } from './state.js';

/** The system-wide default and maximum lease TTL (32 days), as in a stock Vault. */
export const SYSTEM_MAX_TTL = 768 * 3600;

/** Counts one use of a limited-use token; the last use revokes it (Vault's num_uses). */
export function consumeUse(state: VaultState, entry: TokenEntry): boolean {
  if (entry.numUses <= 0) return false;
  entry.numUses -= 1;
  if (entry.numUses === 0) revokeTree(state, entry.id);
  return true;
}

export function findToken(state: VaultState, id: string | undefined): TokenEntry | undefined {
  if (!id) return undefined;
  const entry = state.tokens[id];
  if (!entry) return undefined;
  if (entry.expireAt !== null && entry.expireAt <= Date.now()) {
    // Expired tokens are revoked by the expiration manager; they no longer authenticate.
    revokeTree(state, entry.id);
    return undefined;
  }
  return entry;
}

/** Revokes a token and, unless they are orphans, its children (Vault's revoke-tree). */
export function revokeTree(state: VaultState, id: string): void {
  delete state.tokens[id];
  for (const child of Object.values(state.tokens)) {
    if (child.parentId === id) revokeTree(state, child.id);
  }
}

export interface NewToken {
  policies: string[];
  noDefaultPolicy: boolean;
  ttl: number;
  maxTtl?: number;
  renewable: boolean;
  displayName: string;
  path: string;
  meta: Record<string, string> | null;
  parent: TokenEntry | null;
  numUses?: number;
  authRole?: string;
}

/** A root token as sys/init and root generation make it: orphan, no TTL, policy root; stored in `state`. */
export function issueRootToken(state: VaultState): TokenEntry {
  const now = Date.now();
  const entry: TokenEntry = {
    id: `hvs.${randomBase62(24)}`,
    accessor: randomBase62(24),
    policies: ['root'],
    displayName: 'root',
    path: 'auth/token/root',
    meta: null,
    creationTime: Math.floor(now / 1000),
    creationTtl: 0,
    expireAt: null,
    issuedAt: now,
    maxExpireAt: null,
    renewable: false,
    orphan: true,
    parentId: null,
    numUses: 0,
    explicitMaxTtl: 0,
    period: 0,
  };
  state.tokens[entry.id] = entry;
  return entry;
}

export function issueToken(state: VaultState, spec: NewToken): TokenEntry {
  const now = Date.now();
  const policies = new Set(spec.policies.map((p) => p.toLowerCase()));
  if (!spec.noDefaultPolicy && !policies.has('root')) policies.add('default');
  let ttl = spec.ttl > 0 ? spec.ttl : SYSTEM_MAX_TTL;
  const maxTtl = Math.min(spec.maxTtl && spec.maxTtl > 0 ? spec.maxTtl : SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
  ttl = Math.min(ttl, maxTtl);
  // A child never outlives its parent.
  if (spec.parent?.expireAt) ttl = Math.min(ttl, Math.max(0, Math.floor((spec.parent.expireAt - now) / 1000)));
  const isRoot = policies.has('root');
  const entry: TokenEntry = {
    id: `hvs.${randomBase62(24)}`,
    accessor: randomBase62(24),
    policies: [...policies].sort(),
    displayName: spec.displayName,
    path: spec.path,
    meta: spec.meta,
    creationTime: Math.floor(now / 1000),
    creationTtl: isRoot && spec.ttl === 0 ? 0 : ttl,
    expireAt: isRoot && spec.ttl === 0 ? null : now + ttl * 1000,
    issuedAt: now,
    maxExpireAt: isRoot && spec.ttl === 0 ? null : now + maxTtl * 1000,
    renewable: isRoot && spec.ttl === 0 ? false : spec.renewable,
    orphan: spec.parent === null,
    parentId: spec.parent?.id ?? null,
    numUses: spec.numUses ?? 0,
    explicitMaxTtl: 0,
    period: 0,
  };
  if (spec.authRole !== undefined) entry.authRole = spec.authRole;
  state.tokens[entry.id] = entry;
  return entry;
}

function remainingTtl(entry: TokenEntry): number {
  if (entry.expireAt === null) return 0;
  return Math.max(0, Math.floor((entry.expireAt - Date.now()) / 1000));
}

/** The `auth` block of a login or token-create response. */
export function authBlock(entry: TokenEntry): Record<string, unknown> {
  return {
    client_token: entry.id,
    accessor: entry.accessor,
    policies: entry.policies,
    token_policies: entry.policies,
    metadata: entry.meta,
    // the TTL just granted (at issue or renewal), as Vault reports it
    lease_duration: entry.expireAt === null ? 0 : Math.round((entry.expireAt - entry.issuedAt) / 1000),
    renewable: entry.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: entry.orphan,
    mfa_requirement: null,
    num_uses: entry.numUses,
  };
}

/**
 * The `data` of auth/token/lookup(-self). issue_time, renewable and last_renewal_time come from
 * the token's lease, so a token that never expires (root) has none of them (token_store.go
 * handleLookup; the real OpenBao 2.7.2 answers the same).
 */
export function lookupData(entry: TokenEntry): Record<string, unknown> {
  const leased = entry.expireAt !== null;
  return {
    accessor: entry.accessor,
    creation_time: entry.creationTime,
    creation_ttl: entry.creationTtl,
    display_name: entry.displayName,
    entity_id: '',
    expire_time: entry.expireAt === null ? null : new Date(entry.expireAt).toISOString(),
    explicit_max_ttl: entry.explicitMaxTtl,
    id: entry.id,
    ...(leased ? { issue_time: new Date(entry.creationTime * 1000).toISOString() } : {}),
    ...(leased && entry.lastRenewalTime !== undefined ? { last_renewal_time: entry.lastRenewalTime } : {}),
    meta: entry.meta,
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    policies: entry.policies,
    ...(leased ? { renewable: entry.renewable } : {}),
    ttl: remainingTtl(entry),
    type: 'service',
  };
}

function renew(entry: TokenEntry, incrementValue: unknown): void {
  if (!entry.renewable || entry.expireAt === null) throw badRequest('lease is not renewable');
  const increment = parseDuration(incrementValue) || entry.creationTtl;
  const now = Date.now();
  let expireAt = now + increment * 1000;
  if (entry.maxExpireAt !== null) expireAt = Math.min(expireAt, entry.maxExpireAt);
  entry.expireAt = expireAt;
  entry.issuedAt = now;
  entry.lastRenewalTime = Math.floor(now / 1000);
}

function metaField(value: unknown): Record<string, string> | null {
  if (!value || typeof value !== 'object') return null;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** Handles auth/token/<rest> for an authenticated caller. */
export function handleTokenStore(core: Core, request: VaultRequest, rest: string): Reply {
  const state = core.data;
  const caller = request.caller!;
  const operation = request.operation;
  const isWrite = operation === 'create' || operation === 'update';

  if ((rest === 'create' || rest === 'create-orphan') && isWrite) {
    const body = request.body;
    const callerIsRoot = caller.policies.includes('root');
    const requested = stringList(body['policies']);
    const policies = requested.length ? requested : caller.policies.filter((p) => p !== 'default' || !toBoolean(body['no_default_policy']));
    if (!callerIsRoot) {
      // Non-root callers may only hand out a subset of their own policies.
      const allowed = new Set(caller.policies);
      if (policies.some((p) => p !== 'default' && !allowed.has(p))) throw badRequest('child policies must be subset of parent');
    }
    // Vault's parameter is no_parent (or the create-orphan endpoint); unknown fields are ignored.
    const orphan = rest === 'create-orphan' || toBoolean(body['no_parent']);
    if (orphan && rest === 'create' && !callerIsRoot && !core.capabilitiesOf(caller, 'auth/token/create').has('sudo')) {
      throw badRequest('root or sudo privileges required to create orphan token');
    }
    let ttl: number;
    try {
      ttl = parseDuration(body['ttl'] ?? body['lease']);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    const displayName = String(body['display_name'] ?? '').trim();
    const entry = issueToken(state, {
      policies,
      noDefaultPolicy: toBoolean(body['no_default_policy']),
      ttl,
      maxTtl: parseDuration(body['explicit_max_ttl']),
      renewable: body['renewable'] === undefined ? true : toBoolean(body['renewable']),
      displayName: displayName ? `token-${displayName}` : 'token',
      path: 'auth/token/create',
      meta: metaField(body['meta']),
      parent: orphan ? null : caller,
      numUses: Number(body['num_uses'] ?? 0) || 0,
    });
    core.persist();
    return envelope(null, { auth: authBlock(entry) });
  }

  if (rest === 'lookup-self' && (operation === 'read' || isWrite)) return envelope(lookupData(caller));

  if (rest === 'lookup' && (operation === 'read' || isWrite)) {
    const target = findToken(state, String(request.body['token'] ?? request.query.get('token') ?? ''));
    if (!target) throw new VaultHttpError(403, ['bad token']);
    return envelope(lookupData(target));
  }

  if (rest === 'renew-self' && isWrite) {
    renew(caller, request.body['increment']);
    core.persist();
    return envelope(null, { auth: authBlock(caller) });
  }

  if (rest === 'renew' && isWrite) {
    const target = findToken(state, String(request.body['token'] ?? ''));
    if (!target) throw badRequest('invalid lease ID');
    renew(target, request.body['increment']);
    core.persist();
    return envelope(null, { auth: authBlock(target) });
  }

  if (rest === 'revoke-self' && isWrite) {
    revokeTree(state, caller.id);
    core.persist();
    return noContent;
  }

  if (rest === 'revoke' && isWrite) {
    const id = String(request.body['token'] ?? '');
    if (!id) throw badRequest('missing token');
    if (state.tokens[id]) revokeTree(state, id);
    core.persist();
    return noContent;
  }

  if (rest === 'lookup-accessor' && isWrite) {
    const target = Object.values(state.tokens).find((t) => t.accessor === request.body['accessor']);
    if (!target || (target.expireAt !== null && target.expireAt <= Date.now())) throw badRequest('invalid accessor');
    return envelope({ ...lookupData(target), id: '' });
  }

  if (rest === 'accessors/' && operation === 'list') {
    return envelope({ keys: Object.values(state.tokens).map((t) => t.accessor) });
  }

  if (rest === '' || rest === 'create' || rest.startsWith('lookup') || rest.startsWith('renew') || rest.startsWith('revoke')) {
    throw new VaultHttpError(405, []);
  }
  throw permissionDeniedOrMissing(rest);
}

function permissionDeniedOrMissing(rest: string): VaultHttpError {
  // Unknown token-store endpoints: the backend has no route for them.
  return rest ? new VaultHttpError(404, [`unsupported path`]) : permissionDenied();
}

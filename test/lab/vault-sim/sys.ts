// The logical (token-authenticated) part of the system backend:
// https://developer.hashicorp.com/vault/api-docs/system/mounts
// https://developer.hashicorp.com/vault/api-docs/system/auth
// https://developer.hashicorp.com/vault/api-docs/system/policies (sys/policies/acl)
// https://developer.hashicorp.com/vault/api-docs/system/policy (the older sys/policy)
// https://developer.hashicorp.com/vault/api-docs/system/capabilities-self
// https://developer.hashicorp.com/vault/api-docs/system/storage/raft
import { parsePolicy, PolicyParseError } from './acl.js';
import { badRequest, envelope, noContent, notFound, stringField, VaultHttpError, type Reply, type VaultRequest } from './api.js';
import { KV_UPGRADE_MS, type Core } from './core.js';
import { newMount, parseDuration, type MountEntry } from './state.js';
import { SYSTEM_MAX_TTL } from './tokens.js';

const SECRET_ENGINE_TYPES = new Set(['kv', 'kv-v2']);
// Auth methods that can be mounted. Only kubernetes has a working backend in the simulator; the
// others exist so listings and enable/disable flows behave, and answer 405 on their own paths.
const AUTH_METHOD_TYPES = new Set(['kubernetes', 'approle', 'userpass']);
const RESERVED_MOUNTS = ['sys/', 'auth/', 'cubbyhole/', 'identity/'];

/**
 * The sys/ routes whose data is repeated at the top level for old clients: sys/mounts, sys/auth,
 * sys/policy, sys/capabilities* and a few more, not sys/policies/acl or sys/storage
 * (http/handler.go injectDataIntoTopRoutes).
 */
function sysReply(data: unknown, status = 200): Reply {
  return envelope(data, { injectTopLevel: true, status });
}

function plainSysReply(data: unknown): Reply {
  return envelope(data);
}

function pluginVersion(core: Core, type: string): string {
  if (type === 'kv') return 'v0.25.0+builtin';
  if (type === 'kubernetes') return 'v0.22.2+builtin';
  if (type === 'approle' || type === 'userpass') return `v${core.build.version}+builtin.vault`;
  return `v${core.build.version}+builtin.vault`;
}

function describeMount(core: Core, entry: MountEntry): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    config: entry.config,
    deprecation_status: entry.type === 'system' || entry.type === 'token' || entry.type === 'identity' || entry.type === 'cubbyhole' ? undefined : 'supported',
    description: entry.description,
    external_entropy_access: entry.external_entropy_access,
    local: entry.local,
    options: entry.options,
    plugin_version: entry.plugin_version,
    running_plugin_version: pluginVersion(core, entry.type),
    running_sha256: '',
    seal_wrap: entry.seal_wrap,
    type: entry.type,
    uuid: entry.uuid,
  };
}

function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return `${trimmed}/`;
}

function mountConfigFromBody(body: Record<string, unknown>): Partial<MountEntry['config']> {
  const config = (body['config'] ?? {}) as Record<string, unknown>;
  const out: Partial<MountEntry['config']> = {};
  try {
    if (config['default_lease_ttl'] !== undefined) out.default_lease_ttl = parseDuration(config['default_lease_ttl']);
    if (config['max_lease_ttl'] !== undefined) out.max_lease_ttl = parseDuration(config['max_lease_ttl']);
  } catch (error) {
    throw badRequest((error as Error).message);
  }
  if (config['force_no_cache'] !== undefined) out.force_no_cache = config['force_no_cache'] === true;
  return out;
}

function optionsFromBody(body: Record<string, unknown>): Record<string, string> | null {
  const options = body['options'];
  if (!options || typeof options !== 'object') return null;
  return Object.fromEntries(Object.entries(options as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

function tuneData(entry: MountEntry): Record<string, unknown> {
  const data: Record<string, unknown> = {
    default_lease_ttl: entry.config.default_lease_ttl || SYSTEM_MAX_TTL,
    description: entry.description,
    force_no_cache: entry.config.force_no_cache,
    max_lease_ttl: entry.config.max_lease_ttl || SYSTEM_MAX_TTL,
  };
  // Left out while empty, as for an auth method enabled without options.
  if (entry.options && Object.keys(entry.options).length > 0) data['options'] = entry.options;
  if (entry.config.token_type) data['token_type'] = entry.config.token_type;
  return data;
}

function applyTune(entry: MountEntry, body: Record<string, unknown>): void {
  try {
    if (body['default_lease_ttl'] !== undefined) entry.config.default_lease_ttl = parseDuration(body['default_lease_ttl']);
    if (body['max_lease_ttl'] !== undefined) entry.config.max_lease_ttl = parseDuration(body['max_lease_ttl']);
  } catch (error) {
    throw badRequest((error as Error).message);
  }
  if (body['description'] !== undefined) entry.description = stringField(body, 'description');
  const options = optionsFromBody(body);
  if (options) {
    if (entry.type === 'kv' && entry.options?.['version'] === '2' && options['version'] === '1') {
      throw badRequest('cannot downgrade mount from version 2');
    }
    entry.options = { ...(entry.options ?? {}), ...options };
  }
}

function policyNames(core: Core): string[] {
  return [...new Set(['default', ...Object.keys(core.data.policies), 'root'])].sort();
}

function writePolicy(core: Core, rawName: string, text: string): Reply {
  const name = rawName.toLowerCase();
  if (name === 'root') throw badRequest('cannot update "root" policy');
  if (!text) throw badRequest("'policy' parameter not supplied or empty");
  let source = text;
  // Vault accepts the policy base64-encoded as well.
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (decoded.includes('path')) source = decoded;
  }
  try {
    parsePolicy(source);
  } catch (error) {
    if (error instanceof PolicyParseError) throw badRequest(error.message);
    throw error;
  }
  core.data.policies[name] = source;
  core.persist();
  return noContent;
}

function deletePolicy(core: Core, rawName: string): Reply {
  const name = rawName.toLowerCase();
  if (name === 'root') throw badRequest('cannot delete "root" policy');
  if (name === 'default') throw badRequest('cannot delete default policy'); // (sic: unquoted, policy_store.go)
  delete core.data.policies[name];
  // Tokens keep the name; it simply grants nothing any more (as in Vault).
  core.persist();
  return noContent;
}

function capabilitiesFor(core: Core, request: VaultRequest, token: Parameters<Core['capabilitiesOf']>[0]): Reply {
  const paths = request.body['paths'] ?? request.body['path'];
  const list = Array.isArray(paths) ? paths.map(String) : typeof paths === 'string' ? paths.split(',') : [];
  if (list.length === 0) throw badRequest('missing paths');
  const result: Record<string, string[]> = {};
  for (const path of list) {
    const granted = [...core.capabilitiesOf(token, path.replace(/^\//, ''))];
    result[path] = granted.length ? granted.sort() : ['deny'];
  }
  if (list.length === 1) result['capabilities'] = result[list[0]!]!;
  return sysReply(result);
}

export function handleSys(core: Core, request: VaultRequest, rest: string): Reply {
  const state = core.data;
  const op = request.operation;
  const isWrite = op === 'create' || op === 'update';
  const body = request.body;

  // --- secrets engines -------------------------------------------------------------------
  if (rest === 'mounts' && op === 'read') {
    return sysReply(Object.fromEntries(Object.entries(state.mounts).sort().map(([path, entry]) => [path, describeMount(core, entry)])));
  }
  const tuneMatch = /^mounts\/(.+)\/tune$/.exec(rest);
  if (tuneMatch) {
    const entry = state.mounts[normalizeMountPath(tuneMatch[1]!)];
    if (!entry) throw badRequest(`cannot fetch sysview for path "${normalizeMountPath(tuneMatch[1]!)}"`);
    if (op === 'read') return sysReply(tuneData(entry));
    if (isWrite) {
      applyTune(entry, body);
      core.persist();
      return noContent;
    }
  }
  const mountMatch = /^mounts\/(.+)$/.exec(rest);
  if (mountMatch) {
    const path = normalizeMountPath(mountMatch[1]!);
    if (op === 'read') {
      const entry = state.mounts[path];
      if (!entry) throw badRequest(`No secret engine mount at ${path}`);
      return sysReply(describeMount(core, entry));
    }
    if (isWrite) {
      if (RESERVED_MOUNTS.some((reserved) => path.startsWith(reserved)) || state.mounts[path]) {
        throw badRequest(`path is already in use at ${path}`);
      }
      const requestedType = stringField(body, 'type');
      if (!requestedType) throw badRequest('missing type');
      if (!SECRET_ENGINE_TYPES.has(requestedType)) throw badRequest(`plugin not found in the catalog: ${requestedType}`);
      const options = optionsFromBody(body) ?? {};
      const type = requestedType === 'kv-v2' ? 'kv' : requestedType;
      if (requestedType === 'kv-v2') options['version'] = '2';
      if (type === 'kv' && options['version'] !== '2') {
        // The product only uses KV version 2; a v1 mount is refused loudly rather than half-simulated.
        throw badRequest('the simulator supports only KV version 2 (options.version = "2")');
      }
      const mount = newMount(type, stringField(body, 'description'), options, mountConfigFromBody(body));
      state.mounts[path] = mount;
      if (KV_UPGRADE_MS > 0) core.kvUpgradeUntil.set(mount.uuid, Date.now() + KV_UPGRADE_MS);
      core.persist();
      return noContent;
    }
    if (op === 'delete') {
      if (RESERVED_MOUNTS.some((reserved) => path.startsWith(reserved))) throw badRequest(`cannot unmount "${path}"`);
      const entry = state.mounts[path];
      if (entry) {
        delete state.mounts[path];
        delete state.kv[entry.uuid];
        core.persist();
      }
      return noContent;
    }
  }

  // --- auth methods ----------------------------------------------------------------------
  if (rest === 'auth' && op === 'read') {
    return sysReply(Object.fromEntries(Object.entries(state.auth).sort().map(([path, entry]) => [path, describeMount(core, entry)])));
  }
  const authTuneMatch = /^auth\/(.+)\/tune$/.exec(rest);
  if (authTuneMatch) {
    const entry = state.auth[normalizeMountPath(authTuneMatch[1]!)];
    if (!entry) throw badRequest(`cannot fetch sysview for path "auth/${normalizeMountPath(authTuneMatch[1]!)}"`);
    if (op === 'read') return sysReply(tuneData(entry));
    if (isWrite) {
      applyTune(entry, body);
      core.persist();
      return noContent;
    }
  }
  const authMatch = /^auth\/(.+)$/.exec(rest);
  if (authMatch) {
    const path = normalizeMountPath(authMatch[1]!);
    if (op === 'read') {
      const entry = state.auth[path];
      if (!entry) throw badRequest(`No auth engine at ${path}`);
      return sysReply(describeMount(core, entry));
    }
    if (isWrite) {
      if (state.auth[path]) throw badRequest(`path is already in use at ${path}`);
      const type = stringField(body, 'type');
      if (!type) throw badRequest('missing type');
      if (type === 'token') throw badRequest('token credential backend cannot be instantiated');
      if (!AUTH_METHOD_TYPES.has(type)) throw badRequest(`plugin not found in the catalog: ${type}`);
      // An enabled method's options are the request's (an empty map when none were given), and its
      // token_type is the default's, default-service (sys/auth of the real OpenBao 2.7.2).
      state.auth[path] = newMount(type, stringField(body, 'description'), optionsFromBody(body) ?? {}, { token_type: 'default-service', ...mountConfigFromBody(body) });
      core.persist();
      return noContent;
    }
    if (op === 'delete') {
      if (path === 'token/') throw badRequest('token credential backend cannot be disabled');
      const entry = state.auth[path];
      if (entry) {
        delete state.auth[path];
        delete state.kubernetes[entry.uuid];
        // Tokens issued through the method are revoked with it.
        for (const token of Object.values(state.tokens)) if (token.path.startsWith(`auth/${path}`)) delete state.tokens[token.id];
        core.persist();
      }
      return noContent;
    }
  }

  // --- policies (new API) ----------------------------------------------------------------
  if (rest === 'policies/acl/' && op === 'list') return plainSysReply({ keys: policyNames(core) });
  const aclMatch = /^policies\/acl\/([^/]+)$/.exec(rest);
  if (aclMatch) {
    const name = aclMatch[1]!.toLowerCase();
    if (op === 'read') {
      const text = core.policyText(name);
      if (text === undefined) throw notFound();
      return plainSysReply({ name, policy: text });
    }
    if (isWrite) return writePolicy(core, name, stringField(body, 'policy'));
    if (op === 'delete') return deletePolicy(core, name);
  }

  // --- policies (older API) --------------------------------------------------------------
  if ((rest === 'policy' && op === 'read') || (rest === 'policy/' && op === 'list')) {
    const names = policyNames(core);
    return sysReply({ keys: names, policies: names });
  }
  const legacyMatch = /^policy\/([^/]+)$/.exec(rest);
  if (legacyMatch) {
    const name = legacyMatch[1]!.toLowerCase();
    if (op === 'read') {
      const text = core.policyText(name);
      if (text === undefined) throw notFound();
      return sysReply({ name, rules: text });
    }
    if (isWrite) return writePolicy(core, name, stringField(body, 'policy') || stringField(body, 'rules'));
    if (op === 'delete') return deletePolicy(core, name);
  }

  // --- capabilities ----------------------------------------------------------------------
  if (rest === 'capabilities-self' && isWrite) return capabilitiesFor(core, request, request.caller!);
  if (rest === 'capabilities' && isWrite) {
    const token = state.tokens[stringField(body, 'token')];
    if (!token) throw badRequest('invalid token');
    return capabilitiesFor(core, request, token);
  }

  // --- integrated storage ----------------------------------------------------------------
  if (rest === 'storage/raft/snapshot' && op === 'read') {
    return { status: 200, raw: core.snapshot(), headers: { 'Content-Type': 'application/gzip' } };
  }
  if ((rest === 'storage/raft/snapshot' || rest === 'storage/raft/snapshot-force') && isWrite) {
    core.restore(request.rawBody, rest.endsWith('-force'));
    return noContent;
  }
  if (rest === 'storage/raft/configuration' && op === 'read') {
    return plainSysReply({
      config: {
        index: core.raftIndex(),
        servers: [{ address: core.clusterAddress(), leader: true, node_id: core.nodeId(), protocol_version: '3', voter: true }],
      },
    });
  }

  // --- UI helper the Vault CLI uses to find a mount's KV version ----------------------------
  const uiMountMatch = /^internal\/ui\/mounts\/(.+)$/.exec(rest);
  if (uiMountMatch && op === 'read') {
    const path = uiMountMatch[1]!;
    const match = Object.entries(state.mounts)
      .filter(([mountPath]) => `${path}/`.startsWith(mountPath))
      .sort((a, b) => b[0].length - a[0].length)[0];
    if (!match) throw new VaultHttpError(403, ['preflight capability check returned 403, please ensure client\'s policies grant access to path "' + path + '/"']);
    return plainSysReply({ ...describeMount(core, match[1]), path: match[0] });
  }

  throw new VaultHttpError(404, [`no handler for route "sys/${rest}". route entry not found.`]);
}

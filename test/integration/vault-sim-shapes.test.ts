// Response shapes: the exact set of keys of the answers a client reads (sys/health, seal-status,
// leader, mounts, auth methods, policies, tokens, KV v2, Kubernetes auth), for the lab's simulator
// and the real OpenBao server (conformance/servers.ts). A key only one server sends must be listed,
// with its source, in conformance/differences.ts; any other difference fails here, so a client
// written against vault-sim does not meet fields it never saw (or miss ones it relied on).
import { beforeAll, describe, expect, it } from 'vitest';
import { FACTS } from './conformance/differences.js';
import { initUnsealed, prepareServers, SERVER_KINDS, type ConformanceServer, type RequestOptions } from './conformance/servers.js';

const sorted = (keys: string[]) => [...keys].sort();
const keysOf = (value: unknown) => sorted(Object.keys(value as object));

/** The logical response envelope (https://developer.hashicorp.com/vault/api-docs#response-format). */
const ENVELOPE = ['auth', 'data', 'lease_duration', 'lease_id', 'renewable', 'request_id', 'warnings', 'wrap_info'];
/** A secrets engine or auth method in sys/mounts and sys/auth. */
const MOUNT = ['accessor', 'config', 'description', 'external_entropy_access', 'local', 'options', 'plugin_version', 'running_plugin_version', 'running_sha256', 'seal_wrap', 'type', 'uuid'];
/** A service token's lookup (the root token has no lease: no issue_time, no renewable). */
const LOOKUP = ['accessor', 'creation_time', 'creation_ttl', 'display_name', 'entity_id', 'expire_time', 'explicit_max_ttl', 'id', 'meta', 'num_uses', 'orphan', 'path', 'policies', 'ttl', 'type'];

// One active server of each kind with KV v2 at secret/ and Kubernetes auth at kubernetes/, both
// set up at once (the simulator without its modelled raft waits: vault-sim-seal checks them).
const prepared = prepareServers(
  async (server) => {
    const { root_token } = await initUnsealed(server, 1, 1);
    for (const [path, body] of [
      ['sys/mounts/secret', { type: 'kv', options: { version: '2' } }],
      ['sys/auth/kubernetes', { type: 'kubernetes', description: 'cluster' }],
    ] as const) {
      const response = await server.call({ method: 'POST', path, token: root_token, body });
      if (response.status !== 204) throw new Error(`${path} answered ${response.status}`);
    }
    return root_token;
  },
  { name: 'shapes', simWaits: 'none' },
);

describe.each(SERVER_KINDS)('%s', (kind) => {
  const facts = FACTS[kind];
  let vault: ConformanceServer;
  let root: string;
  const asRoot = (options: Omit<RequestOptions, 'token'>) => vault.call({ ...options, token: root });
  const envelope = (body: unknown, injected: string[] = []) => {
    expect(keysOf(body)).toEqual(sorted([...ENVELOPE, ...(facts.mountTypeOf('x') === undefined ? [] : ['mount_type']), ...injected]));
  };

  beforeAll(async () => {
    ({ server: vault, value: root } = await prepared.get(kind));
  });

  it('sys/seal-status and sys/leader of an active node (api-docs/system/seal-status, /system/leader)', async () => {
    const status = (await vault.call({ path: 'sys/seal-status' })).json;
    expect(keysOf(status)).toEqual(sorted(['cluster_id', 'cluster_name', 'initialized', 'migration', 'n', 'nonce', 'progress', 'recovery_seal', 'sealed', 'storage_type', 't', 'type', 'version', facts.sealStatusDateKey]));
    const leader = (await vault.call({ path: 'sys/leader' })).json;
    expect(keysOf(leader)).toEqual(sorted(['active_time', 'ha_enabled', 'is_self', 'leader_address', 'leader_cluster_address', 'raft_applied_index', 'raft_committed_index', ...facts.extraKeys.leader]));
    const health = (await vault.call({ path: 'sys/health' })).json;
    // last_wal is Vault's too, once unsealed (https://developer.hashicorp.com/vault/api-docs/system/health#sample-response).
    const unsealedOnly = facts.healthOnlyKeys.length ? ['last_wal'] : [];
    expect(keysOf(health)).toEqual(sorted(['cluster_id', 'cluster_name', 'initialized', 'replication_dr_mode', 'replication_performance_mode', 'sealed', 'server_time_utc', 'standby', 'version', ...facts.healthOnlyKeys, ...unsealedOnly]));
  });

  it('sys/mounts and sys/auth entries, and their tune (api-docs/system/mounts, /system/auth)', async () => {
    const mounts = (await asRoot({ path: 'sys/mounts' })).json;
    envelope(mounts, ['cubbyhole/', 'identity/', 'secret/', 'sys/']); // sys/mounts repeats data at the top level
    expect(keysOf(mounts.data)).toEqual(['cubbyhole/', 'identity/', 'secret/', 'sys/']);
    // Only mounts that can be disabled have a deprecation status.
    expect(keysOf(mounts.data['secret/'])).toEqual(sorted([...MOUNT, 'deprecation_status']));
    for (const builtin of ['cubbyhole/', 'identity/', 'sys/']) expect(keysOf(mounts.data[builtin])).toEqual(sorted(MOUNT));
    expect(mounts.data['secret/']).toMatchObject({ type: 'kv', options: { version: '2' }, config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false }, seal_wrap: false, local: false });
    expect(mounts.data['sys/']).toMatchObject({ seal_wrap: true, config: { passthrough_request_headers: ['Accept'] } });
    expect(mounts.data['identity/']).toMatchObject({ seal_wrap: false, config: { passthrough_request_headers: ['Authorization'] } });
    expect(mounts.data['cubbyhole/']).toMatchObject({ local: true, options: null });
    expect(mounts.data['secret/'].accessor).toMatch(/^kv_[0-9a-f]{8}$/);
    expect(keysOf((await asRoot({ path: 'sys/mounts/secret/tune' })).json.data)).toEqual(['default_lease_ttl', 'description', 'force_no_cache', 'max_lease_ttl', 'options']);

    const auths = (await asRoot({ path: 'sys/auth' })).json;
    envelope(auths, ['kubernetes/', 'token/']);
    expect(keysOf(auths.data['token/'])).toEqual(sorted(MOUNT));
    expect(keysOf(auths.data['kubernetes/'])).toEqual(sorted([...MOUNT, 'deprecation_status']));
    expect(auths.data['kubernetes/']).toMatchObject({ type: 'kubernetes', description: 'cluster', options: {}, config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false, token_type: 'default-service' } });
    expect(auths.data['token/']).toMatchObject({ options: null, config: { token_type: 'default-service' } });
    expect(auths.data['kubernetes/'].accessor).toMatch(/^auth_kubernetes_[0-9a-f]{8}$/);
    const tune = (await asRoot({ path: 'sys/auth/kubernetes/tune' })).json.data;
    expect(tune).toEqual({ default_lease_ttl: 2764800, description: 'cluster', force_no_cache: false, max_lease_ttl: 2764800, token_type: 'default-service' });
  });

  it('policies: sys/policies/acl without, sys/policy with the data repeated at the top level (api-docs/system/policies, /system/policy)', async () => {
    const list = (await asRoot({ method: 'LIST', path: 'sys/policies/acl' })).json;
    envelope(list);
    expect(list.data).toEqual({ keys: ['default', 'root'] });
    const legacy = (await asRoot({ path: 'sys/policy' })).json;
    envelope(legacy, ['keys', 'policies']);
    expect(legacy.data).toEqual({ keys: ['default', 'root'], policies: ['default', 'root'] });
    const read = (await asRoot({ path: 'sys/policies/acl/default' })).json;
    envelope(read);
    expect(keysOf(read.data)).toEqual(facts.policyReadKeys);
    const capabilities = (await asRoot({ method: 'POST', path: 'sys/capabilities-self', body: { paths: ['secret/data/a'] } })).json;
    envelope(capabilities, ['capabilities', 'secret/data/a']);
    expect(capabilities.data).toEqual({ capabilities: ['root'], 'secret/data/a': ['root'] });
  });

  it('tokens: create, lookup of a service token and of root (api-docs/auth/token)', async () => {
    const created = (await asRoot({ method: 'POST', path: 'auth/token/create', body: { policies: ['default'], ttl: '1h' } })).json;
    envelope(created);
    expect(created.data).toBeNull();
    expect(keysOf(created.auth)).toEqual(['accessor', 'client_token', 'entity_id', 'lease_duration', 'metadata', 'mfa_requirement', 'num_uses', 'orphan', 'policies', 'renewable', 'token_policies', 'token_type']);
    const child = (await vault.call({ path: 'auth/token/lookup-self', token: created.auth.client_token })).json;
    envelope(child);
    expect(keysOf(child.data)).toEqual(sorted([...LOOKUP, 'issue_time', 'renewable']));
    expect(child.data).toMatchObject({ creation_ttl: 3600, display_name: 'token', expire_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), meta: null, orphan: false, path: 'auth/token/create', policies: ['default'], renewable: true, type: 'service' });
    const rootLookup = (await asRoot({ path: 'auth/token/lookup-self' })).json;
    expect(keysOf(rootLookup.data)).toEqual(sorted(LOOKUP));
    expect(rootLookup.data).toMatchObject({ creation_ttl: 0, expire_time: null, ttl: 0, display_name: 'root', path: 'auth/token/root', policies: ['root'], orphan: true });
  });

  it('KV v2: write, read, metadata, config, list (api-docs/secret/kv/kv-v2)', async () => {
    const written = (await asRoot({ method: 'POST', path: 'secret/data/a', body: { data: { x: 1 } } })).json;
    envelope(written);
    expect(keysOf(written.data)).toEqual(['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version']);
    const read = (await asRoot({ path: 'secret/data/a' })).json;
    envelope(read);
    expect(keysOf(read.data)).toEqual(['data', 'metadata']);
    expect(keysOf(read.data.metadata)).toEqual(['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version']);
    const metadata = (await asRoot({ path: 'secret/metadata/a' })).json.data;
    expect(keysOf(metadata)).toEqual(sorted(['cas_required', 'created_time', 'current_version', 'custom_metadata', 'delete_version_after', 'max_versions', 'oldest_version', 'updated_time', 'versions', ...facts.extraKeys.kvMetadata]));
    expect(keysOf(metadata.versions['1'])).toEqual(['created_time', 'deletion_time', 'destroyed']);
    const config = (await asRoot({ path: 'secret/config' })).json.data;
    expect(keysOf(config)).toEqual(sorted(['cas_required', 'delete_version_after', 'max_versions', ...facts.extraKeys.kvConfig]));
    const list = (await asRoot({ method: 'LIST', path: 'secret/metadata' })).json;
    envelope(list);
    expect(list.data).toEqual({ keys: ['a'] });
  });

  it('Kubernetes auth: a role as written and read back (api-docs/auth/kubernetes#read-role)', async () => {
    await asRoot({ method: 'POST', path: 'auth/kubernetes/role/r', body: { bound_service_account_names: 'a', bound_service_account_namespaces: 'b', token_policies: 'default' } });
    const role = (await asRoot({ path: 'auth/kubernetes/role/r' })).json;
    envelope(role);
    expect(keysOf(role.data)).toEqual(
      sorted([
        'alias_name_source', 'bound_service_account_names', 'bound_service_account_namespace_selector', 'bound_service_account_namespaces',
        'token_bound_cidrs', 'token_explicit_max_ttl', 'token_max_ttl', 'token_no_default_policy', 'token_num_uses', 'token_period',
        'token_policies', 'token_ttl', 'token_type', ...facts.extraKeys.kubernetesRole,
      ]),
    );
    expect(role.data).toMatchObject({ alias_name_source: 'serviceaccount_uid', bound_service_account_namespace_selector: '', token_bound_cidrs: [], token_type: 'default' });
    const missing = await asRoot({ path: 'auth/kubernetes/role/none' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ errors: [] });
  });
});

// Where HashiCorp Vault (which vault-sim stands in for) and OpenBao genuinely answer differently,
// each with the source it rests on. Everything not listed here must be the same on both servers:
// a conformance assertion that needs a per-server value takes it from this table, so the list of
// real differences stays in one place (and in test/lab/vault-sim/README.md).
import type { ServerKind } from './servers.js';

export interface ServerFacts {
  /** The product name in messages: `Vault`, `OpenBao`. */
  name: string;
  /**
   * Service and root tokens. Vault 1.10+ prefixes service tokens with `hvs.`
   * (https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes); OpenBao removed
   * server-side consistent tokens and went back to Vault 1.0's `s.`
   * (https://github.com/openbao/openbao/pull/203; https://developer.hashicorp.com/vault/docs/upgrading/upgrade-to-1.0.0).
   */
  tokenPattern: RegExp;
  /**
   * `<cli> version`: Vault prints `Vault v<version> (<sha>), built <date>`
   * (https://developer.hashicorp.com/vault/docs/commands/version); OpenBao prints
   * `OpenBao v<version> (<sha>), committed <date>` (openbao/openbao internal/version/version.go FullVersionNumber).
   */
  versionLine(version: string): RegExp;
  /** The server banner's first line and the shutdown line (openbao/openbao internal/command/server.go). */
  bannerLine: string;
  shutdownLine: string;
  /**
   * Keys of sys/health that only Vault sends: `enterprise`, `performance_standby`, the echo and
   * clock-skew figures, `removed_from_cluster`, `last_wal`
   * (https://developer.hashicorp.com/vault/api-docs/system/health#sample-response); OpenBao's
   * HealthResponse has none of them (openbao/openbao internal/http/sys_health.go).
   */
  healthOnlyKeys: string[];
  /**
   * sys/seal-status: Vault reports `build_date` (https://developer.hashicorp.com/vault/api-docs/system/seal-status),
   * OpenBao `commit_date` instead (openbao/openbao api/sys_seal.go SealStatusResponse).
   */
  sealStatusDateKey: 'build_date' | 'commit_date';
  /**
   * A raft path that does not exist: Vault refuses to start ("failed to create fsm: failed to open
   * bolt file"); OpenBao creates it since 2.4 ("Don't fail if raft path does not exist",
   * https://github.com/openbao/openbao/pull/3649, internal/physical/raft/raft.go EnsurePath).
   */
  createsMissingRaftPath: boolean;
  /**
   * Reads on a node that is unsealed but not yet active. Vault standbys forward every request to
   * the active node and answer 500 "local node not active but active cluster node not found" when
   * there is none yet (https://developer.hashicorp.com/vault/docs/concepts/ha#request-forwarding);
   * OpenBao standbys on integrated storage serve reads themselves ("read-enabled standby",
   * https://openbao.org/docs/concepts/consistency/ and
   * https://openbao.org/docs/rfcs/standby-nodes-handle-read-requests). Writes fail on both.
   */
  standbyServesReads: boolean;
  /**
   * `mount_type` in the response envelope: Vault names the mount's type in every logical response
   * (https://developer.hashicorp.com/vault/api-docs#response-format, e.g. "mount_type": "kv"); OpenBao's
   * envelope has no such field (openbao/openbao sdk/logical/translate_response.go HTTPResponse).
   */
  mountTypeOf(type: string): string | undefined;
  /**
   * The keys of sys/policies/acl/:name. Vault: name and policy
   * (https://developer.hashicorp.com/vault/api-docs/system/policies#read-acl-policy); OpenBao adds
   * policy check-and-set and versioning (internal/vault/logical_system.go readPolicyResponse).
   */
  policyReadKeys: string[];
  /**
   * The keys of auth/kubernetes/config. Vault's plugin also returns use_annotations_as_alias_metadata
   * (https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#read-config); OpenBao's does not
   * (internal/builtin/credential/kubernetes/path_config.go pathConfigRead).
   */
  kubernetesConfigKeys: string[];
  /**
   * How the server command reports a storage it cannot open: Vault's "Error initializing storage
   * of type raft:"; OpenBao lower-cased it ("Fix staticcheck warnings (errors)",
   * https://github.com/openbao/openbao/pull/2094, internal/command/server.go).
   */
  storageError: string;
  /**
   * Response keys one server has and the other lacks, by response (vault-sim-shapes.test.ts).
   * - sys/leader: Vault also reports performance_standby and performance_standby_last_remote_wal
   *   (https://developer.hashicorp.com/vault/api-docs/system/leader#sample-response); OpenBao has
   *   no performance standbys (internal/http/sys_leader.go).
   * - KV v2 metadata and config: OpenBao adds metadata check-and-set, current_metadata_version and
   *   metadata_cas_required (internal/builtin/logical/kv/path_metadata.go, path_config.go).
   * - Kubernetes roles: OpenBao's token fields add token_strictly_bind_ip
   *   (https://github.com/openbao/openbao/pull/202, sdk/helper/tokenutil).
   */
  extraKeys: { leader: string[]; kvMetadata: string[]; kvConfig: string[]; kubernetesRole: string[] };
  /**
   * Root token generation from unseal key shares. Vault serves it unauthenticated on
   * sys/generate-root, its answers outside the response envelope, a failed update 400
   * (https://developer.hashicorp.com/vault/api-docs/system/generate-root). OpenBao turned those
   * endpoints off by default in 2.5.3 (they answer 405) and serves the procedure behind a token on
   * sys/generate-root-token since 2.6, in the envelope, a failed update 500
   * (https://openbao.org/docs/deprecation/unauthed-generate-root/, https://openbao.org/api-docs/system/generate-root-token/;
   * seen from the real 2.7.2). The root token and so the OTP are `hvs.`+24 or `s.`+24 characters long.
   */
  rootGeneration: { path: 'sys/generate-root' | 'sys/generate-root-token'; authenticated: boolean; enveloped: boolean; failedUpdateStatus: number; otpLength: number };
}

const KUBERNETES_CONFIG_KEYS = ['disable_iss_validation', 'disable_local_ca_jwt', 'issuer', 'kubernetes_ca_cert', 'kubernetes_host', 'pem_keys', 'token_reviewer_jwt_set'];

export const FACTS: Record<ServerKind, ServerFacts> = {
  'vault-sim': {
    name: 'Vault',
    tokenPattern: /^hvs\.[A-Za-z0-9]{24}$/,
    versionLine: (version) => new RegExp(`^Vault v${version.replace(/\./g, '\\.')} \\([0-9a-f]{40}\\), built \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`),
    bannerLine: '==> Vault server configuration:',
    shutdownLine: '==> Vault shutdown triggered',
    healthOnlyKeys: ['enterprise', 'performance_standby', 'echo_duration_ms', 'clock_skew_ms', 'replication_primary_canary_age_ms', 'removed_from_cluster'],
    sealStatusDateKey: 'build_date',
    createsMissingRaftPath: false,
    standbyServesReads: false,
    mountTypeOf: (type) => type,
    policyReadKeys: ['name', 'policy'],
    kubernetesConfigKeys: [...KUBERNETES_CONFIG_KEYS, 'use_annotations_as_alias_metadata'].sort(),
    storageError: 'Error initializing storage of type raft:',
    extraKeys: { leader: ['performance_standby', 'performance_standby_last_remote_wal'], kvMetadata: [], kvConfig: [], kubernetesRole: [] },
    rootGeneration: { path: 'sys/generate-root', authenticated: false, enveloped: false, failedUpdateStatus: 400, otpLength: 28 },
  },
  openbao: {
    name: 'OpenBao',
    tokenPattern: /^s\.[A-Za-z0-9]{24}$/,
    versionLine: (version) => new RegExp(`^OpenBao v${version.replace(/\./g, '\\.')} \\([0-9a-f]{40}\\), committed \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`),
    bannerLine: '==> OpenBao server configuration:',
    shutdownLine: '==> OpenBao shutdown triggered',
    healthOnlyKeys: [],
    sealStatusDateKey: 'commit_date',
    createsMissingRaftPath: true,
    standbyServesReads: true,
    mountTypeOf: () => undefined,
    policyReadKeys: ['allow_slashes_in_identity_templates', 'allow_wildcards_in_identity_templates', 'cas_required', 'modified', 'name', 'policy', 'version'],
    kubernetesConfigKeys: KUBERNETES_CONFIG_KEYS,
    storageError: 'error initializing storage of type raft:',
    extraKeys: { leader: [], kvMetadata: ['current_metadata_version', 'metadata_cas_required'], kvConfig: ['metadata_cas_required'], kubernetesRole: ['token_strictly_bind_ip'] },
    rootGeneration: { path: 'sys/generate-root-token', authenticated: true, enveloped: true, failedUpdateStatus: 500, otpLength: 26 },
  },
};

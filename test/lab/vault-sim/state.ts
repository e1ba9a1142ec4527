// The data the simulated Vault keeps behind its barrier, and small helpers shared by the handlers.
import { randomBytes, randomUUID } from 'node:crypto';

export interface MountConfig {
  default_lease_ttl: number;
  max_lease_ttl: number;
  force_no_cache: boolean;
  token_type?: string;
  passthrough_request_headers?: string[];
}

export interface MountEntry {
  type: string;
  description: string;
  accessor: string;
  uuid: string;
  config: MountConfig;
  options: Record<string, string> | null;
  local: boolean;
  seal_wrap: boolean;
  external_entropy_access: boolean;
  plugin_version: string;
}

export interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  displayName: string;
  path: string;
  meta: Record<string, string> | null;
  /** unix seconds */
  creationTime: number;
  /** seconds the token was created with (0 = never expires) */
  creationTtl: number;
  /** epoch ms when the token stops working, or null for no expiry */
  expireAt: number | null;
  /** epoch ms of the latest issue/renewal */
  issuedAt: number;
  /** unix seconds of the latest renewal, if any */
  lastRenewalTime?: number;
  maxExpireAt: number | null;
  renewable: boolean;
  orphan: boolean;
  parentId: string | null;
  numUses: number;
  explicitMaxTtl: number;
  period: number;
  /** name of the role for tokens issued by an auth method login (used on renewal) */
  authRole?: string;
}

export interface KvVersion {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvSecret {
  versions: Record<string, KvVersion>;
  current_version: number;
  oldest_version: number;
  created_time: string;
  updated_time: string;
  max_versions: number;
  cas_required: boolean;
  delete_version_after: string;
  custom_metadata: Record<string, string> | null;
}

export interface KvMountData {
  config: { max_versions: number; cas_required: boolean; delete_version_after: string };
  secrets: Record<string, KvSecret>;
}

export interface KubernetesConfig {
  kubernetes_host: string;
  kubernetes_ca_cert: string;
  token_reviewer_jwt: string;
  pem_keys: string[];
  issuer: string;
  disable_iss_validation: boolean;
  disable_local_ca_jwt: boolean;
  use_annotations_as_alias_metadata: boolean;
}

export interface KubernetesRole {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  bound_service_account_namespace_selector: string;
  audience: string;
  alias_name_source: string;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_period: number;
  token_num_uses: number;
  token_no_default_policy: boolean;
  token_bound_cidrs: string[];
  token_explicit_max_ttl: number;
  token_type: string;
  /** deprecated field names the role was written with; Vault echoes them back on read */
  legacy_fields: string[];
}

export interface KubernetesMountData {
  config: KubernetesConfig | null;
  roles: Record<string, KubernetesRole>;
}

export interface VaultState {
  clusterName: string;
  clusterId: string;
  mounts: Record<string, MountEntry>;
  auth: Record<string, MountEntry>;
  policies: Record<string, string>;
  tokens: Record<string, TokenEntry>;
  kv: Record<string, KvMountData>;
  kubernetes: Record<string, KubernetesMountData>;
  cubbyhole: Record<string, Record<string, Record<string, unknown>>>;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random base62 string (Vault's token and accessor alphabet). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // reject bytes >= 248 so every character is equally likely
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function randomAccessorSuffix(): string {
  return randomBytes(4).toString('hex');
}

export function newMount(type: string, description: string, options: Record<string, string> | null, config?: Partial<MountConfig>): MountEntry {
  const accessorPrefix = type === 'token' ? 'auth_token' : type === 'kubernetes' ? 'auth_kubernetes' : type;
  return {
    type,
    description,
    accessor: `${accessorPrefix}_${randomAccessorSuffix()}`,
    uuid: randomUUID(),
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false, ...config },
    options,
    local: false,
    // Only the system backend is seal-wrapped (sys/mounts of a fresh OpenBao 2.7.2).
    seal_wrap: type === 'system',
    external_entropy_access: false,
    plugin_version: '',
  };
}

/** The state of a freshly initialized (non-dev) Vault: sys/, cubbyhole/, identity/ and token auth. */
export function freshState(): VaultState {
  const sys = newMount('system', 'system endpoints used for control, policy and debugging', null, { passthrough_request_headers: ['Accept'] });
  const cubbyhole = newMount('cubbyhole', 'per-token private secret storage', null);
  cubbyhole.local = true;
  const identity = newMount('identity', 'identity store', null, { passthrough_request_headers: ['Authorization'] });
  const token = newMount('token', 'token based credentials', null, { token_type: 'default-service' });
  return {
    clusterName: `vault-cluster-${randomBytes(4).toString('hex')}`,
    clusterId: randomUUID(),
    mounts: { 'cubbyhole/': cubbyhole, 'identity/': identity, 'sys/': sys },
    auth: { 'token/': token },
    policies: {},
    tokens: {},
    kv: {},
    kubernetes: {},
    cubbyhole: {},
  };
}

/** Parses a Vault duration: integer seconds, or Go syntax like "1h30m", "45s", "768h". */
export function parseDuration(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number') return Math.floor(value);
  if (typeof value !== 'string') throw new Error(`invalid duration ${JSON.stringify(value)}`);
  if (/^\d+$/.test(value)) return Number(value);
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(pattern)) {
    total += Number(match[1]) * units[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed !== value.length || consumed === 0) throw new Error(`time: invalid duration "${value}"`);
  return Math.floor(total);
}

/** Formats seconds as Go's time.Duration String() does for whole seconds ("0s", "1h0m0s"). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours) return `${hours}h${minutes}m${rest}s`;
  if (minutes) return `${minutes}m${rest}s`;
  return `${rest}s`;
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** Values that Vault accepts as a list of strings: a JSON array or a comma-separated string. */
export function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String).map((item) => item.trim()).filter(Boolean);
  return String(value)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function toBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return ['1', 't', 'true', 'yes'].includes(value.toLowerCase());
  return false;
}

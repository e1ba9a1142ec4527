// ACL policies as Vault evaluates them:
// https://developer.hashicorp.com/vault/docs/concepts/policies (syntax, globs, `+`, priority
// matching, capabilities) and https://developer.hashicorp.com/vault/api-docs/system/policies-acl
import { parseHcl } from './hcl.js';

export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

// The older `policy = "..."` shorthand, expanded as Vault does.
const LEGACY_POLICY: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

export interface PathRule {
  pattern: string;
  capabilities: Set<Capability>;
}

export class PolicyParseError extends Error {}

/** Parses policy HCL into path rules; the messages follow Vault's `failed to parse policy`. */
export function parsePolicy(source: string): PathRule[] {
  let body;
  try {
    body = parseHcl(source);
  } catch (error) {
    throw new PolicyParseError(`failed to parse policy: ${(error as Error).message}`);
  }
  for (const key of Object.keys(body.attributes)) {
    if (key !== 'name') throw new PolicyParseError(`failed to parse policy: invalid key "${key}" on line 1`);
  }
  const rules: PathRule[] = [];
  for (const block of body.blocks) {
    if (block.type !== 'path') throw new PolicyParseError(`failed to parse policy: invalid key "${block.type}"`);
    const pattern = (block.labels[0] ?? '').replace(/^\//, '');
    const capabilities = new Set<Capability>();
    const listed = block.body.attributes['capabilities'];
    if (listed !== undefined) {
      if (!Array.isArray(listed)) throw new PolicyParseError(`failed to parse policy: path "${pattern}": capabilities must be a list`);
      for (const item of listed) {
        if (typeof item !== 'string' || !(CAPABILITIES as readonly string[]).includes(item)) {
          throw new PolicyParseError(`failed to parse policy: path "${pattern}": invalid capability "${String(item)}"`);
        }
        capabilities.add(item as Capability);
      }
    }
    const legacy = block.body.attributes['policy'];
    if (legacy !== undefined) {
      const expanded = typeof legacy === 'string' ? LEGACY_POLICY[legacy] : undefined;
      if (!expanded) throw new PolicyParseError(`failed to parse policy: path "${pattern}": invalid policy "${String(legacy)}"`);
      for (const capability of expanded) capabilities.add(capability);
    }
    rules.push({ pattern, capabilities });
  }
  return rules;
}

interface CompiledRule extends PathRule {
  exact: boolean;
  matcher: RegExp;
  firstWildcard: number;
  endsWithGlob: boolean;
  plusSegments: number;
}

function compile(rule: PathRule): CompiledRule {
  const endsWithGlob = rule.pattern.endsWith('*');
  const body = endsWithGlob ? rule.pattern.slice(0, -1) : rule.pattern;
  const segments = body.split('/');
  const plusSegments = segments.filter((segment) => segment === '+').length;
  const exact = !endsWithGlob && plusSegments === 0;
  const escaped = segments.map((segment) => (segment === '+' ? '[^/]*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  const matcher = new RegExp(`^${escaped}${endsWithGlob ? '' : '$'}`);
  const positions = [rule.pattern.indexOf('+'), rule.pattern.indexOf('*')].filter((p) => p >= 0);
  return { ...rule, exact, matcher, firstWildcard: positions.length ? Math.min(...positions) : rule.pattern.length, endsWithGlob, plusSegments };
}

/** Vault's priority rules for two matching non-exact paths: true if `a` outranks `b`. */
function outranks(a: CompiledRule, b: CompiledRule): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard > b.firstWildcard;
  if (a.endsWithGlob !== b.endsWithGlob) return !a.endsWithGlob;
  if (a.plusSegments !== b.plusSegments) return a.plusSegments < b.plusSegments;
  if (a.pattern.length !== b.pattern.length) return a.pattern.length > b.pattern.length;
  return a.pattern > b.pattern;
}

export class Acl {
  private readonly exact = new Map<string, CompiledRule>();
  private readonly wildcard: CompiledRule[] = [];
  readonly root: boolean;

  /** Policies are merged as Vault does: one rule per path, capabilities unioned, deny wins. */
  constructor(policies: { name: string; rules: PathRule[] }[]) {
    this.root = policies.some((policy) => policy.name === 'root');
    const merged = new Map<string, Set<Capability>>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const existing = merged.get(rule.pattern) ?? new Set<Capability>();
        for (const capability of rule.capabilities) existing.add(capability);
        merged.set(rule.pattern, existing);
      }
    }
    for (const [pattern, capabilities] of merged) {
      const compiled = compile({ pattern, capabilities: capabilities.has('deny') ? new Set(['deny']) : capabilities });
      if (compiled.exact) this.exact.set(pattern, compiled);
      else this.wildcard.push(compiled);
    }
  }

  /** The capabilities a token holding these policies has on `path` (no leading slash). */
  capabilities(path: string): Set<Capability> {
    if (this.root) return new Set(['root' as Capability]);
    const exact = this.exact.get(path);
    let chosen: CompiledRule | undefined = exact;
    if (!chosen) {
      for (const rule of this.wildcard) {
        if (!rule.matcher.test(path)) continue;
        if (!chosen || outranks(rule, chosen)) chosen = rule;
      }
    }
    if (!chosen || chosen.capabilities.has('deny')) return new Set();
    return new Set(chosen.capabilities);
  }

  allows(path: string, capability: Capability, needsSudo: boolean): boolean {
    if (this.root) return true;
    const granted = this.capabilities(path);
    return granted.has(capability) && (!needsSudo || granted.has('sudo'));
  }
}

// Vault's built-in `default` policy (vault/policy_store.go), attached to every token unless
// no_default_policy is set.
export const DEFAULT_POLICY = `
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
`;

// sys/ paths that need `sudo` on top of the operation's capability (the system backend's
// PathsSpecial.Root list, plus sys/seal which Vault hard-codes as root-protected).
const SYS_ROOT_PATHS = [
  'auth/*', 'remount', 'audit', 'audit/*', 'raw', 'raw/*', 'rotate', 'config/cors', 'config/auditing/*',
  'config/ui/headers/*', 'plugins/catalog/*', 'revoke-prefix/*', 'revoke-force/*', 'leases/revoke-prefix/*',
  'leases/revoke-force/*', 'leases/lookup/*', 'storage/raft/snapshot-auto/config/*', 'leases', 'seal', 'step-down',
];
// The token store's root-protected paths (vault/token_store.go PathsSpecial.Root).
const TOKEN_ROOT_PATHS = ['revoke-orphan/*', 'accessors*'];

function matchesSpecial(patterns: string[], path: string): boolean {
  return patterns.some((pattern) => (pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern));
}

/** Whether Vault requires sudo for this request path (no leading slash, without v1/). */
export function requiresSudo(path: string): boolean {
  if (path.startsWith('sys/')) return matchesSpecial(SYS_ROOT_PATHS, path.slice('sys/'.length));
  if (path.startsWith('auth/token/')) return matchesSpecial(TOKEN_ROOT_PATHS, path.slice('auth/token/'.length));
  return false;
}

/**
 * Vault's HTTP API as an administrator would use it from this machine (the lab shares its network):
 * TLS verified against the CA the product keeps in custody, a token in the X-Vault-Token header, and
 * nothing else. Plus a reading of ACL policy text that does not come from the product, so the tests
 * check the rules Vault enforces against what the documentation says they must be.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal-status,
 * https://developer.hashicorp.com/vault/api-docs/system/policies,
 * https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
 */
import { vaultRequest, type VaultResponse } from '../../lab/vault-sim/testing.js';

export type { VaultResponse };

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
}

export interface InitAnswer {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

export class VaultHttp {
  constructor(
    readonly baseUrl: string,
    readonly caPem: string,
  ) {}

  request(options: { method?: string; path: string; token?: string; body?: unknown }): Promise<VaultResponse> {
    return vaultRequest(this.baseUrl, this.caPem, options);
  }

  async sealStatus(): Promise<SealStatus> {
    const response = await this.request({ path: 'sys/seal-status' });
    if (response.status !== 200) throw new Error(`GET sys/seal-status answered ${response.status}: ${response.raw.toString('utf8')}`);
    return response.json as SealStatus;
  }

  /** sys/health status, or 0 while nothing answers (Vault restarting). */
  health(): Promise<number> {
    return this.request({ path: 'sys/health' }).then(
      (response) => response.status,
      () => 0,
    );
  }

  /** Polls sys/health until `want` or the deadline; resolves with the last status and when it was seen. */
  async waitForHealth(want: number, timeoutMs: number, everyMs = 100): Promise<{ status: number; afterMs: number; sawOther: Set<number> }> {
    const begin = Date.now();
    const sawOther = new Set<number>();
    let status = await this.health();
    while (status !== want && Date.now() - begin < timeoutMs) {
      sawOther.add(status);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      status = await this.health();
    }
    return { status, afterMs: Date.now() - begin, sawOther };
  }

  async init(shares: number, threshold: number): Promise<InitAnswer> {
    const response = await this.request({ method: 'PUT', path: 'sys/init', body: { secret_shares: shares, secret_threshold: threshold } });
    if (response.status !== 200) throw new Error(`PUT sys/init answered ${response.status}: ${response.raw.toString('utf8')}`);
    return response.json as InitAnswer;
  }

  /** The text of an ACL policy as Vault holds it; undefined when there is none. */
  async policy(name: string, token: string): Promise<string | undefined> {
    const response = await this.request({ path: `sys/policies/acl/${name}`, token });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new Error(`GET sys/policies/acl/${name} answered ${response.status}: ${response.raw.toString('utf8')}`);
    return (response.json as { data: { policy: string } }).data.policy;
  }
}

/**
 * `path "P" { capabilities = [...] }` blocks of an HCL policy, as path → sorted capabilities. Only the
 * form the documentation shows (https://developer.hashicorp.com/vault/docs/concepts/policies#policy-syntax);
 * anything else in a block (parameters, wrapping) makes the reading fail loudly rather than guess.
 */
export function policyRules(hcl: string): Record<string, string[]> {
  const withoutComments = hcl
    .split('\n')
    .filter((line) => !/^\s*(#|\/\/)/.test(line))
    .join('\n');
  const rules: Record<string, string[]> = {};
  const block = /path\s+"([^"]+)"\s*\{([^}]*)\}/g;
  let consumed = withoutComments;
  for (const match of withoutComments.matchAll(block)) {
    const [whole, path, body] = match as unknown as [string, string, string];
    const capabilities = /^\s*capabilities\s*=\s*\[([^\]]*)\]\s*$/.exec(body);
    if (!capabilities) throw new Error(`policy block for ${path} is not just a capabilities list:\n${whole}`);
    rules[path] = [...capabilities[1]!.matchAll(/"([^"]+)"/g)].map((item) => item[1]!).sort();
    consumed = consumed.replace(whole, '');
  }
  if (consumed.trim() !== '') throw new Error(`policy text outside path blocks:\n${consumed.trim()}`);
  return rules;
}

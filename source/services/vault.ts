/**
 * The Vault HTTP API as the product reaches it: node-vault with our CA, TLS always verified.
 *
 * node-vault reads VAULT_SKIP_VERIFY, VAULT_TOKEN, VAULT_PREFIX and VAULT_NAMESPACE from the
 * environment and logs request payloads with DEBUG=node-vault. None of that may change what this
 * product does: verification is forced on, the env token/prefix/namespace are cleared, and the
 * logger is a no-op, so no unseal key or token can ever be printed by the library.
 * API: https://developer.hashicorp.com/vault/api-docs/system/health and .../system/seal-status
 */
import type NodeVault from 'node-vault';
import { UserError } from '../core/errors.js';

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  version: string;
  storageType: string;
  /** Unseal threshold and number of key shares (0 before init). */
  t: number;
  n: number;
  /** Keys submitted towards the threshold so far. */
  progress: number;
}

export interface Health {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

export interface VaultApiOptions {
  /** e.g. https://192.168.1.50:8200 */
  address: string;
  /** PEM of the CA that signed Vault's certificate. */
  caPem: string;
  timeoutMs?: number;
}

export interface VaultApi {
  readonly address: string;
  health(): Promise<Health>;
  sealStatus(): Promise<SealStatus>;
}

/** Builds the client (node-vault is loaded on first use: commands that never reach Vault do not pay for it). */
export async function connectVault(options: VaultApiOptions): Promise<VaultApi> {
  const { default: createClient } = (await import('node-vault')) as unknown as { default: typeof NodeVault };
  const timeout = options.timeoutMs ?? 10_000;
  const config: NodeVault.VaultOptions & { rpDefaults: { strictSSL: true; timeout: number } } = {
    endpoint: options.address,
    requestOptions: { ca: options.caPem, strictSSL: true },
    // Overrides node-vault's `strictSSL: !process.env.VAULT_SKIP_VERIFY`.
    rpDefaults: { strictSSL: true, timeout },
    debug: () => undefined,
  };
  const client = createClient(config);
  // Empty values in the config fall back to the environment: clear them afterwards instead.
  const mutable = client as unknown as { token: string; pathPrefix: string; namespace: string | undefined };
  mutable.token = '';
  mutable.pathPrefix = '';
  mutable.namespace = undefined;
  return new NodeVaultApi(client, options.address);
}

class NodeVaultApi implements VaultApi {
  constructor(
    private readonly client: NodeVault.client,
    readonly address: string,
  ) {}

  async health(): Promise<Health> {
    // node-vault resolves /sys/health with the body whatever the status code (501, 503...).
    const body = (await this.call('GET /v1/sys/health', () => this.client.health())) as Record<string, unknown>;
    return {
      initialized: body['initialized'] === true,
      sealed: body['sealed'] === true,
      standby: body['standby'] === true,
      version: String(body['version'] ?? ''),
    };
  }

  async sealStatus(): Promise<SealStatus> {
    const body = (await this.call('GET /v1/sys/seal-status', () => this.client.status())) as Record<string, unknown>;
    return {
      initialized: body['initialized'] === true,
      sealed: body['sealed'] === true,
      version: String(body['version'] ?? ''),
      storageType: String(body['storage_type'] ?? ''),
      t: Number(body['t'] ?? 0),
      n: Number(body['n'] ?? 0),
      progress: Number(body['progress'] ?? 0),
    };
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw describeVaultError(error, what, this.address);
    }
  }
}

/** A node-vault/axios failure as a message the user can act on. */
export function describeVaultError(error: unknown, what: string, address: string): UserError {
  const response = (error as { response?: { statusCode?: number; body?: { errors?: unknown } } }).response;
  if (response?.statusCode !== undefined) {
    const errors = Array.isArray(response.body?.errors) ? (response.body.errors as unknown[]).map(String).join('; ') : '';
    return new UserError(`Vault answered ${what} with HTTP ${response.statusCode}${errors ? `: ${errors}` : ''}`, { cause: error });
  }
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames/i.test(`${code} ${message}`)) {
    return new UserError(`the TLS certificate of ${address} is not trusted: ${message}`, {
      hint: 'the server certificate must be signed by the CA in the profile and name this address (IP or DNS) among its subjectAltNames; run the TLS step again',
      cause: error,
    });
  }
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|ECONNABORTED|ENOTFOUND|EAI_AGAIN|timeout/i.test(`${code} ${message}`)) {
    return new UserError(`cannot reach Vault at ${address} (${code || message})`, {
      hint: 'check that vault.service is running on the host, that the port is open in its firewall, and that vault.nodeIp / vault.apiAddress is reachable from this machine',
      cause: error,
    });
  }
  return new UserError(`${what} at ${address} failed: ${message}`, { cause: error });
}

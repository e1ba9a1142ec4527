/**
 * The Vault HTTP API as the product reaches it: node-vault with our CA, TLS always verified.
 *
 * node-vault reads VAULT_SKIP_VERIFY, VAULT_TOKEN, VAULT_PREFIX and VAULT_NAMESPACE from the
 * environment and logs request payloads with DEBUG=node-vault. None of that may change what this
 * product does: verification is forced on, the env token/prefix/namespace are cleared, and the
 * logger is a no-op, so no unseal key or token can ever be printed by the library.
 * API: https://developer.hashicorp.com/vault/api-docs/system/health and .../system/seal-status,
 * system/init, system/unseal, system/mounts, system/policies (sys/policies/acl), system/capabilities-self,
 * auth/token (create, lookup-self, revoke-self) and secret/kv/kv-v2.
 *
 * Every call goes through node-vault's raw `request` with the token in a per-request header, never
 * through its helpers: node-vault's tokenCreate/login REPLACE the client's own token with the one just
 * created (their `tokenSource` flag), which would silently turn a root client into a readonly one.
 */
import { VAULT, type ServerFlavor } from '../core/server.js';
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
  /** Which server answers there (its name in messages, its unit in hints); Vault when not given. */
  server?: ServerFlavor;
}

/** The answer of PUT sys/init: the only copy of the unseal keys and root token in the world. */
export interface InitAnswer {
  /** Unseal key shares, hex. */
  keys: string[];
  /** The same shares, base64 (what `vault operator init` prints). */
  keys_base64: string[];
  root_token: string;
}

export interface MountInfo {
  type: string;
  /** e.g. `{ version: "2" }` for KV v2; null when the engine has no options. */
  options: Record<string, string> | null;
  description: string;
}

export interface CreatedToken {
  token: string;
  accessor: string;
  policies: string[];
  /** Seconds. */
  leaseDuration: number;
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  displayName: string;
  /** Seconds left; 0 for a token that never expires (root). */
  ttl: number;
  expireTime: string | null;
  orphan: boolean;
}

export interface TokenRequest {
  policies: string[];
  /** Vault duration, e.g. 768h. */
  ttl: string;
  /** An orphan token outlives its creator: revoking the root token does not revoke it. */
  noParent?: boolean;
  displayName?: string;
  meta?: Record<string, string>;
}

/** Calls that need a token. The token travels in the X-Vault-Token header only. */
export interface AuthenticatedVault {
  readonly address: string;
  /** sys/mounts, keyed by path with its trailing slash (`secret/`). */
  listMounts(): Promise<Record<string, MountInfo>>;
  enableKvV2(path: string, description: string): Promise<void>;
  /** The policy text as Vault stores it; undefined when there is no such policy. */
  readPolicy(name: string): Promise<string | undefined>;
  writePolicy(name: string, text: string): Promise<void>;
  createToken(request: TokenRequest): Promise<CreatedToken>;
  lookupSelf(): Promise<TokenInfo>;
  revokeSelf(): Promise<void>;
  /** Capabilities of this token on each path (sys/capabilities-self); `deny` when none. */
  capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>>;
  /** KV v2 read of the latest version's data; undefined when the secret does not exist. */
  kvRead(mount: string, path: string): Promise<Record<string, unknown> | undefined>;
  /** KV v2 write; resolves with the new version number. */
  kvWrite(mount: string, path: string, data: Record<string, unknown>): Promise<number>;
  /** KV v2 delete of the metadata: every version and the key itself are gone. */
  kvDeleteAll(mount: string, path: string): Promise<void>;
  /** sys/auth, keyed by path with its trailing slash (`kubernetes/`). */
  listAuthMethods(): Promise<Record<string, AuthMethodInfo>>;
  enableAuthMethod(path: string, type: string, description: string): Promise<void>;
  /** GET auth/<mount>/<path>: the `data` object, or undefined on 404. */
  readAuth(mount: string, path: string): Promise<Record<string, unknown> | undefined>;
  /** POST auth/<mount>/<path> with the body (config, roles). */
  writeAuth(mount: string, path: string, body: Record<string, unknown>): Promise<void>;
  /** PUT sys/seal (root or a token with `sudo` on sys/seal). */
  seal(): Promise<void>;
}

/** One entry of sys/auth. */
export interface AuthMethodInfo {
  type: string;
  description: string;
  accessor: string;
}

/** A root token generation attempt, as sys/generate-root(-token)/attempt and /update report it. */
export interface RootGenerationStatus {
  started: boolean;
  nonce: string;
  /** Shares given so far, and how many complete it. */
  progress: number;
  required: number;
  complete: boolean;
  /** On completion: the new root token XOR the OTP, base64. */
  encodedToken: string;
  /** Only in the answer that starts an attempt: the OTP the server made. */
  otp: string;
}

/** Root token generation from unseal key shares (where and how: ServerFlavor.rootGeneration). */
export interface RootGenerationApi {
  status(): Promise<RootGenerationStatus>;
  /** Starts an attempt with an OTP the server makes (returned once, in this answer). */
  start(): Promise<RootGenerationStatus>;
  /** Gives one key share (hex or base64) to the attempt `nonce`. */
  update(key: string, nonce: string): Promise<RootGenerationStatus>;
  /** Cancels the attempt in progress (also fine when there is none). */
  cancel(): Promise<void>;
}

export interface VaultApi {
  readonly address: string;
  health(): Promise<Health>;
  sealStatus(): Promise<SealStatus>;
  /** PUT sys/init. 400 (already initialized) becomes a UserError that says so. */
  init(options: { shares: number; threshold: number }): Promise<InitAnswer>;
  /** PUT sys/unseal with one key share (hex or base64); resolves with the status after it. */
  unseal(key: string): Promise<SealStatus>;
  /** Discards the key shares submitted so far. */
  unsealReset(): Promise<SealStatus>;
  withToken(token: string): AuthenticatedVault;
  /** Root token generation; `token` is required where the server serves it behind one (OpenBao). */
  rootGeneration(token?: string): RootGenerationApi;
}

/**
 * An error Vault answered with (an HTTP status and its `errors[]`), so callers can tell a denial
 * (403, which the self-test expects) from other failures without parsing messages.
 */
export class VaultApiError extends UserError {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly errors: string[],
    options: { hint?: string } = {},
  ) {
    super(message, options);
  }
}

/** Nothing answered at the API address (refused, unreachable, timed out): a type, so callers never match the wording. */
export class ServerUnreachableError extends UserError {
  readonly unreachable = true;
}

/** How long sys/init may take: the server answers after raft has elected itself. */
export const INIT_TIMEOUT_MS = 180_000;

/** Builds the client (node-vault is loaded on first use: commands that never reach Vault do not pay for it). */
export async function connectVault(options: VaultApiOptions): Promise<VaultApi> {
  const { default: createClient } = (await import('node-vault')) as unknown as { default: typeof NodeVault };
  const timeout = options.timeoutMs ?? 10_000;
  const config: NodeVault.VaultOptions & { rpDefaults: { strictSSL: true; timeout: number } } = {
    endpoint: options.address,
    // rejectUnauthorized said explicitly (strictSSL also sets it): verification never depends on
    // NODE_TLS_REJECT_UNAUTHORIZED. HTTPS_PROXY and the like may make axios tunnel through a proxy
    // (CONNECT); the TLS session inside still ends at the server and is verified with this CA.
    requestOptions: { ca: options.caPem, strictSSL: true, agentOptions: { rejectUnauthorized: true } },
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
  return new NodeVaultApi(client, options.address, options.server ?? VAULT);
}

class NodeVaultApi implements VaultApi {
  constructor(
    private readonly client: NodeVault.client,
    readonly address: string,
    private readonly server: ServerFlavor,
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
    return sealStatusOf((await this.call('GET /v1/sys/seal-status', () => this.client.status())) as Record<string, unknown>);
  }

  async init(options: { shares: number; threshold: number }): Promise<InitAnswer> {
    // Its own, long time limit: the server answers only after raft's first election (the real
    // OpenBao 2.7.2 took 6-10 s on a 2-core machine; a Pi is slower). A client that gave up first
    // would leave a server initialised with keys nobody received.
    const body = (await this.raw('PUT', 'sys/init', undefined, { secret_shares: options.shares, secret_threshold: options.threshold }, INIT_TIMEOUT_MS)) as Record<
      string,
      unknown
    >;
    const keys = stringArray(body['keys']);
    const keysBase64 = stringArray(body['keys_base64']);
    const rootToken = body['root_token'];
    if (keys.length !== options.shares || keysBase64.length !== options.shares || typeof rootToken !== 'string' || rootToken === '') {
      // Said without quoting the body: it holds the keys.
      throw new UserError(`${this.server.name} at ${this.address} answered sys/init without the expected ${options.shares} keys and root token`);
    }
    return { keys, keys_base64: keysBase64, root_token: rootToken };
  }

  async unseal(key: string): Promise<SealStatus> {
    return sealStatusOf((await this.raw('PUT', 'sys/unseal', undefined, { key })) as Record<string, unknown>);
  }

  async unsealReset(): Promise<SealStatus> {
    return sealStatusOf((await this.raw('PUT', 'sys/unseal', undefined, { reset: true })) as Record<string, unknown>);
  }

  withToken(token: string): AuthenticatedVault {
    if (token.length === 0) throw new UserError('an empty Vault token was given');
    return new TokenClient((method, path, body) => this.raw(method, path, token, body), this.address);
  }

  rootGeneration(token?: string): RootGenerationApi {
    const { path, needsToken } = this.server.rootGeneration;
    if (needsToken && (token === undefined || token.length === 0)) throw new UserError(`${this.server.name} generates root tokens only for a token that may (${path})`);
    const send = async (method: string, what: string, body?: unknown): Promise<RootGenerationStatus> =>
      rootGenerationStatusOf((await this.raw(method, `${path}/${what}`, needsToken ? token : undefined, body)) as Record<string, unknown> | undefined);
    return {
      status: () => send('GET', 'attempt'),
      start: () => send('POST', 'attempt', {}),
      update: (key, nonce) => send('POST', 'update', { key, nonce }),
      cancel: async () => {
        await this.raw('DELETE', `${path}/attempt`, needsToken ? token : undefined);
      },
    };
  }

  /**
   * One request through node-vault's raw `request`: TLS and timeout from the client's defaults, the
   * token in this request's header only. Errors are mapped to messages naming what was asked.
   */
  private async raw(method: string, path: string, token: string | undefined, body?: unknown, timeoutMs?: number): Promise<unknown> {
    const options: NodeVault.RequestOption = { method, path: `/${path}` };
    // node-vault hands a request's own `timeout` to axios (src/index.js, requestWrapper).
    if (timeoutMs !== undefined) (options as Record<string, unknown>)['timeout'] = timeoutMs;
    if (token !== undefined) options['headers'] = { 'X-Vault-Token': token };
    if (body !== undefined) options['json'] = body;
    return this.call(`${method} /v1/${path}`, () => this.client.request(options));
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw describeVaultError(error, what, this.address, this.server);
    }
  }
}

type RawCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** Vault answers at the top level, OpenBao in the envelope's data (conformance: vault-sim-root-generation.test.ts). */
function rootGenerationStatusOf(answer: Record<string, unknown> | undefined): RootGenerationStatus {
  const body = (answer && typeof answer['data'] === 'object' && answer['data'] !== null ? answer['data'] : (answer ?? {})) as Record<string, unknown>;
  return {
    started: body['started'] === true,
    nonce: String(body['nonce'] ?? ''),
    progress: Number(body['progress'] ?? 0),
    required: Number(body['required'] ?? 0),
    complete: body['complete'] === true,
    encodedToken: String(body['encoded_token'] ?? ''),
    otp: String(body['otp'] ?? ''),
  };
}

function sealStatusOf(body: Record<string, unknown>): SealStatus {
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

/**
 * A freshly enabled KV v2 mount upgrades its storage in the background and meanwhile answers every
 * request 400 "Upgrading from non-versioned to versioned data. This backend will be unavailable for
 * a brief period…" ("Waiting for the primary to upgrade…" on a replica): hashicorp's own benchmark
 * sleeps 2 s after mounting, Vault's UI treats it as transient (isTransientKvMountError). A slow SD
 * card makes it longer, so KV calls wait it out for a bounded time.
 */
export const KV_UPGRADE_WAIT_MS = 15_000;
const KV_UPGRADE_POLL_MS = 250;

export function isKvUpgradeWindow(error: unknown): boolean {
  return error instanceof VaultApiError && error.statusCode === 400 && error.errors.some((text) => /upgrad(?:e|ing) from non-versioned to versioned data/i.test(text));
}

/** Runs a KV call again while the mount is in its upgrade window, for at most `waitMs`. */
export async function waitingOutKvUpgrade<T>(call: () => Promise<T>, waitMs = KV_UPGRADE_WAIT_MS, pollMs = KV_UPGRADE_POLL_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isKvUpgradeWindow(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

/** KV v2 paths: `<mount>/data/<path>` and `<mount>/metadata/<path>` (secret/kv/kv-v2 API doc). */
function kvApiPath(mount: string, kind: 'data' | 'metadata', path: string): string {
  return `${mount.replace(/\/+$/, '')}/${kind}/${path.replace(/^\/+/, '')}`;
}

class TokenClient implements AuthenticatedVault {
  constructor(
    private readonly raw: RawCall,
    readonly address: string,
  ) {}

  async listMounts(): Promise<Record<string, MountInfo>> {
    const mounts: Record<string, MountInfo> = {};
    for (const [path, record] of pathTable((await this.raw('GET', 'sys/mounts')) as Record<string, unknown>)) {
      const options = record['options'];
      mounts[path] = {
        type: String(record['type'] ?? ''),
        options:
          typeof options === 'object' && options !== null
            ? Object.fromEntries(Object.entries(options as Record<string, unknown>).map(([key, value]) => [key, String(value)]))
            : null,
        description: String(record['description'] ?? ''),
      };
    }
    return mounts;
  }

  async enableKvV2(path: string, description: string): Promise<void> {
    await this.raw('POST', `sys/mounts/${path}`, { type: 'kv', description, options: { version: '2' } });
  }

  async readPolicy(name: string): Promise<string | undefined> {
    try {
      const body = (await this.raw('GET', `sys/policies/acl/${encodeURIComponent(name)}`)) as Record<string, unknown>;
      const data = (body['data'] ?? body) as Record<string, unknown>;
      return typeof data['policy'] === 'string' ? data['policy'] : undefined;
    } catch (error) {
      if (error instanceof VaultApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async writePolicy(name: string, text: string): Promise<void> {
    await this.raw('PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { policy: text });
  }

  async createToken(request: TokenRequest): Promise<CreatedToken> {
    const body = (await this.raw('POST', 'auth/token/create', {
      policies: request.policies,
      ttl: request.ttl,
      no_parent: request.noParent ?? false,
      ...(request.displayName ? { display_name: request.displayName } : {}),
      ...(request.meta ? { meta: request.meta } : {}),
    })) as Record<string, unknown>;
    const auth = (body['auth'] ?? {}) as Record<string, unknown>;
    if (typeof auth['client_token'] !== 'string' || auth['client_token'] === '') {
      throw new UserError(`the server at ${this.address} answered auth/token/create without a token`);
    }
    return {
      token: auth['client_token'],
      accessor: String(auth['accessor'] ?? ''),
      policies: stringArray(auth['policies']),
      leaseDuration: Number(auth['lease_duration'] ?? 0),
    };
  }

  async lookupSelf(): Promise<TokenInfo> {
    const body = (await this.raw('GET', 'auth/token/lookup-self')) as Record<string, unknown>;
    const data = (body['data'] ?? {}) as Record<string, unknown>;
    return {
      accessor: String(data['accessor'] ?? ''),
      policies: stringArray(data['policies']),
      displayName: String(data['display_name'] ?? ''),
      ttl: Number(data['ttl'] ?? 0),
      expireTime: typeof data['expire_time'] === 'string' ? data['expire_time'] : null,
      orphan: data['orphan'] === true,
    };
  }

  async revokeSelf(): Promise<void> {
    await this.raw('POST', 'auth/token/revoke-self');
  }

  async capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>> {
    const body = (await this.raw('POST', 'sys/capabilities-self', { paths })) as Record<string, unknown>;
    const data = (typeof body['data'] === 'object' && body['data'] !== null ? body['data'] : body) as Record<string, unknown>;
    return Object.fromEntries(paths.map((path) => [path, stringArray(data[path])]));
  }

  async kvRead(mount: string, path: string): Promise<Record<string, unknown> | undefined> {
    try {
      const body = (await waitingOutKvUpgrade(() => this.raw('GET', kvApiPath(mount, 'data', path)))) as Record<string, unknown>;
      const data = (body['data'] ?? {}) as Record<string, unknown>;
      return (data['data'] ?? undefined) as Record<string, unknown> | undefined;
    } catch (error) {
      if (error instanceof VaultApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async kvWrite(mount: string, path: string, data: Record<string, unknown>): Promise<number> {
    const body = (await waitingOutKvUpgrade(() => this.raw('POST', kvApiPath(mount, 'data', path), { data }))) as Record<string, unknown>;
    return Number(((body['data'] ?? {}) as Record<string, unknown>)['version'] ?? 0);
  }

  async kvDeleteAll(mount: string, path: string): Promise<void> {
    await waitingOutKvUpgrade(() => this.raw('DELETE', kvApiPath(mount, 'metadata', path)));
  }

  // https://developer.hashicorp.com/vault/api-docs/system/auth
  async listAuthMethods(): Promise<Record<string, AuthMethodInfo>> {
    const methods: Record<string, AuthMethodInfo> = {};
    for (const [path, record] of pathTable((await this.raw('GET', 'sys/auth')) as Record<string, unknown>)) {
      methods[path] = { type: String(record['type'] ?? ''), description: String(record['description'] ?? ''), accessor: String(record['accessor'] ?? '') };
    }
    return methods;
  }

  async enableAuthMethod(path: string, type: string, description: string): Promise<void> {
    await this.raw('POST', `sys/auth/${trimSlashes(path)}`, { type, description });
  }

  // https://developer.hashicorp.com/vault/api-docs/auth/kubernetes (config and roles)
  async readAuth(mount: string, path: string): Promise<Record<string, unknown> | undefined> {
    try {
      const body = (await this.raw('GET', `auth/${trimSlashes(mount)}/${trimSlashes(path)}`)) as Record<string, unknown>;
      const data = body['data'];
      return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined;
    } catch (error) {
      if (error instanceof VaultApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async writeAuth(mount: string, path: string, body: Record<string, unknown>): Promise<void> {
    await this.raw('POST', `auth/${trimSlashes(mount)}/${trimSlashes(path)}`, body);
  }

  // https://developer.hashicorp.com/vault/api-docs/system/seal
  async seal(): Promise<void> {
    await this.raw('PUT', 'sys/seal');
  }
}

/**
 * The `path/` → entry table of sys/mounts and sys/auth. Current Vault puts it under `data`; older
 * versions also repeat it at the top level, beside fields that are not paths.
 */
function pathTable(body: Record<string, unknown>): [string, Record<string, unknown>][] {
  const table = (typeof body['data'] === 'object' && body['data'] !== null ? body['data'] : body) as Record<string, unknown>;
  return Object.entries(table).filter((entry): entry is [string, Record<string, unknown>] => entry[0].endsWith('/') && typeof entry[1] === 'object' && entry[1] !== null);
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** A node-vault/axios failure as a message the user can act on. */
export function describeVaultError(error: unknown, what: string, address: string, server: ServerFlavor = VAULT): UserError {
  const response = (error as { response?: { statusCode?: number; body?: { errors?: unknown } } }).response;
  if (response?.statusCode !== undefined) {
    const errors = Array.isArray(response.body?.errors) ? (response.body.errors as unknown[]).map(String) : [];
    return vaultAnswerError(response.statusCode, errors, what, address, server.name);
  }
  // The axios error carries the request (its headers hold the token, its body an unseal key): it is
  // never kept as the cause, only its code and message are.
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  const cause = Object.assign(new Error(message), code ? { code } : {});
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames/i.test(`${code} ${message}`)) {
    return new UserError(`the TLS certificate of ${address} is not trusted: ${message}`, {
      hint: 'the server certificate must be signed by the CA in the profile and name this address (IP or DNS) among its subjectAltNames; run the TLS step again',
      cause,
    });
  }
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|ECONNABORTED|ENOTFOUND|EAI_AGAIN|timeout/i.test(`${code} ${message}`)) {
    return new ServerUnreachableError(`cannot reach ${server.name} at ${address} (${code || message})`, {
      hint: `check that ${server.unit} is running on the host, that the port is open in its firewall, and that vault.nodeIp / vault.apiAddress is reachable from this machine`,
      cause,
    });
  }
  return new UserError(`${what} at ${address} failed: ${message}`, { cause });
}

/** Flattens Vault's `errors[]` ("1 error occurred:\n\t* permission denied\n\n") into one line. */
function oneLine(errors: string[]): string {
  return errors
    .flatMap((text) => text.replace(/^\d+ errors? occurred:/i, '').split('\n'))
    .map((line) => line.replace(/^\s*\*?\s*/, '').trim())
    .filter((line) => line.length > 0)
    .join('; ');
}

/**
 * The status codes Vault documents (https://developer.hashicorp.com/vault/api-docs#http-status-codes)
 * turned into what the user should know: 403 is a token without the right (or an expired/revoked
 * token), 503 a sealed Vault, 400 on sys/init an initialized one.
 */
export function vaultAnswerError(statusCode: number, errors: string[], what: string, address: string, name = 'Vault'): VaultApiError {
  const detail = oneLine(errors);
  if (statusCode === 403) {
    return new VaultApiError(`permission denied: the token lacks the rights for ${what} (or it expired or was revoked)`, statusCode, errors, {
      hint: 'use a token whose policies allow this (the root token from custody, or a new one made with `vault operator generate-root`)',
    });
  }
  if (statusCode === 503 && /sealed/i.test(detail || 'sealed')) {
    return new VaultApiError(`${name} at ${address} is sealed (${what} answered 503)`, statusCode, errors, {
      hint: 'unseal it first: run the unseal step (keys from custody, or typed one at a time)',
    });
  }
  if (statusCode === 400 && /sys\/init/.test(what) && /already initialized/i.test(detail)) {
    return new VaultApiError(`${name} at ${address} is already initialized`, statusCode, errors, {
      hint: `an initialized ${name} is never initialized again; unseal it with its keys (from custody, or typed)`,
    });
  }
  return new VaultApiError(`${name} answered ${what} with HTTP ${statusCode}${detail ? `: ${detail}` : ''}`, statusCode, errors);
}

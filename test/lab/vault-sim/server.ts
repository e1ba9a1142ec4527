// HTTP front end: the unauthenticated "raw" system endpoints, then token authentication, ACL
// checks and routing to the backends, answering with Vault's status codes and JSON shapes.
// https://developer.hashicorp.com/vault/api-docs (overview: HTTP status codes, X-Vault-Token)
// https://developer.hashicorp.com/vault/api-docs/system/health
// https://developer.hashicorp.com/vault/api-docs/system/seal-status
// https://developer.hashicorp.com/vault/api-docs/system/leader
// https://developer.hashicorp.com/vault/api-docs/system/seal
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requiresSudo, type Capability } from './acl.js';
import { badRequest, envelope, invalidToken, permissionDenied, VaultHttpError, type Operation, type Reply, type VaultRequest } from './api.js';
import { INIT_MS, type Core, type Logger } from './core.js';
import { handleKubernetes, kubernetesExists } from './kubernetes.js';
import { handleKv, kvExists } from './kv.js';
import { REWRITTEN_LIST_METHOD } from './list-method.js';
import { handleSys } from './sys.js';
import { consumeUse, findToken, handleTokenStore } from './tokens.js';

const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        reject(new VaultHttpError(413, ['http: request body too large']));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, reply: Reply, headOnly = false): void {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...reply.headers };
  if (reply.status === 204) {
    response.writeHead(204, headers);
    response.end();
    return;
  }
  let payload: Buffer | undefined = reply.raw;
  if (!payload) {
    headers['Content-Type'] ??= 'application/json';
    payload = Buffer.from(`${JSON.stringify(reply.json ?? { errors: [] })}\n`);
  }
  headers['Content-Length'] = String(payload.length);
  response.writeHead(reply.status, headers);
  response.end(headOnly ? undefined : payload);
}

function errorReply(error: VaultHttpError): Reply {
  return { status: error.status, json: { errors: error.errors } };
}

function operationFor(method: string, query: URLSearchParams): Operation | undefined {
  switch (method) {
    case 'GET':
      return ['true', '1'].includes(query.get('list') ?? '') ? 'list' : 'read';
    case 'LIST':
    case REWRITTEN_LIST_METHOD:
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return undefined;
  }
}

function parseBool(value: string): boolean {
  const lowered = value.toLowerCase();
  if (['1', 't', 'true'].includes(lowered)) return true;
  if (['0', 'f', 'false'].includes(lowered)) return false;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

export class VaultHttpHandler {
  constructor(
    private readonly core: Core,
    private readonly log: Logger,
  ) {}

  readonly listener = (request: IncomingMessage, response: ServerResponse): void => {
    this.handle(request)
      .then((reply) => send(response, reply, request.method === 'HEAD'))
      .catch((error: unknown) => {
        if (error instanceof VaultHttpError) {
          send(response, errorReply(error), request.method === 'HEAD');
          return;
        }
        this.log('ERROR', `http: internal error: ${(error as Error).stack ?? String(error)}`);
        send(response, { status: 500, json: { errors: ['1 error occurred:\n\t* internal error\n\n'] } });
      });
  };

  private async handle(incoming: IncomingMessage): Promise<Reply> {
    const url = new URL(incoming.url ?? '/', 'https://vault.invalid');
    const method = (incoming.method ?? 'GET').toUpperCase();
    const rawBody = await readBody(incoming);
    if (!url.pathname.startsWith('/v1/')) {
      if (url.pathname === '/' && this.core) return { status: 307, headers: { Location: '/ui/' }, raw: Buffer.alloc(0) };
      return { status: 404, raw: Buffer.from('404 page not found\n'), headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    }
    const path = decodeURIComponent(url.pathname.slice('/v1/'.length));

    // seal-status, unseal and everything logical take the core's state lock, which the
    // post-restore invalidations hold (RESTORE_MS); health and leader do not.
    if (path !== 'sys/health' && path !== 'sys/leader') {
      const busy = this.core.busyUntil - Date.now();
      if (busy > 0) await new Promise((resolve) => setTimeout(resolve, busy));
    }
    const raw = await this.handleRaw(method, path, url.searchParams, rawBody, incoming);
    if (raw) return raw;

    if (this.core.sealed()) throw new VaultHttpError(503, ['Vault is sealed']);
    // A standby forwards every logical request to the active node; just after unseal there is none
    // yet (http/handler.go handleRequestForwarding). OpenBao's standbys serve reads themselves
    // (https://openbao.org/docs/concepts/consistency/); like Vault, the simulator serves neither.
    if (this.core.standby()) throw new VaultHttpError(500, ['local node not active but active cluster node not found']);

    const operation = operationFor(method, url.searchParams);
    if (!operation) throw new VaultHttpError(405, []);
    const isSnapshotRestore = path.startsWith('sys/storage/raft/snapshot') && operation === 'update';
    let body: Record<string, unknown> = {};
    if (rawBody.length && !isSnapshotRestore && operation !== 'read' && operation !== 'list') {
      try {
        const parsed = JSON.parse(rawBody.toString('utf8')) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch (error) {
        throw badRequest(`failed to parse JSON input: ${(error as Error).message}`);
      }
    }
    const request: VaultRequest = {
      method,
      path: operation === 'list' && !path.endsWith('/') ? `${path}/` : path,
      query: url.searchParams,
      operation,
      body,
      rawBody,
      token: this.tokenFrom(incoming),
      remoteAddress: incoming.socket.remoteAddress ?? '',
    };
    return this.route(request);
  }

  private tokenFrom(incoming: IncomingMessage): string | undefined {
    const header = incoming.headers['x-vault-token'];
    if (typeof header === 'string' && header) return header;
    const authorization = incoming.headers['authorization'];
    if (typeof authorization === 'string' && /^Bearer\s+/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, '').trim();
    return undefined;
  }

  /** Endpoints Vault serves outside the logical router (they work while sealed). */
  private async handleRaw(method: string, path: string, query: URLSearchParams, rawBody: Buffer, incoming: IncomingMessage): Promise<Reply | undefined> {
    const core = this.core;
    const jsonBody = (): Record<string, unknown> => {
      if (!rawBody.length) return {};
      try {
        return JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>;
      } catch (error) {
        throw badRequest(`failed to parse JSON input: ${(error as Error).message}`);
      }
    };
    switch (path) {
      case 'sys/health':
        if (method !== 'GET' && method !== 'HEAD') throw new VaultHttpError(405, []);
        return this.health(query);
      case 'sys/seal-status':
        if (method !== 'GET') throw new VaultHttpError(405, []);
        return { status: 200, json: this.sealStatus() };
      case 'sys/init': {
        if (method === 'GET') return { status: 200, json: { initialized: core.initialized() } };
        if (method !== 'PUT' && method !== 'POST') throw new VaultHttpError(405, []);
        const body = jsonBody();
        if (body['pgp_keys'] || body['root_token_pgp_key']) throw badRequest('PGP-encrypted init is not supported by this server');
        if (core.initialized()) throw badRequest('Vault is already initialized');
        core.validateSealConfig(Number(body['secret_shares'] ?? 0), Number(body['secret_threshold'] ?? 0));
        // Raft bootstraps and elects itself before the barrier is initialised (INIT_MS).
        await new Promise((resolve) => setTimeout(resolve, INIT_MS));
        const result = core.initialize(Number(body['secret_shares'] ?? 0), Number(body['secret_threshold'] ?? 0));
        return { status: 200, json: result };
      }
      case 'sys/unseal': {
        if (method !== 'PUT' && method !== 'POST') throw new VaultHttpError(405, []);
        const body = jsonBody();
        if (body['reset'] === true) {
          if (!core.sealed()) throw badRequest('vault is unsealed');
          core.resetUnseal();
          return { status: 200, json: this.sealStatus() };
        }
        const key = typeof body['key'] === 'string' ? body['key'] : '';
        if (!key) throw badRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
        core.unseal(this.decodeKey(key));
        return { status: 200, json: this.sealStatus() };
      }
      case 'sys/generate-root/attempt': {
        // Unauthenticated, as in Vault (root-generation.ts says where OpenBao differs).
        if (method === 'GET') {
          if (core.sealed()) throw new VaultHttpError(503, ['Vault is sealed']);
          return { status: 200, json: core.rootGeneration.status() };
        }
        if (method === 'PUT' || method === 'POST') return { status: 200, json: core.rootGeneration.start(jsonBody()) };
        if (method === 'DELETE') {
          core.rootGeneration.cancel();
          return { status: 204 };
        }
        throw new VaultHttpError(405, []);
      }
      case 'sys/generate-root/update': {
        if (method !== 'PUT' && method !== 'POST') throw new VaultHttpError(405, []);
        const body = jsonBody();
        const key = typeof body['key'] === 'string' ? body['key'] : '';
        if (!key) throw badRequest("'key' must be specified in request body as JSON");
        return { status: 200, json: core.rootGeneration.update(this.decodeKey(key), typeof body['nonce'] === 'string' ? body['nonce'] : '') };
      }
      case 'sys/leader': {
        if (method !== 'GET') throw new VaultHttpError(405, []);
        if (core.sealed()) throw new VaultHttpError(503, ['Vault is sealed']);
        if (core.standby()) {
          // No leader known yet (the node has not won the election).
          return {
            status: 200,
            json: {
              ha_enabled: true,
              is_self: false,
              active_time: '0001-01-01T00:00:00Z',
              leader_address: '',
              leader_cluster_address: '',
              performance_standby: false,
              performance_standby_last_remote_wal: 0,
              raft_committed_index: core.raftIndex(),
              raft_applied_index: core.raftIndex(),
            },
          };
        }
        return {
          status: 200,
          json: {
            ha_enabled: true,
            is_self: true,
            active_time: core.activeSince,
            leader_address: core.addresses.apiAddr,
            leader_cluster_address: core.addresses.clusterAddr,
            performance_standby: false,
            performance_standby_last_remote_wal: 0,
            raft_committed_index: core.raftIndex(),
            raft_applied_index: core.raftIndex(),
          },
        };
      }
      case 'sys/seal': {
        if (method !== 'PUT' && method !== 'POST') throw new VaultHttpError(405, []);
        if (core.sealed()) throw new VaultHttpError(503, ['Vault is sealed']);
        const token = findToken(core.data, this.tokenFrom(incoming));
        if (!token) throw invalidToken();
        // sys/seal is root-protected: update plus sudo.
        if (!core.aclFor(token).allows('sys/seal', 'update', true)) throw permissionDenied();
        core.seal();
        return { status: 204 };
      }
      default:
        return undefined;
    }
  }

  private decodeKey(key: string): Buffer {
    // Hex first, but only when the length fits a key, so base64 that happens to be hex is not misread.
    if (/^[0-9a-fA-F]+$/.test(key) && key.length % 2 === 0) {
      const bytes = Buffer.from(key, 'hex');
      if (bytes.length >= 32 && bytes.length <= 33) return bytes;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(key) || key.length % 4 !== 0) throw badRequest("'key' must be a valid hex or base64 string");
    return Buffer.from(key, 'base64');
  }

  sealStatus(): Record<string, unknown> {
    const core = this.core;
    const config = core.sealConfig();
    const status: Record<string, unknown> = {
      type: 'shamir',
      initialized: core.initialized(),
      sealed: core.sealed(),
      t: config?.secret_threshold ?? 0,
      n: config?.secret_shares ?? 0,
      ...core.unsealProgress(),
      version: core.build.version,
      build_date: core.build.buildDate,
      migration: false,
      recovery_seal: false,
      storage_type: 'raft',
    };
    if (!core.sealed()) {
      status['cluster_name'] = core.data.clusterName;
      status['cluster_id'] = core.data.clusterId;
    }
    return status;
  }

  private health(query: URLSearchParams): Reply {
    const core = this.core;
    const code = (name: string, fallback: number): number => {
      const value = query.get(name);
      if (value === null) return fallback;
      const parsed = Number.parseInt(value, 10);
      if (Number.isNaN(parsed)) throw new VaultHttpError(400, []);
      return parsed;
    };
    for (const flag of ['standbyok', 'perfstandbyok']) {
      const value = query.get(flag);
      if (value !== null) {
        try {
          parseBool(value);
        } catch (error) {
          // Vault logs the reason and answers 400 with an empty error list.
          this.log('ERROR', `core: error checking health: error="bad value for ${flag} parameter: ${(error as Error).message.replace(/"/g, '\\"')}"`);
          throw new VaultHttpError(400, []);
        }
      }
    }
    const uninitCode = code('uninitcode', 501);
    const sealedCode = code('sealedcode', 503);
    const standbyCode = code('standbycode', 429);
    const activeCode = code('activecode', 200);
    code('drsecondarycode', 472);
    code('performancestandbycode', 473);
    const initialized = core.initialized();
    const sealed = core.sealed();
    // Unsealed, a single raft node is a standby (429) until it has become the active node.
    const standby = sealed || core.standby();
    const standbyOk = query.get('standbyok') !== null && parseBool(query.get('standbyok')!);
    const status = !initialized ? uninitCode : sealed ? sealedCode : standby && !standbyOk ? standbyCode : activeCode;
    const body: Record<string, unknown> = {
      initialized,
      sealed,
      standby,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(Date.now() / 1000),
      version: core.build.version,
      enterprise: false,
      echo_duration_ms: 0,
      clock_skew_ms: 0,
      replication_primary_canary_age_ms: 0,
      removed_from_cluster: false,
    };
    if (!sealed) {
      body['cluster_name'] = core.data.clusterName;
      body['cluster_id'] = core.data.clusterId;
      body['last_wal'] = 0;
    }
    return { status, json: body };
  }

  private async route(request: VaultRequest): Promise<Reply> {
    const core = this.core;
    const state = core.data;
    const path = request.path;

    // Find the backend: sys/, auth/<mount>/ or a secrets mount (longest prefix wins).
    let backend: { kind: 'sys' | 'auth' | 'secret'; mountPath: string; rest: string } | undefined;
    if (path.startsWith('sys/')) {
      backend = { kind: 'sys', mountPath: 'sys/', rest: path.slice(4) };
    } else if (path.startsWith('auth/')) {
      const inner = path.slice(5);
      const mountPath = Object.keys(state.auth)
        .filter((m) => inner.startsWith(m) || `${inner}/` === m)
        .sort((a, b) => b.length - a.length)[0];
      if (mountPath) backend = { kind: 'auth', mountPath, rest: inner.slice(mountPath.length) };
    } else {
      const mountPath = Object.keys(state.mounts)
        .filter((m) => path.startsWith(m) || `${path}/` === m)
        .sort((a, b) => b.length - a.length)[0];
      if (mountPath) backend = { kind: 'secret', mountPath, rest: path.slice(mountPath.length) };
    }

    const authMount = backend?.kind === 'auth' ? state.auth[backend.mountPath] : undefined;
    const unauthenticated = authMount?.type === 'kubernetes' && backend?.rest === 'login';

    if (!unauthenticated) {
      const token = findToken(state, request.token);
      if (!token) throw invalidToken();
      request.caller = token;
      // Writes are create or update depending on whether the target exists (Vault's existence check).
      if (request.operation === 'update' && backend && !this.exists(backend, request)) request.operation = 'create';
      if (!core.aclFor(token).allows(path, request.operation as Capability, requiresSudo(path))) throw permissionDenied();
      if (consumeUse(state, token)) core.persist();
    }

    if (!backend) throw new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);
    switch (backend.kind) {
      case 'sys':
        return handleSys(core, request, backend.rest);
      case 'auth': {
        const mount = state.auth[backend.mountPath]!;
        if (mount.type === 'token') return handleTokenStore(core, request, backend.rest);
        if (mount.type === 'kubernetes') return handleKubernetes(core, this.log, request, mount, backend.mountPath, backend.rest);
        throw new VaultHttpError(405, [`the ${mount.type} auth method is mounted but not simulated by this server`]);
      }
      case 'secret': {
        const mount = state.mounts[backend.mountPath]!;
        if (mount.type === 'kv') return handleKv(core, request, mount, backend.rest);
        if (mount.type === 'cubbyhole') return this.cubbyhole(request, backend.rest);
        throw new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);
      }
    }
  }

  private exists(backend: { kind: string; mountPath: string; rest: string }, request: VaultRequest): boolean {
    const state = this.core.data;
    if (backend.kind === 'secret') {
      const mount = state.mounts[backend.mountPath]!;
      if (mount.type === 'kv') return kvExists(this.core, mount, backend.rest);
      if (mount.type === 'cubbyhole') return state.cubbyhole[request.caller!.accessor]?.[backend.rest] !== undefined;
    }
    if (backend.kind === 'auth') {
      const mount = state.auth[backend.mountPath]!;
      if (mount.type === 'kubernetes') return kubernetesExists(this.core, mount, backend.rest);
    }
    // Paths without an existence check are always updates (Vault's pre-0.5 behaviour).
    return true;
  }

  /** cubbyhole/: a private key/value space per token (https://developer.hashicorp.com/vault/docs/secrets/cubbyhole). */
  private cubbyhole(request: VaultRequest, rest: string): Reply {
    const state = this.core.data;
    const space = (state.cubbyhole[request.caller!.accessor] ??= {});
    switch (request.operation) {
      case 'read': {
        const value = space[rest];
        if (!value) throw new VaultHttpError(404, []);
        return envelope(value, { mountType: 'cubbyhole' });
      }
      case 'create':
      case 'update':
        space[rest] = request.body;
        this.core.persist();
        return { status: 204 };
      case 'delete':
        delete space[rest];
        this.core.persist();
        return { status: 204 };
      case 'list': {
        const keys = [...new Set(Object.keys(space).filter((k) => k.startsWith(rest)).map((k) => k.slice(rest.length).replace(/\/.*$/s, '/')))].sort();
        if (!keys.length) throw new VaultHttpError(404, []);
        return envelope({ keys }, { mountType: 'cubbyhole' });
      }
      default:
        throw new VaultHttpError(405, []);
    }
  }
}

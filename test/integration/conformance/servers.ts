// Servers for the Vault conformance suite (test/integration/vault-sim-*.test.ts): the lab's
// simulator (the packaged `vault` executable, test/lab/vault-sim) and the real OpenBao server
// (the official `bao` executable, test/lab/openbao/binary.ts), each started the way the product
// runs it on a host: with the configuration the product writes (renderVaultConfig, from the
// profile), its paths (hostLayout), and a TLS certificate made with openssl, verified by every
// client. Each test file starts one server per kind in beforeAll; the same assertions then run
// against both, so what vault-sim answers is checked against what a real server answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { ProfileSchema, type Profile } from '../../../source/profile/schema.js';
import { renderVaultConfig } from '../../../source/steps/host/config.js';
import { hostLayout, type HostLayout } from '../../../source/steps/host/layout.js';
import { ensureOpenBaoBinary, LAB_OPENBAO_DEFAULT, localOpenBaoArch } from '../../lab/openbao/binary.js';
import { freePort, makeTlsMaterial, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultResponse } from '../../lab/vault-sim/testing.js';

export type ServerKind = 'vault-sim' | 'openbao';
/** The kinds every conformance assertion runs against (describe.each over this list). */
export const SERVER_KINDS: readonly ServerKind[] = ['vault-sim', 'openbao'];

/** The version the simulator is built as (any Vault 2.x release number) and the OpenBao release run. */
export const SIM_VERSION = '2.0.4';
export const OPENBAO_VERSION = LAB_OPENBAO_DEFAULT;

/** The node_id the product writes is the host's name; the lab's is this one. */
export const NODE_ID = 'lab-node-1';

export type RequestOptions = Parameters<typeof vaultRequest>[2];

export interface ConformanceServer {
  kind: ServerKind;
  /** The version the server reports (sys/seal-status `version`). */
  version: string;
  /** The executable: vault-sim's `vault` or OpenBao's `bao`. */
  executable: string;
  url: string;
  port: number;
  clusterPort: number;
  tls: TlsMaterial;
  profile: Profile;
  layout: HostLayout;
  /** Scratch space of this server (removed by stop({ remove: true })). */
  dir: string;
  /** One HTTPS request to /v1/<path>, TLS verified against the server's CA. */
  call(options: RequestOptions): Promise<VaultResponse>;
  /** What the server command said on stdout since it was last started: banner, errors, shutdown. */
  output(): string;
  /** Its log (stderr) since it was last started. */
  stderr(): string;
  /** SIGTERM and wait: resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Starts the server again on the same ports, configuration and data (after stop()). */
  start(): Promise<void>;
  /** Stops the server (if running) and removes its directory. */
  dispose(): Promise<void>;
}

/** The executable: the packaged simulator written into the server's own directory, or the cached `bao`. */
async function executableFor(kind: ServerKind, dir: string): Promise<string> {
  // (package.ts bundles once per process; each server gets its own copy of the same bytes.)
  if (kind === 'vault-sim') return writeVaultExecutable(join(dir, 'bin'), SIM_VERSION);
  return (await ensureOpenBaoBinary(OPENBAO_VERSION, localOpenBaoArch())).path;
}

/**
 * The profile the product would hold for a node at 127.0.0.1 with these ports and directories:
 * vault.server follows the kind (the simulator stands in for HashiCorp Vault).
 */
export function conformanceProfile(kind: ServerKind, options: { apiPort: number; clusterPort: number; root: string }): Profile {
  return ProfileSchema.parse({
    vault: {
      server: kind === 'openbao' ? 'openbao' : 'vault',
      nodeIp: '127.0.0.1',
      apiPort: options.apiPort,
      clusterPort: options.clusterPort,
      configDir: join(options.root, 'etc'),
      dataDir: join(options.root, 'data'),
    },
  });
}

export interface StartOptions {
  /** A label for the temp directory. */
  name?: string;
  /**
   * vault-sim models raft's waits: sys/init after 5 s, requests after a snapshot restore after
   * 5 s (test/lab/vault-sim/core.ts INIT_MS, RESTORE_MS). vault-sim-seal checks them; files that
   * do not can start the simulator without them ('none'). The standby after unseal stays.
   * OpenBao is always the real thing.
   */
  simWaits?: 'modelled' | 'none';
}

/** Starts a fresh, uninitialised server of `kind` and waits until its API answers. */
export async function startServer(kind: ServerKind, options: StartOptions = {}): Promise<ConformanceServer> {
  const dir = await mkdtemp(join(tmpdir(), `conformance-${kind}-${options.name ?? 'node'}-`));
  const executable = await executableFor(kind, dir);
  const tls = await makeTlsMaterial(join(dir, 'tls-made'));
  const port = await freePort();
  const clusterPort = await freePort();
  const profile = conformanceProfile(kind, { apiPort: port, clusterPort, root: dir });
  const layout = hostLayout(profile);
  for (const directory of [layout.configDir, layout.tlsDir, layout.policyDir, layout.pluginDir, layout.dataDir]) await mkdir(directory, { recursive: true });
  await copyFile(tls.certFile, layout.certFile);
  await copyFile(tls.keyFile, layout.keyFile);
  await copyFile(tls.caFile, layout.caFile);
  await writeFile(layout.configFile, renderVaultConfig(profile, NODE_ID), { mode: 0o640 });
  const url = `https://127.0.0.1:${port}`;

  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let stderr = '';
  let stdout = '';

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error(`${kind} is already running`);
    stderr = '';
    stdout = '';
    const env = serverEnv();
    if (kind === 'vault-sim' && options.simWaits === 'none') Object.assign(env, { VAULT_SIM_INIT_MS: '0', VAULT_SIM_RESTORE_MS: '0' });
    const spawned = spawn(executable, ['server', `-config=${layout.configFile}`], { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = spawned;
    spawned.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    spawned.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    exited = new Promise((resolve) => spawned.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (spawned.exitCode !== null) throw new Error(`${kind} exited with ${spawned.exitCode}:\n${stdout}${stderr}`);
      try {
        await vaultRequest(url, tls.caPem, { path: 'sys/seal-status' });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`${kind} did not answer at ${url}: ${(error as Error).message}\n${stdout}${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };

  const stop = async (): Promise<number | null> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await exited;
    // Both streams drained, so output() holds the shutdown line.
    await Promise.all([child?.stdout, child?.stderr].map((stream) => (stream && !stream.readableEnded ? new Promise((resolve) => stream.once('close', resolve)) : undefined)));
    return code;
  };

  await start();
  return {
    kind,
    version: kind === 'openbao' ? OPENBAO_VERSION : SIM_VERSION,
    executable,
    url,
    port,
    clusterPort,
    tls,
    profile,
    layout,
    dir,
    call: (request) => vaultRequest(url, tls.caPem, request),
    output: () => stdout,
    stderr: () => stderr,
    stop,
    start,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The environment a unit gives the server: no VAULT_ or BAO_ variables leak in from the test run. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(VAULT_|BAO_)/.test(key)) env[key] = value;
  return env;
}

export interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

export async function initialize(server: ConformanceServer, shares = 3, threshold = 2): Promise<InitResult> {
  const response = await server.call({ method: 'PUT', path: 'sys/init', body: { secret_shares: shares, secret_threshold: threshold } });
  if (response.status !== 200) throw new Error(`sys/init answered ${response.status}: ${response.raw.toString()}`);
  return response.json as InitResult;
}

/** Submits the shares in order; resolves with the last answer. */
export async function unsealWith(server: ConformanceServer, keys: string[]): Promise<VaultResponse> {
  let last: VaultResponse | undefined;
  for (const key of keys) last = await server.call({ method: 'PUT', path: 'sys/unseal', body: { key } });
  return last!;
}

/**
 * Polls sys/health until the node is active (200). A raft node that was just unsealed is a
 * standby (429) until it has won the leader election; writes fail until then. Resolves with the
 * health codes seen, in order (repeats collapsed).
 */
export async function waitActive(server: ConformanceServer, timeoutMs = 15_000): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await server.call({ path: 'sys/health' });
    if (seen.at(-1) !== status) seen.push(status);
    if (status === 200) return seen;
    if (Date.now() > deadline) throw new Error(`${server.kind} did not become active within ${timeoutMs} ms (health codes ${seen.join(', ')})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Init (3 shares, threshold 2 unless told), unseal and wait for the node to be active. */
export async function initUnsealed(server: ConformanceServer, shares = 3, threshold = 2): Promise<InitResult> {
  const init = await initialize(server, shares, threshold);
  await unsealWith(server, init.keys.slice(0, threshold));
  await waitActive(server);
  return init;
}

export interface Prepared<T> {
  /** The server of `kind` once its setup has run (rejects if either failed). */
  get(kind: ServerKind): Promise<{ server: ConformanceServer; value: T }>;
}

/**
 * Starts one server of every kind at the beginning of the file and runs `setup` on each at the
 * same time, so the seconds a real server spends in raft's bootstrap pass while the tests of the
 * kind before it run (vitest runs the describe.each blocks of a file one after the other). Call it
 * at the top level of a test file: it registers the file's beforeAll (start) and afterAll (dispose).
 */
export function prepareServers<T>(setup: (server: ConformanceServer) => Promise<T>, options: StartOptions = {}): Prepared<T> {
  const started = new Map<ServerKind, Promise<{ server: ConformanceServer; value: T }>>();
  const servers: Promise<ConformanceServer>[] = [];
  beforeAll(() => {
    for (const kind of SERVER_KINDS) {
      const server = startServer(kind, options);
      servers.push(server);
      const ready = server.then(async (running) => ({ server: running, value: await setup(running) }));
      ready.catch(() => undefined); // reported by the get() that awaits it
      started.set(kind, ready);
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map(async (server) => (await server.catch(() => undefined))?.dispose()));
  });
  return {
    get: (kind) => {
      const ready = started.get(kind);
      if (!ready) throw new Error(`no ${kind} server was prepared (prepareServers must be called at the top level of the file)`);
      return ready;
    },
  };
}

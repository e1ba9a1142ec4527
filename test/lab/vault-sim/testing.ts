// Helpers for tests that run the packaged simulator as a child process, the way the lab host
// runs it: a temp HCL config, a TLS certificate made with the openssl CLI (SAN 127.0.0.1), and
// clients that verify TLS against that CA.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleVaultExecutable } from './package.js';

const run = promisify(execFile);

export interface TlsMaterial {
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl. */
export async function makeTlsMaterial(dir: string, names: { ips?: string[]; dns?: string[] } = {}): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => join(dir, name);
  const ips = names.ips ?? ['127.0.0.1'];
  const dns = names.dns ?? ['localhost'];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=Lab Test CA']);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('tls.key'), '-out', file('tls.csr'), '-subj', '/CN=vault']);
  const san = [...ips.map((ip) => `IP:${ip}`), ...dns.map((name) => `DNS:${name}`)].join(',');
  await writeFile(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', file('tls.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('tls.crt'), '-days', '2', '-extfile', file('ext.cnf')]);
  return { caFile: file('ca.crt'), caPem: await readFile(file('ca.crt'), 'utf8'), certFile: file('tls.crt'), keyFile: file('tls.key') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Writes the bundled `vault` executable (same bytes as inside the release zip). */
export async function writeVaultExecutable(dir: string, version: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'vault');
  await writeFile(path, await bundleVaultExecutable(version), { mode: 0o755 });
  return path;
}

export function serverConfigHcl(options: { port: number; clusterPort: number; tls: TlsMaterial; dataDir: string }): string {
  return `# written like the product's vault_main.hcl
ui = true
disable_mlock = true
api_addr = "https://127.0.0.1:${options.port}"
cluster_addr = "https://127.0.0.1:${options.clusterPort}"
plugin_directory = "/etc/vault/plugin"

listener "tcp" {
  address                  = "127.0.0.1:${options.port}"
  cluster_address          = "127.0.0.1:${options.clusterPort}"
  tls_cert_file            = "${options.tls.certFile}"
  tls_key_file             = "${options.tls.keyFile}"
  tls_disable_client_certs = true
}

storage "raft" {
  path    = "${options.dataDir}"
  node_id = "lab-node-1"
}
`;
}

export interface VaultProcess {
  url: string;
  port: number;
  configFile: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code */
  stop(): Promise<number | null>;
}

/** Starts `vault server -config=FILE` and waits until the API answers. */
/** `env`: variables added to this process's for the server (the simulator's VAULT_SIM_* timings). */
export async function startVault(options: { executable: string; dir: string; tls: TlsMaterial; port?: number; env?: Record<string, string> }): Promise<VaultProcess> {
  const port = options.port ?? (await freePort());
  const clusterPort = await freePort();
  const dataDir = join(options.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const configFile = join(options.dir, 'vault.hcl');
  await writeFile(configFile, serverConfigHcl({ port, clusterPort, tls: options.tls, dataDir }));
  const child = spawn(options.executable, ['server', `-config=${configFile}`], { stdio: ['ignore', 'ignore', 'pipe'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vault exited with ${child.exitCode}:\n${stderr}`);
    try {
      await vaultRequest(url, options.tls.caPem, { path: 'sys/seal-status' });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`vault did not answer: ${(error as Error).message}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    port,
    configFile,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface VaultResponse {
  status: number;
  json: any;
  raw: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request to /v1/<path>, verifying the server against `caPem`. */
export function vaultRequest(
  baseUrl: string,
  caPem: string,
  options: { method?: string; path: string; token?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string>; timeoutMs?: number },
): Promise<VaultResponse> {
  const payload = options.raw ?? (options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body)));
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['X-Vault-Token'] = options.token;
  if (payload) headers['Content-Length'] = String(payload.length);
  // sys/init answers only after raft's first election (seconds; more on a loaded machine).
  const timeout = options.timeoutMs ?? (options.path === 'sys/init' && options.method === 'PUT' ? 120_000 : 10_000);
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(`${baseUrl}/v1/${options.path}`, { method: options.method ?? 'GET', headers, ca: caPem, timeout }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const raw = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, json, raw, headers: response.headers });
      });
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('request timed out')));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

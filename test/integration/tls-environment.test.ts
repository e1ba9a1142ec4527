/**
 * No environment variable weakens TLS verification in a client the product builds: the Vault client
 * (node-vault), the raft snapshot client, the status reader, the served-certificate check and the
 * Kubernetes client. Each variable is set in this process (as a user's shell would leave it), then
 * every client is pointed at a loopback server presenting a certificate from another CA: the
 * connection is refused and that server never receives a token. The same clients still reach the
 * server whose certificate the trusted CA signed, so the refusal is verification, not breakage.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterSchema } from '../../source/profile/schema.js';
import { openCluster } from '../../source/services/cluster.js';
import { takeSnapshot } from '../../source/services/snapshot.js';
import { collectStatus } from '../../source/services/status.js';
import { connectVault } from '../../source/services/vault.js';
import { readServedCertificate } from '../../source/steps/host/tls.js';
import { makeTlsPair, type ServerCertificate, type TlsPair } from '../support/tls-impostor.js';

const TOKEN = 's.token-the-impostor-must-never-see';
const KUBE_TOKEN = 'kube-bearer-the-impostor-must-never-see';

/** What one fake server received: the credentials are what must never reach the impostor. */
interface Seen {
  paths: string[];
  credentials: string[];
}

interface FakeServer {
  url: string;
  seen: Seen;
  server: HttpsServer;
}

/** Answers the few Vault and Kubernetes paths the clients ask, recording every credential sent. */
function answer(request: IncomingMessage, seen: Seen): { status: number; body: Buffer | string; type: string } {
  seen.paths.push(request.url ?? '');
  for (const header of ['x-vault-token', 'authorization']) {
    const value = request.headers[header];
    if (typeof value === 'string') seen.credentials.push(value);
  }
  const json = (body: unknown) => ({ status: 200, body: JSON.stringify(body), type: 'application/json' });
  switch (request.url) {
    case '/v1/sys/seal-status':
      return json({ initialized: true, sealed: true, t: 1, n: 1, progress: 0, version: '1.20.0', type: 'shamir', storage_type: 'raft' });
    case '/v1/auth/token/lookup-self':
      return json({ data: { accessor: 'a', policies: ['root'], display_name: 'root', ttl: 0, orphan: true } });
    case '/v1/sys/storage/raft/snapshot':
      return { status: 200, body: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]), type: 'application/octet-stream' };
    case '/api/v1':
      return json({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1', resources: [{ name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get'] }] });
    case '/api/v1/namespaces/default':
      return json({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    default:
      return { status: 404, body: JSON.stringify({ errors: [] }), type: 'application/json' };
  }
}

async function startFake(certificate: ServerCertificate): Promise<FakeServer> {
  const seen: Seen = { paths: [], credentials: [] };
  const server = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem }, (request, response) => {
    request.resume();
    request.on('end', () => {
      const { status, body, type } = answer(request, seen);
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** An honest CONNECT proxy on loopback that records where it was asked to go. */
async function startProxy(): Promise<{ url: string; connects: string[]; server: HttpServer; sockets: Set<Socket> }> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((request, response) => {
    connects.push(`${request.method ?? ''} ${request.url ?? ''}`);
    response.writeHead(502).end();
  });
  server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    connects.push(`CONNECT ${request.url ?? ''}`);
    const [host, port] = (request.url ?? '').split(':');
    if (host !== '127.0.0.1') return client.destroy();
    const upstream = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connects, server, sockets };
}

let pair: TlsPair;
let trusted: FakeServer;
let impostor: FakeServer;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let dir: string;
const saved = new Map<string, string | undefined>();

/** Every variable that could plausibly loosen or reroute TLS, one case each, then all at once. */
function environments(): Record<string, Record<string, string>> {
  const proxyVariables = {
    HTTPS_PROXY: proxy.url,
    https_proxy: proxy.url,
    HTTP_PROXY: proxy.url,
    http_proxy: proxy.url,
    ALL_PROXY: proxy.url,
    all_proxy: proxy.url,
    npm_config_https_proxy: proxy.url,
    npm_config_proxy: proxy.url,
  };
  return {
    'NODE_TLS_REJECT_UNAUTHORIZED=0': { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
    'VAULT_SKIP_VERIFY=1': { VAULT_SKIP_VERIFY: '1' },
    ...Object.fromEntries(Object.entries(proxyVariables).map(([name, value]) => [`${name}=<loopback proxy>`, { [name]: value }])),
    'NO_PROXY=* with HTTPS_PROXY': { NO_PROXY: '*', no_proxy: '*', HTTPS_PROXY: proxy.url },
    'NODE_USE_ENV_PROXY=1 with HTTPS_PROXY': { NODE_USE_ENV_PROXY: '1', HTTPS_PROXY: proxy.url },
    'all of them at once': { NODE_TLS_REJECT_UNAUTHORIZED: '0', VAULT_SKIP_VERIFY: '1', NODE_USE_ENV_PROXY: '1', ...proxyVariables },
  };
}

function setEnvironment(variables: Record<string, string>): void {
  for (const [name, value] of Object.entries(variables)) {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    process.env[name] = value;
  }
}

function restoreEnvironment(): void {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  saved.clear();
}

async function kubeconfigFor(server: FakeServer, name: string): Promise<string> {
  const file = path.join(dir, `${name}.kubeconfig`);
  const ca = Buffer.from(pair.trustedCaPem).toString('base64');
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: c, cluster: { server: "${server.url}", certificate-authority-data: "${ca}" } }]`,
      `users: [{ name: u, user: { token: "${KUBE_TOKEN}" } }]`,
      'contexts: [{ name: ctx, context: { cluster: c, user: u } }]',
      'current-context: ctx',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

/** Each client the product builds, asked one thing of the server at `target`. */
const clients: Record<string, (target: FakeServer, name: string) => Promise<unknown>> = {
  'Vault client (node-vault)': async (target) => {
    const vault = await connectVault({ address: target.url, caPem: pair.trustedCaPem, timeoutMs: 5_000 });
    await vault.sealStatus();
    return vault.withToken(TOKEN).lookupSelf();
  },
  'raft snapshot client': (target, name) => takeSnapshot({ vault: { address: target.url, caPem: pair.trustedCaPem, token: TOKEN }, profileName: name, idleTimeoutMs: 5_000 }),
  'status reader': async (target, name) => {
    const report = await collectStatus({ profileName: name, address: target.url, caPem: async () => pair.trustedCaPem, timeoutMs: 5_000 });
    // The reader never throws: a refused connection is a reading that says so.
    if (!report.vault.reachable) throw new Error(report.vault.error ?? 'unreachable');
    return report;
  },
  'served-certificate check': (target) => readServedCertificate(target.url, pair.trustedCaPem, { now: new Date(), timeoutMs: 5_000 }),
  'Kubernetes client': async (target, name) => {
    const cluster = await openCluster(ClusterSchema.parse({ kubeconfig: await kubeconfigFor(target, name) }), { requestTimeoutMs: 5_000 });
    const namespace = await cluster.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' });
    if (!namespace) throw new Error('no namespace read');
    return namespace;
  },
};

/** The hand-built clients use no proxy at all; node-vault's axios may tunnel through one (CONNECT), verification intact. */
const DIRECT_ONLY = ['raft snapshot client', 'status reader', 'served-certificate check', 'Kubernetes client'];

beforeAll(async () => {
  pair = await makeTlsPair();
  trusted = await startFake(pair.trusted);
  impostor = await startFake(pair.impostor);
  proxy = await startProxy();
  dir = await mkdtemp(path.join(tmpdir(), 'pvt-tls-env-'));
  saved.set('XDG_DATA_HOME', process.env['XDG_DATA_HOME']);
  process.env['XDG_DATA_HOME'] = path.join(dir, 'data');
});

afterEach(() => restoreEnvironment());

afterAll(async () => {
  if (saved.has('XDG_DATA_HOME')) restoreEnvironment();
  for (const socket of proxy?.sockets ?? []) socket.destroy();
  for (const server of [trusted?.server, impostor?.server, proxy?.server]) {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('no environment variable weakens TLS verification', () => {
  it('the fixture itself: without any variable, every client reaches the trusted server and refuses the impostor', async () => {
    for (const [name, call] of Object.entries(clients)) {
      await expect(call(trusted, 'baseline'), name).resolves.toBeDefined();
      await expect(call(impostor, 'baseline'), name).rejects.toThrow();
    }
    expect(impostor.seen.credentials).toEqual([]);
  });

  // Listed here (not in a loop over environments()) because the proxy's address is only known in beforeAll.
  const cases = [
    'NODE_TLS_REJECT_UNAUTHORIZED=0',
    'VAULT_SKIP_VERIFY=1',
    'HTTPS_PROXY=<loopback proxy>',
    'https_proxy=<loopback proxy>',
    'HTTP_PROXY=<loopback proxy>',
    'http_proxy=<loopback proxy>',
    'ALL_PROXY=<loopback proxy>',
    'all_proxy=<loopback proxy>',
    'npm_config_https_proxy=<loopback proxy>',
    'npm_config_proxy=<loopback proxy>',
    'NO_PROXY=* with HTTPS_PROXY',
    'NODE_USE_ENV_PROXY=1 with HTTPS_PROXY',
    'all of them at once',
  ];
  for (const label of cases) {
    for (const [clientName, call] of Object.entries(clients)) {
      it(`${label}: the ${clientName} still refuses a certificate from another CA, and still reaches ours`, async () => {
        const variables = environments()[label];
        expect(variables, label).toBeDefined();
        setEnvironment(variables!);
        impostor.seen.credentials.length = 0;
        proxy.connects.length = 0;
        const profile = `env-${cases.indexOf(label)}-${Object.keys(clients).indexOf(clientName)}`;

        await expect(call(impostor, `${profile}-impostor`)).rejects.toThrow(/certificate|CA|verify|signed|self.signed/i);
        expect(impostor.seen.credentials, 'a credential reached the impostor').toEqual([]);
        await expect(call(trusted, `${profile}-trusted`)).resolves.toBeDefined();
        if (DIRECT_ONLY.includes(clientName)) expect(proxy.connects, 'the proxy was used').toEqual([]);
      });
    }
  }
});

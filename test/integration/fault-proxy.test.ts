// The lab's fault proxy in front of a real kube-apiserver (test/lab/kube/fault-proxy.ts, its
// switch test/lab/kube/faults.ts) and what the product's cluster client makes of the faults: every
// request answering 500 (a Status with reason InternalError,
// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/) or held past the
// client's per-request timeout, for a while; then the API is served normally again. Without a
// fault the proxy passes the client's identity on (front-proxy authentication).
import { rename, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { userErrorOf } from '../support/user-error.js';
import { ClusterSchema } from '../../source/profile/schema.js';
import { openCluster, REQUEST_TIMEOUT_MS } from '../../source/services/cluster.js';
import { pickFreePorts } from '../lab/host/ports.js';
import { startFaultProxy, type FaultProxy } from '../lab/kube/fault-proxy.js';
import { FAULTS_FILE_NAME, parseFaultSetting, type FaultSetting } from '../lab/kube/faults.js';
import { adminKubeconfigYaml } from '../lab/kube/kubeconfig.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let cluster: TestCluster;
let proxy: FaultProxy;
/** What the product's clients are given: the proxy's address, the real cluster's CA and admin. */
const api = { url: '', caPem: '', faultsFile: '', kubeconfigPath: '' };
const serverLog: string[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  const [port] = (await pickFreePorts(1, new Set([cluster.port]))) as [number];
  api.faultsFile = join(cluster.dir, FAULTS_FILE_NAME);
  proxy = await startFaultProxy({
    addresses: ['127.0.0.1'],
    port,
    upstream: { host: '127.0.0.1', port: cluster.port },
    caPem: cluster.caPem,
    serving: { certPem: cluster.pki.serverCertPem, keyPem: cluster.pki.serverKeyPem },
    frontProxy: { certPem: cluster.pki.frontProxyClientCertPem, keyPem: cluster.pki.frontProxyClientKeyPem },
    faultsFile: api.faultsFile,
    log: (line) => void serverLog.push(line),
  });
  api.url = proxy.urlFor('127.0.0.1');
  api.caPem = cluster.caPem;
  api.kubeconfigPath = join(cluster.dir, 'kubeconfig-faults.yaml');
  await writeFile(api.kubeconfigPath, adminKubeconfigYaml({ server: api.url, caPem: cluster.caPem, admin: { certPem: cluster.pki.adminCertPem, keyPem: cluster.pki.adminKeyPem }, viewerToken: cluster.viewerToken }), { mode: 0o600 });
}, 180_000);

afterEach(async () => {
  await rm(api.faultsFile, { force: true });
});

afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
}, 60_000);

/** Written whole then renamed, as a test flipping the switch of a running lab should. */
async function flip(setting: FaultSetting | string): Promise<void> {
  await writeFile(`${api.faultsFile}.tmp`, typeof setting === 'string' ? setting : JSON.stringify(setting));
  await rename(`${api.faultsFile}.tmp`, api.faultsFile);
}

const settings = () => ClusterSchema.parse({ kubeconfig: api.kubeconfigPath });
const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace', name: 'default' };


/**
 * GET /version without credentials: the switch answers before authentication, as a failing
 * apiserver does; without a fault the real API refuses anonymous requests (401, as K3s does).
 */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${api.url}${path}`, { ca: api.caPem }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the fault switch (DIR/faults.json)', () => {
  it('status 500: every request answers a v1 Status, reason InternalError; after untilMs the API serves again', async () => {
    await flip({ status: 500, untilMs: Date.now() + 1500 });
    const answer = await rawGet('/version');
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500 });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect((await rawGet('/version')).status).toBe(401);
    expect(serverLog.some((line) => /GET \/version -> 500 InternalError \(fault injected\)/.test(line))).toBe(true);
  });

  it('passRequests lets that many requests through first; 503 is ServiceUnavailable', async () => {
    await flip({ status: 503, untilMs: Date.now() + 10_000, passRequests: 2 });
    const codes = [];
    for (let index = 0; index < 4; index++) codes.push((await rawGet('/version')).status);
    expect(codes).toEqual([401, 401, 503, 503]);
  });

  it('a malformed or unknown setting is ignored (and logged), never half applied', async () => {
    for (const text of ['{"status": 500', '{"status": 500}', '{"status": 200, "untilMs": 9999999999999}', '{"untilMs": 9999999999999}', '{"status": 500, "untilMs": 9999999999999, "paths": "x"}']) {
      expect(parseFaultSetting(text)).toHaveProperty('problem');
      await flip(text);
      expect((await rawGet('/version')).status, text).toBe(401);
    }
    expect(serverLog.some((line) => line.includes('faults.json ignored: untilMs (epoch milliseconds) is required'))).toBe(true);
  });
});

describe('the proxy without a fault', () => {
  it('passes the identity on: the admin certificate is system:masters, the viewer token only views', async () => {
    const admin = await openCluster(settings());
    await admin.requireAccess([{ verb: 'create', resource: 'secrets', group: '' }]);
    const review = (await cluster.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'through-proxy' } })) as { metadata?: { name?: string } };
    expect(review.metadata?.name).toBe('through-proxy');
    const viewer = await openCluster(ClusterSchema.parse({ kubeconfig: api.kubeconfigPath, context: 'lab-viewer' }));
    const refused = await userErrorOf(viewer.requireAccess([{ verb: 'create', resource: 'secrets', group: '' }]));
    expect(refused).toBeInstanceOf(UserError);
    expect(await viewer.exists(NAMESPACE)).toBe(true);
  });

  it('drops X-Remote-User a client sends: nobody becomes someone else through it', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest(`${api.url}/api/v1/namespaces`, { ca: api.caPem, headers: { 'X-Remote-User': 'kubernetes-admin', 'X-Remote-Group': 'system:masters' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end();
    });
    expect(answer).toBe(401);
  });
});

describe("the product's cluster client under the faults", () => {
  it('a 500 names the API, the call and the Status message, with a hint to check the API and run again', async () => {
    const cluster = await openCluster(settings());
    await flip({ status: 500, untilMs: Date.now() + 60_000 });
    const error = await userErrorOf(cluster.get(NAMESPACE));
    expect(error.message).toBe(`the Kubernetes API at ${api.url} answered 500 while reading Namespace default: Internal error occurred: fault injected by the lab (faults.json)`);
    expect(error.hint).toMatch(/readyz.*run the same command again/);
    const applying = await userErrorOf(cluster.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } }]));
    expect(applying.message).toMatch(/answered 500 while applying ConfigMap default\/x/);
    const access = await userErrorOf(cluster.requireAccess([{ verb: 'get', resource: 'namespaces', group: '' }]));
    expect(access.message).toMatch(/answered 500 while asking the API what this user may do/);
  });

  it(`a request held past the timeout fails with "did not answer within N s" (default ${REQUEST_TIMEOUT_MS / 1000} s) and the held request is dropped`, async () => {
    const cluster = await openCluster(settings(), { requestTimeoutMs: 1000 });
    await flip({ delayMs: 10_000, untilMs: Date.now() + 60_000 });
    for (const [call, doing] of [
      [() => cluster.get(NAMESPACE), 'reading Namespace default'],
      [() => cluster.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: 'default' } }]), 'applying ConfigMap default/held'],
      [() => cluster.requireAccess([{ verb: 'get', resource: 'namespaces', group: '' }]), 'asking the API what this user may do'],
    ] as const) {
      const started = Date.now();
      const error = await userErrorOf(call());
      expect(error.message).toBe(`the Kubernetes API at ${api.url} did not answer within 1 s while ${doing}`);
      expect(error.hint).toMatch(/sent no answer/);
      expect(Date.now() - started).toBeLessThan(5000);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(serverLog.filter((line) => /dropped: the client closed the connection while held/.test(line)).length).toBeGreaterThanOrEqual(3);
    // Dropped, never handled: the ConfigMap sent during the hold was not created.
    await rm(api.faultsFile, { force: true });
    expect(await cluster.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'held', namespace: 'default' })).toBeUndefined();
  });

  it('a hold shorter than the timeout only slows the request down', async () => {
    const cluster = await openCluster(settings(), { requestTimeoutMs: 5000 });
    await flip({ delayMs: 300, untilMs: Date.now() + 60_000 });
    const started = Date.now();
    expect(await cluster.exists(NAMESPACE)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});

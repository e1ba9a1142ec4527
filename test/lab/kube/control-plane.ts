/**
 * A real Kubernetes control plane on this machine, set up like a K3s server: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler built from their own Go modules (programs.ts), and
 * kwok for Nodes and pod status. Started as child processes of the caller; `close()` stops them.
 *
 * Settings follow K3s where they are visible to a client (pkg/daemons/control/server.go):
 * RBAC and Node authorization, service account issuer https://kubernetes.default.svc.cluster.local
 * with API audiences "https://kubernetes.default.svc.cluster.local,k3s", service range
 * 10.43.0.0/16, the tokens controller filling service-account-token Secrets, the garbage collector
 * and the namespace controller. kube-apiserver listens on 127.0.0.1 (as K3s's kubeconfig names it);
 * each further loopback address (the one the Vault host uses) gets a plain TCP forwarder, so TLS
 * and HTTP/2 stay end to end, like a load balancer in front of a K3s server.
 *
 * Pods get IPs from the cluster's pod range, which is made local on the loopback interface (`ip
 * route add local … dev lo`), so a process on this machine can serve a pod's IP and kube-apiserver
 * reaches a webhook through the Service's EndpointSlice (--enable-aggregator-routing): traffic to
 * those addresses never leaves the machine. Endpoint validation refuses 127.0.0.0/8, hence a range
 * of its own (198.18.0.0/15 is reserved for benchmarking and never routed, RFC 2544): pods in
 * 198.18.<n>.0/24, the Node at 198.19.<n>.1, n chosen per cluster so that several labs side by side
 * never share a pod address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pickFreePorts } from '../host/ports.js';
import { run } from '../host/process.js';
import { adminKubeconfigYaml, componentKubeconfigYaml, VIEWER_USER } from './kubeconfig.js';
import { ensureClusterPki, type ClusterPki } from './pki.js';
import { forwardTcp } from './tcp-forward.js';
import { KUBE_VERSIONS } from './versions.js';

export const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** K3s's --api-audiences. */
export const CLUSTER_API_AUDIENCES = [CLUSTER_ISSUER, 'k3s'];
export const SERVICE_CIDR = '10.43.0.0/16';

export interface PodNetwork {
  /** kwok's --cidr: where pod IPs come from. */
  podCidr: string;
  /** The address the Nodes report (kwok's --node-ip) and kube-apiserver advertises. */
  nodeIp: string;
}

/** The pod range of cluster `index` (1–254; derived from its API port so instances differ). */
export function podNetworkOf(port: number): PodNetwork {
  const index = (port % 254) + 1;
  return { podCidr: `198.18.${index}.0/24`, nodeIp: `198.19.${index}.1` };
}
const READY_TIMEOUT_MS = 120_000;

export interface ControlPlaneBinaries {
  kube: string;
  etcd: string;
  kwok?: string;
  /** kwok's Stage files (programs.ts KWOK_STAGE_FILES in its cache entry). */
  kwokStages?: string[];
}

export interface ControlPlaneOptions {
  dir: string;
  binaries: ControlPlaneBinaries;
  /** kube-apiserver's port on every address; 0 picks a free one. */
  port?: number;
  /** The first is kube-apiserver's bind address (the kubeconfig's); the rest get forwarders. */
  addresses?: string[];
  extraSans?: string[];
  /** Nodes kwok manages (none without kwok). Each is arm64 Linux, like a Raspberry Pi 4/5 running K3s. */
  nodes?: string[];
  /** Make POD_CIDR local on lo (needs root); pods then have addresses processes can serve. */
  podNetwork?: boolean;
  log?: (line: string) => void;
}

export interface ControlPlane {
  url: string;
  port: number;
  addresses: string[];
  urlFor(address: string): string;
  caPem: string;
  caFile: string;
  pki: ClusterPki;
  kubeconfigPath: string;
  viewerToken: string;
  version: string;
  pids: Record<string, number>;
  close(): Promise<void>;
}

interface Component {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

function start(name: string, program: string, args: string[], logDir: string): Component {
  const out = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited };
}

async function stopComponent(component: Component, graceMs = 5_000): Promise<void> {
  if (component.child.exitCode !== null || component.child.signalCode !== null) return;
  component.child.kill('SIGTERM');
  const done = await Promise.race([component.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    component.child.kill('SIGKILL');
    await component.exited;
  }
}

async function tail(logDir: string, name: string): Promise<string> {
  const text = await readFile(join(logDir, `${name}.log`), 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-15).join('\n');
}

/** GET `path` with the admin certificate; the status code, or undefined when nothing answered. */
function adminGet(url: string, pki: ClusterPki, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { ca: pki.caPem, cert: pki.adminCertPem, key: pki.adminKeyPem, rejectUnauthorized: true, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function waitFor(what: string, component: Component, logDir: string, check: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (component.child.exitCode !== null) throw new Error(`${component.name} exited with ${component.child.exitCode} before ${what}:\n${await tail(logDir, component.name)}`);
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000}s (log ${join(logDir, `${component.name}.log`)}):\n${await tail(logDir, component.name)}`);
}

async function ensurePodNetwork(cidr: string, log: (line: string) => void): Promise<void> {
  try {
    await run('ip', ['route', 'add', 'local', cidr, 'dev', 'lo']);
    log(`pod network ${cidr} made local on lo`);
  } catch (error) {
    if (!/File exists/.test((error as Error).message)) throw error;
  }
}

async function staticToken(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('hex');
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    return token;
  }
}

function nodeManifest(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // kwok manages the Nodes carrying this annotation (--manage-nodes-with-annotation-selector).
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/arch': 'arm64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': name,
        'beta.kubernetes.io/arch': 'arm64',
        'beta.kubernetes.io/os': 'linux',
        'node-role.kubernetes.io/control-plane': 'true',
        'node-role.kubernetes.io/master': 'true',
        'node.kubernetes.io/instance-type': 'k3s',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '60Gi' },
      capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '60Gi' },
      nodeInfo: {
        architecture: 'arm64',
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: '6.6.51+rpt-rpi-2712',
        kubeletVersion: `v${KUBE_VERSIONS.kubernetes}+k3s1`,
        kubeProxyVersion: `v${KUBE_VERSIONS.kubernetes}+k3s1`,
        containerRuntimeVersion: 'containerd://2.0.5-k3s1',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  };
}

function isConflict(error: unknown): boolean {
  return (error as { code?: number }).code === 409;
}

/**
 * What a K3s server has before anyone uses it: the Nodes (registered with their status, as a
 * kubelet registers itself), the lab-viewer binding, and the `default` ServiceAccount the
 * controller manager creates in every namespace.
 */
async function bootstrap(kubeconfigPath: string, nodes: string[]): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const objects = KubernetesObjectApi.makeApiClient(config);
  const create = async (object: KubernetesObject): Promise<void> => {
    await objects.create(object).catch((error: unknown) => {
      if (!isConflict(error)) throw error;
    });
  };
  await create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: VIEWER_USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VIEWER_USER }],
  } as KubernetesObject);
  for (const name of nodes) await create(nodeManifest(name) as KubernetesObject);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await objects.read({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the controller manager did not create the default ServiceAccount within ${READY_TIMEOUT_MS / 1000}s: ${(error as Error).message}`);
      await sleep(200);
    }
  }
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? (() => undefined);
  const addresses = options.addresses?.length ? options.addresses : ['127.0.0.1'];
  const bindAddress = addresses[0]!;
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const logDir = join(options.dir, 'logs');
  await mkdir(logDir, { recursive: true });
  const pki = await ensureClusterPki(join(options.dir, 'pki'), [...addresses, ...(options.extraSans ?? [])]);
  const viewerToken = await staticToken(join(options.dir, 'viewer.token'));
  // kube-apiserver's static token file: token,user,uid (the lab-viewer context's bearer token).
  const tokenFile = join(options.dir, 'tokens.csv');
  await writeFile(tokenFile, `${viewerToken},${VIEWER_USER},${VIEWER_USER}\n`, { mode: 0o600 });

  const [etcdPort, etcdPeerPort, pickedPort] = await pickFreePorts(3, new Set(options.port ? [options.port] : []));
  const port = options.port || pickedPort!;
  const url = `https://${bindAddress}:${port}`;
  const network = podNetworkOf(port);
  const urlFor = (address: string): string => `https://${address}:${port}`;

  const components: Component[] = [];
  const forwarders: Server[] = [];

  const close = async (): Promise<void> => {
    for (const server of forwarders) server.close();
    // Reverse order: clients before the API server, the API server before etcd.
    for (const component of [...components].reverse()) await stopComponent(component);
    // The range is this cluster's own (derived from its port), also when an earlier process of the
    // same cluster added the route and was killed before removing it.
    if (options.podNetwork) await run('ip', ['route', 'del', 'local', network.podCidr, 'dev', 'lo']).catch(() => undefined);
  };

  try {
    if (options.podNetwork) await ensurePodNetwork(network.podCidr, log);
    const etcd = start('etcd', options.binaries.etcd, [
      '--name=lab',
      `--data-dir=${join(options.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=lab=http://127.0.0.1:${etcdPeerPort}`,
      // A test lab: losing the last writes on a power cut does not matter, fsync's latency does.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], logDir);
    components.push(etcd);

    const apiserver = start('kube-apiserver', options.binaries.kube, [
      'kube-apiserver',
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--bind-address=${bindAddress}`,
      `--secure-port=${port}`,
      `--advertise-address=${network.nodeIp}`,
      `--tls-cert-file=${pki.files.serverCert}`,
      `--tls-private-key-file=${pki.files.serverKey}`,
      `--client-ca-file=${pki.files.ca}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=Node,RBAC',
      // K3s turns anonymous requests off (pkg/daemons/control/server.go): /version without
      // credentials is a 401 there, not kubeadm's 200.
      '--anonymous-auth=false',
      '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--service-account-issuer=${CLUSTER_ISSUER}`,
      `--api-audiences=${CLUSTER_API_AUDIENCES.join(',')}`,
      `--service-account-key-file=${pki.files.serviceAccountPublic}`,
      `--service-account-signing-key-file=${pki.files.serviceAccountKey}`,
      '--allow-privileged=true',
      // Webhooks and aggregated APIs are reached at their endpoints' pod IPs (no kube-proxy here).
      '--enable-aggregator-routing=true',
      // Front-proxy authentication, as K3s configures it (the lab's fault proxy uses it).
      `--requestheader-client-ca-file=${pki.files.frontProxyCa}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.files.frontProxyClientCert}`,
      `--proxy-client-key-file=${pki.files.frontProxyClientKey}`,
      '--profiling=false',
      `--cert-dir=${join(options.dir, 'apiserver-certs')}`,
    ], logDir);
    components.push(apiserver);
    await waitFor('etcd to serve', etcd, logDir, async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${etcdPort}/health`);
        return response.ok;
      } catch {
        return false;
      }
    });
    await waitFor('kube-apiserver to be ready', apiserver, logDir, async () => (await adminGet(url, pki, '/readyz'))?.status === 200);

    for (const address of addresses.slice(1)) forwarders.push(await forwardTcp(address, port, { host: bindAddress, port }));

    const write = async (name: string, text: string): Promise<string> => {
      const path = join(options.dir, name);
      await writeFile(path, text, { mode: 0o600 });
      return path;
    };
    const controllerManagerKubeconfig = await write('kube-controller-manager.kubeconfig', componentKubeconfigYaml({ server: url, caFile: pki.files.ca, user: { certFile: pki.files.controllerManagerCert, keyFile: pki.files.controllerManagerKey } }));
    const schedulerKubeconfig = await write('kube-scheduler.kubeconfig', componentKubeconfigYaml({ server: url, caFile: pki.files.ca, user: { certFile: pki.files.schedulerCert, keyFile: pki.files.schedulerKey } }));
    const kwokKubeconfig = await write('kwok.kubeconfig', componentKubeconfigYaml({ server: url, caFile: pki.files.ca, user: { certFile: pki.files.adminCert, keyFile: pki.files.adminKey } }));
    const kubeconfigPath = await write('kubeconfig.yaml', adminKubeconfigYaml({ server: url, caPem: pki.caPem, admin: { certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }, viewerToken }));

    components.push(
      start('kube-controller-manager', options.binaries.kube, [
        'kube-controller-manager',
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
        `--service-account-private-key-file=${pki.files.serviceAccountKey}`,
        `--root-ca-file=${pki.files.ca}`,
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--controllers=*,tokencleaner',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
      ], logDir),
      start('kube-scheduler', options.binaries.kube, [
        'kube-scheduler',
        `--kubeconfig=${schedulerKubeconfig}`,
        `--authentication-kubeconfig=${schedulerKubeconfig}`,
        `--authorization-kubeconfig=${schedulerKubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
      ], logDir),
    );
    if (options.binaries.kwok && options.nodes?.length) {
      components.push(
        start('kwok', options.binaries.kwok, [
          `--kubeconfig=${kwokKubeconfig}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          `--cidr=${network.podCidr}`,
          `--node-ip=${network.nodeIp}`,
          // Renew each Node's Lease like a kubelet (kwokctl's default): without it the node
          // lifecycle controller finds no heartbeat after 40 s and marks the Node and its pods NotReady.
          '--node-lease-duration-seconds=40',
          ...(options.binaries.kwokStages ?? []).map((file) => `--config=${file}`),
        ], logDir),
      );
    }
    await bootstrap(kubeconfigPath, options.nodes ?? []);
    const version = JSON.parse((await adminGet(url, pki, '/version'))?.body ?? '{}') as { gitVersion?: string };
    const plane: ControlPlane = {
      url,
      port,
      addresses,
      urlFor,
      caPem: pki.caPem,
      caFile: pki.files.ca,
      pki,
      kubeconfigPath,
      viewerToken,
      version: version.gitVersion ?? 'unknown',
      pids: Object.fromEntries(components.map((component) => [component.name, component.child.pid ?? 0])),
      close,
    };
    return plane;
  } catch (error) {
    await close();
    throw error;
  }
}

// The lab's Kubernetes API server: `startK8sSim` runs it in this process (tests, and `serve.ts`
// for the lab), with its own CA and a kubeconfig laid out like K3s's /etc/rancher/k3s/k3s.yaml
// (cluster, user and context all named `default`, admin by client certificate) plus a
// `lab-viewer` context whose bearer token only has the `view` ClusterRole.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Cluster } from './cluster.js';
import { startControllers, type Controllers } from './controllers.js';
import { esoChartManifests, ESO_CHART } from './eso-chart.js';
import { startEsoController, type EsoController, type EsoOptions } from './eso.js';
import { createTokenSigner } from './jwt.js';
import { FAULTS_FILE_NAME, FaultSwitch } from '../kube/faults.js';
import { ensureClusterPki } from '../kube/pki.js';
import { createApiServer } from './server.js';
import { stringifyYaml } from './yaml.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** K3s's --api-audiences: the in-cluster issuer URL and "k3s" */
export const DEFAULT_API_AUDIENCES = ['https://kubernetes.default.svc.cluster.local', 'k3s'];
export const VIEWER_USER = 'lab-viewer';

export interface K8sSimOptions {
  /** state directory: pki/, kubeconfig.yaml, viewer.token; faults.json there turns the fault switch on */
  dir: string;
  /** 0 (default) picks a free port */
  port?: number;
  /** loopback addresses to listen on; the first one goes into the kubeconfig. Default 127.0.0.1 */
  listenAddresses?: string[];
  /** extra names/addresses for the serving certificate */
  extraSans?: string[];
  issuer?: string;
  apiAudiences?: string[];
  deploymentReadyDelayMs?: number;
  eso?: EsoOptions;
  /** install the ESO chart's objects directly, as if ArgoCD had deployed it (no helm) */
  preinstallEso?: boolean;
  log?: (line: string) => void;
}

export interface K8sSim {
  /** https://<first address>:<port> (what the kubeconfig says) */
  url: string;
  port: number;
  addresses: string[];
  urlFor(address: string): string;
  caPem: string;
  caFile: string;
  kubeconfigPath: string;
  /** The fault switch (faults.ts): write a setting here to make the API fail or hang for a while. */
  faultsFile: string;
  /** bearer token of the `lab-viewer` user (context lab-viewer in the kubeconfig) */
  viewerToken: string;
  cluster: Cluster;
  eso: EsoController;
  /** resolves when the built-in controllers have nothing queued */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface KubeconfigInput {
  server: string;
  caPem: string;
  admin: { certPem: string; keyPem: string };
  viewerToken: string;
}

export function kubeconfigYaml(input: KubeconfigInput): string {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } }],
    users: [
      { name: 'default', user: { 'client-certificate-data': b64(input.admin.certPem), 'client-key-data': b64(input.admin.keyPem) } },
      { name: VIEWER_USER, user: { token: input.viewerToken } },
    ],
    contexts: [
      { name: 'default', context: { cluster: 'default', user: 'default' } },
      { name: VIEWER_USER, context: { cluster: 'default', user: VIEWER_USER, namespace: 'default' } },
    ],
    'current-context': 'default',
    preferences: {},
  });
}

/** Applies the ESO chart's objects straight into the cluster and waits for its Deployment to be ready. */
export async function preinstallEso(sim: Pick<K8sSim, 'cluster' | 'settled'>, namespace = 'external-secrets'): Promise<void> {
  const { cluster } = sim;
  if (!cluster.get(cluster.type('', 'namespaces'), undefined, namespace)) cluster.create(cluster.type('', 'namespaces'), undefined, { metadata: { name: namespace } }, { manager: 'argocd-controller' });
  for (const manifest of esoChartManifests({ namespace, release: 'external-secrets', chartVersion: ESO_CHART.latest, installCRDs: true })) {
    const type = cluster.typeForKind(manifest['apiVersion'], manifest['kind']);
    if (!type) throw new Error(`not served: ${manifest['apiVersion']} ${manifest['kind']}`);
    cluster.patch(type, manifest['metadata']['namespace'], manifest['metadata']['name'], 'apply', manifest, { manager: 'argocd-controller', force: true });
  }
  await sim.settled();
}

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startK8sSim(options: K8sSimOptions): Promise<K8sSim> {
  const addresses = options.listenAddresses?.length ? options.listenAddresses : ['127.0.0.1'];
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const pki = await ensureClusterPki(join(options.dir, 'pki'), [...addresses, ...(options.extraSans ?? [])]);
  const tokenFile = join(options.dir, 'viewer.token');
  let viewerToken: string;
  try {
    viewerToken = (await readFile(tokenFile, 'utf8')).trim();
  } catch {
    viewerToken = randomBytes(24).toString('hex');
    await writeFile(tokenFile, `${viewerToken}\n`, { mode: 0o600 });
  }
  const cluster = new Cluster({
    signer: createTokenSigner(pki.serviceAccountKeyPem),
    caPem: pki.caPem,
    issuer: options.issuer ?? DEFAULT_ISSUER,
    apiAudiences: options.apiAudiences ?? DEFAULT_API_AUDIENCES,
    staticTokens: { [viewerToken]: { username: VIEWER_USER, uid: VIEWER_USER, groups: [] } },
  });
  cluster.create(
    cluster.type('rbac.authorization.k8s.io', 'clusterrolebindings'),
    undefined,
    {
      metadata: { name: VIEWER_USER },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VIEWER_USER }],
    },
    { manager: 'lab' },
  );
  const controllers: Controllers = startControllers(cluster, { ...(options.deploymentReadyDelayMs !== undefined ? { deploymentReadyDelayMs: options.deploymentReadyDelayMs } : {}), ...(options.log ? { log: options.log } : {}) });
  const eso = startEsoController(cluster, { ...(options.log ? { log: options.log } : {}), ...options.eso });

  const faultsFile = join(options.dir, FAULTS_FILE_NAME);
  const faults = new FaultSwitch(faultsFile, options.log);
  const servers: Server[] = [];
  let port = options.port ?? 0;
  try {
    for (const address of addresses) {
      const server = createApiServer({
        cluster,
        tls: { caPem: pki.caPem, certPem: pki.serverCertPem, keyPem: pki.serverKeyPem },
        faults,
        ...(options.log ? { log: options.log } : {}),
      });
      port = await listen(server, address, port);
      servers.push(server);
    }
  } catch (error) {
    for (const server of servers) server.close();
    controllers.stop();
    eso.stop();
    throw error;
  }
  const urlFor = (address: string): string => `https://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const url = urlFor(addresses[0]!);
  const kubeconfigPath = join(options.dir, 'kubeconfig.yaml');
  await writeFile(kubeconfigPath, kubeconfigYaml({ server: url, caPem: pki.caPem, admin: { certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }, viewerToken }), { mode: 0o600 });

  const sim: K8sSim = {
    url,
    port,
    addresses,
    urlFor,
    caPem: pki.caPem,
    caFile: pki.files.ca,
    kubeconfigPath,
    faultsFile,
    viewerToken,
    cluster,
    eso,
    settled: async () => {
      // Controllers react to each other's writes: wait until a pass finds nothing queued.
      await new Promise((resolve) => setImmediate(resolve));
      await controllers.idle();
      await new Promise((resolve) => setImmediate(resolve));
      await controllers.idle();
    },
    close: async () => {
      controllers.stop();
      eso.stop();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
  await sim.settled();
  if (options.preinstallEso) await preinstallEso(sim);
  return sim;
}

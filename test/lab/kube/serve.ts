/**
 * Runs the lab's Kubernetes cluster in the foreground until SIGTERM/SIGINT:
 *   tsx test/lab/kube/serve.ts --dir DIR --programs FILE [--port N] [--address A ...] [--san NAME ...] [--node NAME ...]
 * FILE is the JSON `lab up` wrote from the build cache ({kube, etcd, kwok, kwokStages, eso}).
 * Starts the control plane (control-plane.ts) and the pod runner (pod-runner.ts) for the ESO
 * image; once the API is ready writes DIR/cluster.json ({url, port, addresses, pid, kubeconfig,
 * caFile, version, pids}) and prints one "cluster serving on URL" line. Everything it started
 * stops with it.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLUSTER_REPORT_FILE, type ClusterPrograms, type ClusterReport } from './cluster-report.js';
import { startControlPlane } from './control-plane.js';
import { startFaultProxy } from './fault-proxy.js';
import { FAULTS_FILE_NAME } from './faults.js';
import { adminKubeconfigYaml } from './kubeconfig.js';
import { pickFreePorts } from '../host/ports.js';
import { startPodRunner } from './pod-runner.js';
import { esoImage } from './versions.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      programs: { type: 'string' },
      port: { type: 'string' },
      address: { type: 'string', multiple: true },
      san: { type: 'string', multiple: true },
      node: { type: 'string', multiple: true },
    },
  });
  if (!values.dir || !values.programs) throw new Error('usage: serve.ts --dir DIR --programs FILE [--port N] [--address A ...] [--san NAME ...] [--node NAME ...]');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${values.port}`);
  const programs = JSON.parse(await readFile(values.programs, 'utf8')) as ClusterPrograms;
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const plane = await startControlPlane({
    dir: values.dir,
    binaries: { kube: programs.kube, etcd: programs.etcd, kwok: programs.kwok, kwokStages: programs.kwokStages },
    port,
    addresses: values.address ?? ['127.0.0.1'],
    extraSans: values.san ?? [],
    nodes: values.node?.length ? values.node : ['pi-lab'],
    podNetwork: true,
    log,
  });
  const runner = startPodRunner({
    kubeconfigPath: plane.kubeconfigPath,
    apiUrl: plane.url,
    caFile: plane.caFile,
    dir: join(values.dir, 'runner'),
    images: { [esoImage()]: programs.eso },
    log,
  });
  const [proxyPort] = (await pickFreePorts(1, new Set([plane.port]))) as [number];
  const faultsFile = join(values.dir, FAULTS_FILE_NAME);
  const proxy = await startFaultProxy({
    addresses: plane.addresses,
    port: proxyPort,
    upstream: { host: plane.addresses[0]!, port: plane.port },
    caPem: plane.caPem,
    serving: { certPem: plane.pki.serverCertPem, keyPem: plane.pki.serverKeyPem },
    frontProxy: { certPem: plane.pki.frontProxyClientCertPem, keyPem: plane.pki.frontProxyClientKeyPem },
    faultsFile,
    log,
  });
  const proxyKubeconfig = join(values.dir, 'kubeconfig-faults.yaml');
  const viewerToken = plane.viewerToken;
  await writeFile(proxyKubeconfig, adminKubeconfigYaml({ server: proxy.urlFor(plane.addresses[0]!), caPem: plane.caPem, admin: { certPem: plane.pki.adminCertPem, keyPem: plane.pki.adminKeyPem }, viewerToken }), { mode: 0o600 });
  const reportFile = join(values.dir, CLUSTER_REPORT_FILE);
  const report: ClusterReport = {
    url: plane.url,
    port: plane.port,
    addresses: plane.addresses,
    pid: process.pid,
    kubeconfig: plane.kubeconfigPath,
    caFile: plane.caFile,
    version: plane.version,
    pids: plane.pids,
    faultProxy: { url: proxy.urlFor(plane.addresses[0]!), vaultApiAddress: proxy.urlFor(plane.addresses[1] ?? plane.addresses[0]!), kubeconfig: proxyKubeconfig, faultsFile },
  };
  // Written whole then renamed: `lab up` polls for this file and must never read half of it.
  await writeFile(`${reportFile}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  await rename(`${reportFile}.tmp`, reportFile);
  log(`cluster serving on ${plane.url} (${plane.version}; kubeconfig ${plane.kubeconfigPath})`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`cluster: ${signal}, stopping`);
    void proxy
      .close()
      .then(() => runner.stop())
      .then(() => plane.close())
      .then(() => rm(reportFile, { force: true }))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`cluster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

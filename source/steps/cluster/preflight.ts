/**
 * cluster.preflight: before anything is created in the cluster or in Vault — the kubeconfig and its
 * context load, the API answers over verified TLS, this user may do everything the phase does
 * (SelfSubjectAccessReview, one message naming every missing right), and the API address Vault will
 * be configured with is not loopback and answers *from the Vault host* (curl over the transport,
 * verified with the cluster CA sent on stdin). Then what would only fail later, inside ESO: nodes
 * ESO publishes no image for (node-architecture.ts), the Vault host's and the API's clocks further
 * apart than Vault's JWT leeway (clock-skew.ts), and a Vault address ESO's pods cannot resolve or
 * reach (pod-reachability.ts) — the first two refused when nothing could work, each warned otherwise.
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { AccessCheck, ClusterClient } from '../../services/cluster.js';
import { sh } from '../../services/host/shell-quote.js';
import { readFile } from 'node:fs/promises';
import type { V1Node } from '@kubernetes/client-node';
import { apiAddressForVault } from './auth-config.js';
import { compareClocks, judgeClocks } from './clock-skew.js';
import { describeInstallation, inspectEso } from './eso-install.js';
import { architectureOf, describeNodes, judgeArchitectures, summarizeArchitectures, SUPPORTED_LIST } from './node-architecture.js';
import { podReachabilityWarnings } from './pod-reachability.js';
import { readHostClock } from '../host/clock.js';
import { vaultApiAddress } from '../host/layout.js';
import { apiAddress } from '../vault/session.js';
import { ESO, REVIEWER, VERIFY, type ClusterSession } from './session.js';

export const CLUSTER_PREFLIGHT_STEP_ID = 'cluster.preflight';

const CURL_TIMEOUT_SECONDS = 10;

/** Everything the phase's steps do in the cluster (helm's own needs are checked by helm). */
export function phaseAccess(esoNamespace: string): AccessCheck[] {
  const verbs = ['get', 'create', 'patch'];
  return [
    ...verbs.flatMap((verb): AccessCheck[] => [
      { verb, resource: 'namespaces', group: '' },
      { verb, resource: 'serviceaccounts', group: '', namespace: REVIEWER.namespace },
      { verb, resource: 'secrets', group: '', namespace: REVIEWER.namespace },
      { verb, resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
      { verb, resource: 'clustersecretstores', group: ESO.group },
      { verb, resource: 'externalsecrets', group: ESO.group, namespace: VERIFY.namespace },
    ]),
    { verb: 'get', resource: 'customresourcedefinitions', group: 'apiextensions.k8s.io' },
    { verb: 'list', resource: 'deployments', group: 'apps', namespace: esoNamespace },
    { verb: 'get', resource: 'secrets', group: '', namespace: VERIFY.namespace },
    { verb: 'delete', resource: 'externalsecrets', group: ESO.group, namespace: VERIFY.namespace },
    { verb: 'delete', resource: 'namespaces', group: '' },
  ];
}

/** The address and CA Vault's kubernetes auth method is configured with. */
export interface VaultSideApi {
  host: string;
  caPem: string;
}

export function vaultSideApi(ctx: StepContext, cluster: ClusterClient): VaultSideApi {
  const host = apiAddressForVault(ctx.profile.cluster.apiAddressForVault, cluster.server);
  if (!cluster.caPem) {
    throw new UserError(`the cluster "${cluster.context}" in ${cluster.kubeconfigPath} names no certificate authority`, {
      hint: 'Vault needs the cluster CA to verify the API (kubernetes_ca_cert): use a kubeconfig with certificate-authority-data, like the one K3s writes.',
    });
  }
  return { host, caPem: cluster.caPem };
}

/** What curl's exit code means for "Vault's host reaches the Kubernetes API", in words the user can act on. */
export function describeCurlFailure(code: number, address: string, stderr: string): UserError {
  const detail = stderr.trim().split('\n').at(-1) ?? '';
  const certificate = [35, 51, 58, 60, 77, 83, 90, 91].includes(code);
  const reason =
    code === 6 ? 'its name does not resolve there'
    : code === 7 ? 'the connection is refused or the network unreachable'
    : code === 28 ? `no answer within ${CURL_TIMEOUT_SECONDS} s`
    : certificate ? 'the certificate it presents is not verified by the kubeconfig\'s cluster CA, or does not name that address'
    : `curl failed with exit ${code}`;
  return new UserError(`the Vault host cannot reach the Kubernetes API at ${address}: ${reason}${detail ? ` (${detail})` : ''}`, {
    hint: certificate
      ? 'Use an address the API server certificate names (K3s: add it with --tls-san on the server and restart k3s), then profile set cluster.apiAddressForVault=URL.'
      : 'Set an address of the API that the Vault host can reach (an API VIP or a server node IP, e.g. https://192.168.1.10:6443): profile set cluster.apiAddressForVault=URL',
  });
}

/**
 * GET <address>/version from the Vault host with curl, the CA on stdin. Any HTTP answer (401 from an
 * API without anonymous access included) proves the address, route and certificate are right.
 */
export async function probeFromVaultHost(ctx: StepContext, api: VaultSideApi): Promise<number> {
  const transport = await ctx.services.host();
  const result = await transport.exec(
    sh`curl --silent --show-error --max-time ${String(CURL_TIMEOUT_SECONDS)} --cacert /dev/stdin --output /dev/null --write-out '%{http_code}' ${`${api.host}/version`}`,
    { stdin: api.caPem, signal: ctx.signal },
  );
  if (result.code !== 0) throw describeCurlFailure(result.code, api.host, result.stderr);
  return Number(result.stdout.trim());
}

/**
 * Every node's architecture against ESO's images: none can run them → refused (unless ESO already
 * runs, installed by someone with an image of their own: then helm is never called); some cannot →
 * a warning naming them. Nodes that cannot be listed (no right to) are a warning, not a failure.
 */
async function checkArchitectures(ctx: StepContext, cluster: ClusterClient): Promise<string> {
  let nodes;
  try {
    nodes = (await cluster.list<V1Node>('v1', 'Node')).map(architectureOf);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    ctx.log.warn(`the nodes' architectures could not be read, so whether ESO has images for them is not known: ${error.message}`);
    return 'nodes not read';
  }
  const verdict = judgeArchitectures(nodes);
  if (verdict.kind === 'all') return summarizeArchitectures(nodes);
  const namespace = ctx.profile.cluster.esoNamespace;
  if (verdict.kind === 'some') {
    ctx.log.warn(
      `External Secrets Operator publishes no image for ${describeNodes(verdict.unsupported)} (only ${SUPPORTED_LIST}): a pod of it scheduled there stays ImagePullBackOff. Keep ESO off them (kubectl taint, or after the install helm upgrade … --set nodeSelector."kubernetes\\.io/arch"=arm64)`,
    );
    return summarizeArchitectures(nodes);
  }
  if (describeInstallation(await inspectEso(cluster, namespace), namespace).done) {
    ctx.log.warn(`no node is one ESO publishes images for (${describeNodes(nodes)}; ESO: ${SUPPORTED_LIST}), but ESO already runs in namespace ${namespace}: its image is someone's own build, used as it is`);
    return summarizeArchitectures(nodes);
  }
  throw new UserError(
    nodes.length === 0
      ? 'the cluster has no nodes, so External Secrets Operator could never run'
      : `External Secrets Operator publishes images for ${SUPPORTED_LIST} only, and no node of this cluster is one of them: ${describeNodes(nodes)}. Its pods would never start (ImagePullBackOff: no matching manifest) and the install would time out`,
    {
      hint:
        nodes.length === 0
          ? 'Join a node (K3s: the agent install) and run the step again.'
          : 'Add a 64-bit node (Raspberry Pi OS 64-bit on a Pi 3/4/5 reports arm64), or install ESO yourself with an image built for this architecture (helm … --set image.repository=…, and the same for webhook and certController); once it is ready this step finds it and does not install it.',
    },
  );
}

/** The Vault host's clock against the API's (refused beyond Vault's JWT leeway) and this machine's. */
async function checkClocks(ctx: StepContext, cluster: ClusterClient, serverName: string): Promise<string> {
  const [host, api] = [await readHostClock(ctx), await cluster.readClock()];
  const verdict = judgeClocks(compareClocks(host, api), serverName);
  if (verdict.kind === 'refuse') throw new UserError(verdict.message, { hint: verdict.hint });
  if (verdict.kind === 'warn') for (const warning of verdict.warnings) ctx.log.warn(warning);
  return verdict.detail;
}

/** The address ESO will be given, with what is known to keep pods from reaching it (warnings). */
async function checkVaultAddressForPods(ctx: StepContext): Promise<string> {
  const address = apiAddress(ctx);
  const etcHosts = await readFile('/etc/hosts', 'utf8').catch(() => undefined);
  for (const warning of podReachabilityWarnings({ address, ...(etcHosts === undefined ? {} : { etcHosts }) })) ctx.log.warn(warning);
  return `ESO will reach it at ${address}`;
}

export function clusterPreflightStep(session: ClusterSession, server: ServerFlavor = VAULT): Step {
  return {
    id: CLUSTER_PREFLIGHT_STEP_ID,
    phase: 'cluster',
    title: `Check the cluster (kubeconfig, rights, API address for ${server.name})`,
    describe(ctx): Planned[] {
      return [
        { kind: 'api', summary: `SelfSubjectAccessReviews for the objects this phase creates (namespaces, RBAC, ${ESO.group})` },
        { kind: 'command', summary: `on the Vault host: curl --cacert (cluster CA on stdin) ${ctx.profile.cluster.apiAddressForVault ?? '<the kubeconfig server>'}/version` },
        { kind: 'api', summary: `list Nodes: each one's architecture against ESO's images (${SUPPORTED_LIST})` },
        { kind: 'command', summary: `on the Vault host: date +%s, against the API's Date header and this machine's clock (refused beyond Vault's 150 s JWT leeway)` },
        { kind: 'local', summary: `the ${server.name} address ESO will use, ${vaultApiAddress(ctx.profile) ?? '<vault.nodeIp>'}, against what pods resolve and reach (.local, loopback, /etc/hosts names)` },
      ];
    },
    async check(ctx): Promise<Check> {
      const cluster = await session.cluster(ctx);
      await cluster.requireAccess(phaseAccess(ctx.profile.cluster.esoNamespace));
      const api = vaultSideApi(ctx, cluster);
      const status = await probeFromVaultHost(ctx, api);
      const nodes = await checkArchitectures(ctx, cluster);
      const clocks = await checkClocks(ctx, cluster, server.name);
      const forPods = await checkVaultAddressForPods(ctx);
      return { state: 'done', detail: `context ${cluster.context} at ${cluster.server}; the Vault host reaches ${api.host} (HTTP ${status}, certificate verified); ${nodes}; ${clocks}; ${forPods}` };
    },
    // The check either passes or says what to fix: there is nothing to apply.
    async apply() {},
  };
}

/**
 * cluster.eso-install: External Secrets Operator in the cluster. Done when its CRDs are served and its
 * controller Deployment is ready, and its webhook's and cert-controller's where the chart has them —
 * however it got there (ArgoCD, Flux, a helm install by hand): then
 * helm is never called. Otherwise the user's helm installs the chart (repo add, repo update,
 * `upgrade --install` with the CRDs and --wait), its output streamed to the log. A release a stopped
 * helm left pending is found first and settled only when the user says so (helm-pending.ts).
 * https://external-secrets.io/latest/introduction/getting-started/
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubernetesObject, V1CustomResourceDefinition, V1Deployment } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { esoChartVersionOf } from '../../profile/schema.js';
import type { ClusterClient } from '../../services/cluster.js';
import { Helm } from '../../services/helm.js';
import type { ReleaseRef } from '../../services/helm-release.js';
import { explainUpgradeFailure, settlePendingRelease } from './helm-pending.js';
import { pollUntil } from './poll.js';
import { ESO, type ClusterSession } from './session.js';

export const ESO_INSTALL_STEP_ID = 'cluster.eso-install';

/** The CRDs the phase uses; the chart installs more. */
const REQUIRED_CRDS = ['clustersecretstores', 'externalsecrets'] as const;
/** API versions of external-secrets.io this product writes, newest first (v1 since ESO 0.16, which serves v1beta1 beside it). */
export const SUPPORTED_ESO_VERSIONS = ['v1', 'v1beta1'] as const;
const HELM_WAIT_SECONDS = 600;
const POLL_MS = 1000;

export interface EsoInstallation {
  /** Served API version of external-secrets.io both CRDs share, newest supported first; undefined when none. */
  version: (typeof SUPPORTED_ESO_VERSIONS)[number] | undefined;
  missingCrds: string[];
  /** Controller Deployments (label app.kubernetes.io/name=external-secrets) in the ESO namespace. */
  controllers: V1Deployment[];
  /** The webhook's and the cert-controller's Deployments there (none when the chart disabled them). */
  components: EsoComponent[];
}

export interface EsoComponent {
  role: 'webhook' | 'cert-controller';
  deployment: V1Deployment;
}

const COMPONENT_LABELS = [
  { role: 'webhook', label: ESO.webhookLabel },
  { role: 'cert-controller', label: ESO.certControllerLabel },
] as const;

/** The chart names its Deployments apart by this label (ESO's `key=value` labels all use it). */
const NAME_LABEL = 'app.kubernetes.io/name';

function nameIn(label: string): string {
  return label.slice(`${NAME_LABEL}=`.length);
}

function servedVersions(crd: V1CustomResourceDefinition | undefined): string[] {
  return (crd?.spec.versions ?? []).filter((version) => version.served).map((version) => version.name);
}

export async function inspectEso(cluster: ClusterClient, namespace: string): Promise<EsoInstallation> {
  const crds = await Promise.all(
    REQUIRED_CRDS.map((plural) => cluster.get<V1CustomResourceDefinition>({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: `${plural}.${ESO.group}` })),
  );
  const missingCrds = REQUIRED_CRDS.filter((_, index) => !crds[index]).map((plural) => `${plural}.${ESO.group}`);
  const served = crds.map(servedVersions);
  const version = SUPPORTED_ESO_VERSIONS.find((candidate) => served.every((versions) => versions.includes(candidate)));
  // One LIST for the controller, the webhook and the cert-controller, told apart by their name label.
  const names = [ESO.controllerLabel, ...COMPONENT_LABELS.map(({ label }) => label)].map(nameIn);
  const deployments = await cluster.list<V1Deployment>('apps/v1', 'Deployment', { namespace, labelSelector: `${NAME_LABEL} in (${names.join(',')})` });
  const named = (label: string): V1Deployment[] => deployments.filter((deployment) => deployment.metadata?.labels?.[NAME_LABEL] === nameIn(label));
  return {
    version,
    missingCrds,
    controllers: named(ESO.controllerLabel),
    components: COMPONENT_LABELS.flatMap(({ role, label }) => named(label).map((deployment) => ({ role, deployment }))),
  };
}

/** The profile's chart repository, else ESO's own. */
export function chartRepositoryOf(cluster: { esoChartRepository?: string | undefined }): string {
  return cluster.esoChartRepository ?? ESO.repoUrl;
}

function readyOf(deployment: V1Deployment): string {
  return `${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas ?? 1}`;
}

export function isDeploymentReady(deployment: V1Deployment): boolean {
  const wanted = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  return (status.readyReplicas ?? 0) >= wanted && (status.updatedReplicas ?? 0) >= wanted && (status.availableReplicas ?? 0) >= wanted;
}

/** The chart's controller (not its webhook or cert-controller, which carry other name labels). */
export function controllerOf(installation: EsoInstallation): V1Deployment | undefined {
  return installation.controllers[0];
}

export function describeInstallation(installation: EsoInstallation, namespace: string): { done: boolean; detail: string } {
  const controller = controllerOf(installation);
  const problems: string[] = [];
  if (installation.missingCrds.length > 0) problems.push(`CRDs missing: ${installation.missingCrds.join(', ')}`);
  else if (!installation.version) problems.push(`the ${ESO.group} CRDs serve none of ${SUPPORTED_ESO_VERSIONS.join(', ')}`);
  if (!controller) problems.push(`no controller Deployment (${ESO.controllerLabel}) in namespace ${namespace}`);
  else if (!isDeploymentReady(controller)) {
    problems.push(`Deployment ${namespace}/${controller.metadata?.name ?? '?'} not ready (${readyOf(controller)})`);
  }
  // Until the webhook answers (with the cert-controller's certificate) kube-apiserver refuses every
  // store and ExternalSecret: ESO is not ready for the next steps while they are not.
  for (const { role, deployment } of installation.components) {
    if (!isDeploymentReady(deployment)) problems.push(`${role} Deployment ${namespace}/${deployment.metadata?.name ?? '?'} not ready (${readyOf(deployment)})`);
  }
  if (problems.length > 0) return { done: false, detail: problems.join('; ') };
  const ready = [controller!, ...installation.components.map(({ deployment }) => deployment)].map((deployment) => `${namespace}/${deployment.metadata?.name ?? '?'}`);
  return { done: true, detail: `ESO serves ${ESO.group}/${installation.version}; Deployment${ready.length > 1 ? 's' : ''} ${ready.join(', ')} ready` };
}

/**
 * ESO already running in another namespace (installed there by hand or by ArgoCD): a second copy
 * in the profile's namespace would fight over the same CRDs. Say where it is instead.
 */
async function refuseSecondInstall(cluster: ClusterClient, namespace: string): Promise<void> {
  const elsewhere = (await cluster.list<V1Deployment>('apps/v1', 'Deployment', { labelSelector: ESO.controllerLabel })).filter((deployment) => deployment.metadata?.namespace !== namespace);
  const found = elsewhere[0];
  if (!found) return;
  const where = found.metadata?.namespace ?? '?';
  throw new UserError(`External Secrets Operator already runs in namespace ${where} (Deployment ${found.metadata?.name ?? '?'}), not in ${namespace}`, {
    hint: `Use that installation: profile set cluster.esoNamespace=${where}`,
  });
}

/**
 * Who installed ESO when it was not a helm release: undefined for helm's own (helm install and
 * upgrade annotate every object with meta.helm.sh/release-name). ArgoCD renders charts with
 * `helm template` and applies the objects itself, so they carry managed-by=Helm but no release
 * annotation; Flux's helm-controller makes a real release but labels it as its own. Either way
 * helm must not install a second copy over it, nor fight the tool that owns it.
 * https://helm.sh/docs/chart_best_practices/labels/
 */
export function managedElsewhere(object: KubernetesObject | undefined): string | undefined {
  if (!object) return undefined;
  const labels = object.metadata?.labels ?? {};
  if (labels['helm.toolkit.fluxcd.io/name']) return 'Flux';
  const managedBy = labels['app.kubernetes.io/managed-by'];
  if (managedBy !== undefined && managedBy !== 'Helm') return managedBy;
  if (!object.metadata?.annotations?.['meta.helm.sh/release-name']) return 'something other than a helm release (ArgoCD, kubectl)';
  return undefined;
}

export function esoInstallStep(session: ClusterSession): Step {
  function waitForReady(ctx: StepContext, cluster: ClusterClient, timeoutMs: number): Promise<EsoInstallation> {
    const namespace = ctx.profile.cluster.esoNamespace;
    let detail = '';
    return pollUntil(
      ctx,
      { timeoutMs, intervalMs: POLL_MS },
      async () => {
        const installation = await inspectEso(cluster, namespace);
        const state = describeInstallation(installation, namespace);
        detail = state.detail;
        return state.done ? installation : undefined;
      },
      () =>
        new UserError(`External Secrets Operator is not ready after ${Math.round(timeoutMs / 1000)} s: ${detail}`, {
          hint: `Look at its pods: kubectl -n ${namespace} get pods,deployments; kubectl -n ${namespace} describe deployment`,
        }),
    );
  }

  return {
    id: ESO_INSTALL_STEP_ID,
    phase: 'cluster',
    title: 'Install External Secrets Operator (helm, unless already there)',
    describe(ctx): Planned[] {
      const { esoNamespace } = ctx.profile.cluster;
      const esoChartVersion = esoChartVersionOf(ctx.profile.cluster);
      return [
        { kind: 'local', summary: `helm repo add ${ESO.repoName} ${chartRepositoryOf(ctx.profile.cluster)} && helm repo update` },
        { kind: 'local', summary: `helm list --pending --namespace ${esoNamespace} (a release left pending by a stopped helm stops the step; it is rolled back, or uninstalled, only when confirmed or with setup --recover-helm)` },
        { kind: 'local', summary: `helm upgrade --install ${ESO.release} ${ESO.chart} --namespace ${esoNamespace} --create-namespace --version ${esoChartVersion} --set installCRDs=true --wait (skipped when ESO is already installed and ready)` },
      ];
    },
    async check(ctx): Promise<Check> {
      const cluster = await session.cluster(ctx);
      const state = describeInstallation(await inspectEso(cluster, ctx.profile.cluster.esoNamespace), ctx.profile.cluster.esoNamespace);
      return state.done ? { state: 'done', detail: state.detail } : { state: 'todo', detail: state.detail };
    },
    async apply(ctx) {
      const cluster = await session.cluster(ctx);
      const installation = await inspectEso(cluster, ctx.profile.cluster.esoNamespace);
      const controller = controllerOf(installation);
      if (!controller) await refuseSecondInstall(cluster, ctx.profile.cluster.esoNamespace);
      const owner = managedElsewhere(controller);
      if (installation.missingCrds.length === 0 && controller && owner) {
        const waitingFor = ['controller', ...installation.components.map(({ role }) => role)].join(', ');
        ctx.log.info(`ESO is installed by ${owner}, not by helm here: waiting for its ${waitingFor} instead of installing it again`);
        await waitForReady(ctx, cluster, session.controllerWaitMs);
        return;
      }
      // helm reads the kubeconfig itself: one only root may read (K3s's, read here with sudo) is
      // handed to it as a private copy (0600 in a 0700 temp directory), removed right after.
      const privateCopy = cluster.readPrivileged ? await mkdtemp(path.join(tmpdir(), 'picluster-vault-tui-kubeconfig-')) : undefined;
      const kubeconfigPath = privateCopy ? path.join(privateCopy, 'kubeconfig.yaml') : cluster.kubeconfigPath;
      if (privateCopy) await writeFile(kubeconfigPath, cluster.exportKubeconfig(), { mode: 0o600, flag: 'wx' });
      try {
        await installWithHelm(ctx, kubeconfigPath);
      } finally {
        if (privateCopy) await rm(privateCopy, { recursive: true, force: true });
      }
      // --wait covers the Deployments; the CRDs' served versions are read back like check does.
      await waitForReady(ctx, cluster, 30_000);
    },
  };

  async function installWithHelm(ctx: StepContext, kubeconfigPath: string): Promise<void> {
    const cluster = await session.cluster(ctx);
    const { esoNamespace } = ctx.profile.cluster;
    const helm = Helm.locate({
      kubeconfigPath,
      context: cluster.context,
      onLine: (line, stream) => {
        if (line.trim()) ctx.log[stream === 'stderr' ? 'warn' : 'info'](`helm: ${line}`);
      },
      signal: ctx.signal,
      ...(session.helmEnv ? { env: session.helmEnv } : {}),
    });
    ctx.log.info(`installing External Secrets Operator with ${helm.executable} into namespace ${esoNamespace}`);
    const { esoChartRepositoryCaFile } = ctx.profile.cluster;
    await helm.repoAdd(ESO.repoName, chartRepositoryOf(ctx.profile.cluster), esoChartRepositoryCaFile ? { caFile: esoChartRepositoryCaFile } : {});
    await helm.repoUpdate();
    const ref: ReleaseRef = { release: ESO.release, namespace: esoNamespace, context: cluster.context };
    await settlePendingRelease(ctx, helm, ref, { recover: session.recoverHelm, waitSeconds: HELM_WAIT_SECONDS });
    try {
      await helm.upgradeInstall({
        release: ESO.release,
        chart: ESO.chart,
        namespace: esoNamespace,
        version: esoChartVersionOf(ctx.profile.cluster),
        set: { installCRDs: 'true' },
        waitSeconds: HELM_WAIT_SECONDS,
      });
    } catch (failure) {
      await explainUpgradeFailure(ctx, helm, ref, failure);
    }
  }
}

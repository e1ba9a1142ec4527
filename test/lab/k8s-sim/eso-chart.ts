// What the external-secrets Helm chart (https://charts.external-secrets.io, chart
// external-secrets/external-secrets) puts in a cluster, reduced to the objects the lab needs:
// the CRDs (with installCRDs=true; external-secrets.io/v1 served since ESO 0.17), the service
// accounts, RBAC and the three Deployments. https://external-secrets.io/latest/introduction/getting-started/
import type { Obj } from './fields.js';

export const ESO_CHART = {
  repoUrl: 'https://charts.external-secrets.io',
  name: 'external-secrets',
  /** chart versions the lab's offline repository index offers, oldest first; appVersion = v<version> */
  versions: ['0.18.2', '0.19.2', '0.20.4', '1.0.0', '1.1.0'],
  latest: '1.1.0',
  description: 'External secret management for Kubernetes',
} as const;

function crd(plural: string, kind: string, scope: 'Namespaced' | 'Cluster', shortNames: string[], versions: { name: string; served: boolean; storage: boolean }[], labels: Obj): Obj {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.external-secrets.io`, labels: { 'external-secrets.io/component': 'controller', ...labels } },
    spec: {
      group: 'external-secrets.io',
      names: { categories: ['external-secrets'], kind, listKind: `${kind}List`, plural, shortNames, singular: kind.toLowerCase() },
      scope,
      versions: versions.map((version) => ({
        ...version,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        subresources: { status: {} },
        ...(version.name === 'v1' && kind.endsWith('SecretStore')
          ? { additionalPrinterColumns: [{ jsonPath: '.metadata.creationTimestamp', name: 'AGE', type: 'date' }, { jsonPath: '.status.conditions[?(@.type=="Ready")].reason', name: 'Status', type: 'string' }, { jsonPath: '.status.capabilities', name: 'Capabilities', type: 'string' }, { jsonPath: '.status.conditions[?(@.type=="Ready")].status', name: 'Ready', type: 'string' }] }
          : {}),
      })),
    },
  };
}

export interface ChartValues {
  namespace: string;
  release: string;
  chartVersion: string;
  installCRDs: boolean;
}

export function esoChartManifests(values: ChartValues): Obj[] {
  const appVersion = `v${values.chartVersion}`;
  const labels = (component: string): Obj => ({
    'app.kubernetes.io/name': component,
    'app.kubernetes.io/instance': values.release,
    'app.kubernetes.io/version': appVersion,
    'app.kubernetes.io/managed-by': 'Helm',
    'helm.sh/chart': `external-secrets-${values.chartVersion}`,
  });
  const v1 = [
    { name: 'v1', served: true, storage: true },
    { name: 'v1beta1', served: false, storage: false },
  ];
  const alpha = [{ name: 'v1alpha1', served: true, storage: true }];
  const crdLabels = { 'app.kubernetes.io/managed-by': 'Helm' };
  const crds = values.installCRDs
    ? [
        crd('clusterexternalsecrets', 'ClusterExternalSecret', 'Cluster', ['ces'], v1, crdLabels),
        crd('clustersecretstores', 'ClusterSecretStore', 'Cluster', ['css'], v1, crdLabels),
        crd('externalsecrets', 'ExternalSecret', 'Namespaced', ['es'], v1, crdLabels),
        crd('secretstores', 'SecretStore', 'Namespaced', ['ss'], v1, crdLabels),
        crd('pushsecrets', 'PushSecret', 'Namespaced', ['ps'], alpha, crdLabels),
        crd('clusterpushsecrets', 'ClusterPushSecret', 'Cluster', ['cps'], alpha, crdLabels),
      ]
    : [];
  const names = { controller: values.release, webhook: `${values.release}-webhook`, cert: `${values.release}-cert-controller` };
  const serviceAccount = (name: string, component: string): Obj => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: values.namespace, labels: labels(component) } });
  const deployment = (name: string, component: string, args: string[]): Obj => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: values.namespace, labels: labels(component) },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': values.release } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': values.release } },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          containers: [{ name: component, image: `ghcr.io/external-secrets/external-secrets:${appVersion}`, imagePullPolicy: 'IfNotPresent', args, ports: [{ containerPort: 8080, protocol: 'TCP', name: 'metrics' }] }],
        },
      },
    },
  });
  return [
    ...crds,
    serviceAccount(names.controller, 'external-secrets'),
    serviceAccount(names.webhook, 'external-secrets-webhook'),
    serviceAccount(names.cert, 'external-secrets-cert-controller'),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${values.release}-controller`, labels: labels('external-secrets') },
      rules: [
        { apiGroups: ['external-secrets.io'], resources: ['secretstores', 'clustersecretstores', 'externalsecrets', 'clusterexternalsecrets', 'pushsecrets', 'clusterpushsecrets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['external-secrets.io'], resources: ['externalsecrets/status', 'secretstores/status', 'clustersecretstores/status', 'externalsecrets/finalizers'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [''], resources: ['serviceaccounts', 'namespaces'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete', 'patch'] },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${values.release}-controller`, labels: labels('external-secrets') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${values.release}-controller` },
      subjects: [{ kind: 'ServiceAccount', name: names.controller, namespace: values.namespace }],
    },
    deployment(names.controller, 'external-secrets', ['--concurrent=1', '--metrics-addr=:8080', '--loglevel=info', '--zap-time-encoding=epoch']),
    deployment(names.webhook, 'external-secrets-webhook', ['webhook', '--port=10250', '--dns-name=external-secrets-webhook.external-secrets.svc', '--cert-dir=/tmp/certs']),
    deployment(names.cert, 'external-secrets-cert-controller', ['certcontroller', '--crd-requeue-interval=5m', '--service-name=external-secrets-webhook']),
  ];
}

export const ESO_NOTES = (namespace: string, release: string): string => `${release} has been deployed successfully in namespace ${namespace}!

In order to begin using ExternalSecrets, you will need to set up a SecretStore
or ClusterSecretStore resource (for example, by creating a 'vault' SecretStore).

More information on the different types of SecretStores and how to configure them
can be found in our Github: https://github.com/external-secrets/external-secrets
`;

// The controllers of kube-controller-manager this lab needs, reacting to the cluster's events:
// - serviceaccount: a `default` ServiceAccount and the kube-root-ca.crt ConfigMap in every namespace
//   (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#serviceaccount-admission-controller)
// - token: fills Secrets of type kubernetes.io/service-account-token that name an existing
//   ServiceAccount with token, ca.crt and namespace, and deletes them when the account is gone
//   (https://kubernetes.io/docs/concepts/configuration/secret/#serviceaccount-token-secrets,
//    https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#token-controller)
// - namespace: deletes a terminating namespace's contents, then the namespace
// - garbage collector: deletes dependents whose ownerReferences point at a deleted object
//   (https://kubernetes.io/docs/concepts/architecture/garbage-collection/)
// - CRD finalizer: a deleted CRD takes its custom objects with it
// - deployment: reports the rollout finished (status.readyReplicas = replicas) shortly after a change
import type { Cluster, ClusterEvent } from './cluster.js';
import { SA_NAME_ANNOTATION, SA_UID_ANNOTATION, SERVICE_ACCOUNT_TOKEN_TYPE } from './cluster.js';
import type { Obj } from './fields.js';
import { legacyTokenClaims } from './jwt.js';
import { ApiError } from './status.js';

export interface ControllerOptions {
  /** how long a changed Deployment takes to become ready (its pods starting) */
  deploymentReadyDelayMs?: number;
  log?: (line: string) => void;
}

export interface Controllers {
  /** resolves when no controller work is queued */
  idle(): Promise<void>;
  stop(): void;
}

export function startControllers(cluster: Cluster, options: ControllerOptions = {}): Controllers {
  const readyDelay = options.deploymentReadyDelayMs ?? 300;
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;
  let waiters: (() => void)[] = [];
  let stopped = false;

  const t = (group: string, plural: string) => cluster.type(group, plural);
  const ignoreGone = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      // Objects can vanish or change between an event and the reaction to it, as in any controller.
      if (!(error instanceof ApiError) || ![404, 409].includes(error.code)) options.log?.(`controller: ${(error as Error).message}`);
    }
  };
  const later = (delayMs: number, fn: () => void): void => {
    if (stopped) return;
    pending++;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) ignoreGone(fn);
      pending--;
      if (pending === 0) {
        const done = waiters;
        waiters = [];
        for (const resolve of done) resolve();
      }
    }, delayMs);
    timers.add(timer);
  };

  function ensureNamespaceDefaults(namespace: string): void {
    if (!cluster.get(t('', 'serviceaccounts'), namespace, 'default')) {
      ignoreGone(() => cluster.create(t('', 'serviceaccounts'), namespace, { metadata: { name: 'default' } }, { manager: 'kube-controller-manager' }));
    }
    if (!cluster.get(t('', 'configmaps'), namespace, 'kube-root-ca.crt')) {
      ignoreGone(() =>
        cluster.create(
          t('', 'configmaps'),
          namespace,
          { metadata: { name: 'kube-root-ca.crt', annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': cluster.options.caPem } },
          { manager: 'kube-controller-manager' },
        ),
      );
    }
  }

  function syncTokenSecret(secret: Obj): void {
    if (secret['type'] !== SERVICE_ACCOUNT_TOKEN_TYPE || secret['metadata']['deletionTimestamp']) return;
    const namespace = secret['metadata']['namespace'];
    const accountName = secret['metadata']['annotations']?.[SA_NAME_ANNOTATION];
    const account = cluster.get(t('', 'serviceaccounts'), namespace, accountName);
    const wantedUid = secret['metadata']['annotations']?.[SA_UID_ANNOTATION];
    if (!account || (wantedUid && wantedUid !== account['metadata']['uid'])) {
      // The token controller removes token Secrets whose account does not exist (or was recreated).
      cluster.delete(t('', 'secrets'), namespace, secret['metadata']['name']);
      return;
    }
    const data = secret['data'] ?? {};
    const caB64 = Buffer.from(cluster.options.caPem).toString('base64');
    const nsB64 = Buffer.from(namespace).toString('base64');
    let tokenOk = false;
    if (data['token']) {
      const claims = cluster.options.signer.verify(Buffer.from(data['token'], 'base64').toString('utf8'));
      tokenOk = Boolean(claims && claims['kubernetes.io/serviceaccount/service-account.uid'] === account['metadata']['uid'] && claims['kubernetes.io/serviceaccount/secret.name'] === secret['metadata']['name']);
    }
    if (tokenOk && data['ca.crt'] === caB64 && data['namespace'] === nsB64 && wantedUid) return;
    const token = tokenOk
      ? data['token']
      : Buffer.from(cluster.options.signer.sign(legacyTokenClaims({ namespace, name: accountName, uid: account['metadata']['uid'] }, secret['metadata']['name']))).toString('base64');
    cluster.patch(
      t('', 'secrets'),
      namespace,
      secret['metadata']['name'],
      'merge',
      { metadata: { annotations: { [SA_UID_ANNOTATION]: account['metadata']['uid'] } }, data: { token, 'ca.crt': caB64, namespace: nsB64 } },
      { manager: 'kube-controller-manager' },
    );
  }

  function syncDeployment(deployment: Obj): void {
    const generation = deployment['metadata']['generation'];
    const status = deployment['status'] ?? {};
    const replicas = deployment['spec']?.['replicas'] ?? 1;
    if (status['observedGeneration'] === generation && status['readyReplicas'] === (replicas || undefined) && status['replicas'] === (replicas || undefined)) return;
    const namespace = deployment['metadata']['namespace'];
    const name = deployment['metadata']['name'];
    later(readyDelay, () => {
      const current = cluster.get(t('apps', 'deployments'), namespace, name);
      if (!current || current['metadata']['generation'] !== generation) return;
      const at = new Date(cluster.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const counts = replicas > 0 ? { replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas } : {};
      cluster.replace(
        t('apps', 'deployments'),
        namespace,
        name,
        {
          ...current,
          status: {
            observedGeneration: generation,
            ...counts,
            conditions: [
              { type: 'Available', status: 'True', lastUpdateTime: at, lastTransitionTime: at, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
              { type: 'Progressing', status: 'True', lastUpdateTime: at, lastTransitionTime: at, reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-${String(current['metadata']['uid']).slice(0, 10)}" has successfully progressed.` },
            ],
          },
        },
        { manager: 'k3s', subresource: 'status' },
      );
    });
  }

  function finalizeNamespace(namespace: Obj): void {
    const name = namespace['metadata']['name'];
    later(20, () => {
      for (const type of cluster.types()) {
        if (!type.namespaced || type.review) continue;
        for (const object of cluster.list(type, name)) ignoreGone(() => cluster.delete(type, name, object['metadata']['name']));
      }
      cluster.finalize(t('', 'namespaces'), undefined, name);
    });
  }

  function finalizeCrd(crd: Obj): void {
    later(20, () => {
      const spec = crd['spec'];
      const type = cluster.types().find((candidate) => candidate.custom && candidate.group === spec['group'] && candidate.plural === spec['names']['plural']);
      if (type) for (const object of cluster.list(type)) ignoreGone(() => cluster.delete(type, object['metadata']['namespace'], object['metadata']['name']));
      cluster.finalize(t('apiextensions.k8s.io', 'customresourcedefinitions'), undefined, crd['metadata']['name']);
    });
  }

  function collectGarbage(owner: Obj): void {
    const uid = owner['metadata']['uid'];
    later(0, () => {
      for (const type of cluster.types()) {
        if (type.review) continue;
        for (const object of cluster.list(type)) {
          if ((object['metadata']['ownerReferences'] ?? []).some((ref: Obj) => ref['uid'] === uid)) {
            ignoreGone(() => cluster.delete(type, object['metadata']['namespace'], object['metadata']['name']));
          }
        }
      }
    });
  }

  const onEvent = (event: ClusterEvent): void => {
    if (stopped) return;
    const { resource, object, type } = event;
    const id = `${resource.group}/${resource.plural}`;
    if (type === 'DELETED') {
      collectGarbage(object);
      if (id === '/serviceaccounts') {
        later(0, () => {
          for (const secret of cluster.list(t('', 'secrets'), object['metadata']['namespace'])) {
            if (secret['type'] === SERVICE_ACCOUNT_TOKEN_TYPE && secret['metadata']['annotations']?.[SA_NAME_ANNOTATION] === object['metadata']['name']) syncTokenSecret(secret);
          }
        });
      }
      return;
    }
    switch (id) {
      case '/namespaces':
        if (object['metadata']['deletionTimestamp']) finalizeNamespace(object);
        else if (type === 'ADDED') later(0, () => ensureNamespaceDefaults(object['metadata']['name']));
        break;
      case '/secrets':
        if (object['type'] === SERVICE_ACCOUNT_TOKEN_TYPE) later(0, () => {
          const current = cluster.get(t('', 'secrets'), object['metadata']['namespace'], object['metadata']['name']);
          if (current) syncTokenSecret(current);
        });
        break;
      case '/serviceaccounts':
        if (type === 'ADDED') {
          later(0, () => {
            for (const secret of cluster.list(t('', 'secrets'), object['metadata']['namespace'])) {
              if (secret['type'] === SERVICE_ACCOUNT_TOKEN_TYPE && secret['metadata']['annotations']?.[SA_NAME_ANNOTATION] === object['metadata']['name']) syncTokenSecret(secret);
            }
          });
        }
        break;
      case 'apps/deployments':
        syncDeployment(object);
        break;
      case 'apiextensions.k8s.io/customresourcedefinitions':
        if (object['metadata']['deletionTimestamp']) finalizeCrd(object);
        break;
      default:
        break;
    }
  };
  cluster.on('event', onEvent);
  for (const namespace of cluster.list(t('', 'namespaces'))) ensureNamespaceDefaults(namespace['metadata']['name']);

  return {
    idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    stop() {
      stopped = true;
      cluster.off('event', onEvent);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    },
  };
}

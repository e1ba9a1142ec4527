// External Secrets Operator's controllers for the Vault provider, run in-process against the
// simulated cluster. They behave towards Vault as ESO does (https://external-secrets.io/latest/provider/hashicorp-vault/):
// a store is validated by a real Kubernetes-auth login — a TokenRequest for
// spec.provider.vault.auth.kubernetes.serviceAccountRef (with its audiences), then
// PUT <server>/v1/auth/<mountPath>/login over TLS verified with caBundle — followed by a token
// lookup-self; ExternalSecrets read <path>/data/<key> (KV v2) and are written to their target Secret.
// Conditions and reasons follow the API reference (https://external-secrets.io/latest/api/spec/):
// ClusterSecretStore Ready: Valid | InvalidProviderConfig | ValidationFailed;
// ExternalSecret Ready: SecretSynced | SecretSyncedError.
// The controllers only act while the `external-secrets` Deployment is ready, as the real
// operator only runs once its pod does.
import { createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Cluster, ClusterEvent } from './cluster.js';
import type { Obj } from './fields.js';
import type { ResourceType } from './resources.js';
import { ApiError } from './status.js';

export const ESO_GROUP = 'external-secrets.io';
export const ESO_CONTROLLER_LABEL = { key: 'app.kubernetes.io/name', value: 'external-secrets' };
const MANAGER = 'external-secrets';

export interface EsoOptions {
  /** first retry delay after a failed store validation (doubles up to storeRetryMaxMs) */
  storeRetryBaseMs?: number;
  storeRetryMaxMs?: number;
  /** periodic re-validation of healthy stores (ESO's --store-requeue-interval, 5m) */
  storeRequeueMs?: number;
  log?: (line: string) => void;
}

export interface EsoController {
  /** runs every store and ExternalSecret reconcile now and waits for them */
  reconcileAll(): Promise<void>;
  stop(): void;
}

class VaultRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** What Go's net/http and crypto/tls would say, so messages read like ESO's. */
function goNetworkError(method: string, url: string, error: NodeJS.ErrnoException): string {
  const host = new URL(url).host;
  const code = error.code ?? '';
  let detail: string;
  if (['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT'].includes(code)) {
    detail = 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    detail = `tls: failed to verify certificate: x509: certificate is not valid for ${new URL(url).hostname}`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    detail = 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  } else if (code === 'ECONNREFUSED') detail = `dial tcp ${host}: connect: connection refused`;
  else if (code === 'ENOTFOUND') detail = `dial tcp: lookup ${new URL(url).hostname}: no such host`;
  else detail = error.message;
  return `${method === 'PUT' ? 'Put' : method === 'POST' ? 'Post' : 'Get'} "${url}": ${detail}`;
}

function vaultCall(server: string, caPem: string | undefined, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<any> {
  const url = `${server.replace(/\/+$/, '')}/v1/${path}`;
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (options.token) headers['X-Vault-Token'] = options.token;
  if (payload) headers['Content-Length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const onResponse = (response: import('node:http').IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        let json: any;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        if (status >= 400) {
          // Vault's Go client: "Error making API request.\n\nURL: PUT ...\nCode: 403. Errors:\n\n* ..."
          const errors: string[] = Array.isArray(json?.errors) ? json.errors : [];
          const body = errors.length ? ` Errors:\n\n${errors.map((e) => `* ${e}`).join('\n')}` : text ? ` Raw Message:\n\n${text}` : '';
          reject(new VaultRequestError(`Error making API request.\n\nURL: ${method} ${url}\nCode: ${status}.${body}`, status));
          return;
        }
        resolve(json);
      });
      response.on('error', reject);
    };
    const target = new URL(url);
    const outgoing =
      target.protocol === 'https:'
        ? httpsRequest(target, { method, headers, timeout: 10_000, ...(caPem ? { ca: caPem } : {}) }, onResponse)
        : httpRequest(target, { method, headers, timeout: 10_000 }, onResponse);
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    outgoing.on('error', (error: NodeJS.ErrnoException) => reject(new VaultRequestError(goNetworkError(method, url, error), 0)));
    outgoing.end(payload);
  });
}

/** Go duration strings as ESO's refreshInterval uses them ("1h", "15s", "1m30s", "0"). */
export function parseGoDuration(text: string): number {
  if (text === '0' || text === '') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let consumed = 0;
  for (let match = re.exec(text); match; match = re.exec(text)) {
    total += Number(match[1]) * units[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed !== text.length) throw new Error(`time: invalid duration "${text}"`);
  return total;
}

interface StoreClient {
  server: string;
  caPem: string | undefined;
  path: string | undefined;
  token: string;
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export function startEsoController(cluster: Cluster, options: EsoOptions = {}): EsoController {
  const retryBase = options.storeRetryBaseMs ?? 1000;
  const retryMax = options.storeRetryMaxMs ?? 60_000;
  const requeue = options.storeRequeueMs ?? 300_000;
  const timers = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, number>();
  const observed = new Map<string, string>();
  const running = new Set<Promise<void>>();
  let stopped = false;
  // Set while this controller writes a target Secret: its own write must not trigger a resync.
  let writingTarget = false;

  const served = (plural: string): ResourceType | undefined => cluster.types().find((t) => t.group === ESO_GROUP && t.plural === plural);
  const timestamp = (): string => new Date(cluster.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');

  function operatorRunning(): boolean {
    if (!served('clustersecretstores') || !served('externalsecrets')) return false;
    return cluster
      .list(cluster.type('apps', 'deployments'))
      .some((d) => d['metadata']['labels']?.[ESO_CONTROLLER_LABEL.key] === ESO_CONTROLLER_LABEL.value && d['metadata']['name'] === 'external-secrets' && (d['status']?.['readyReplicas'] ?? 0) > 0);
  }

  function schedule(key: string, delayMs: number, fn: () => Promise<void>): void {
    if (stopped) return;
    const existing = timers.get(key);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      timers.delete(key);
      track(fn());
    }, delayMs);
    timers.set(key, timer);
  }

  function track(work: Promise<void>): void {
    const guarded = work.catch((error: unknown) => options.log?.(`eso: ${(error as Error).message}`));
    running.add(guarded);
    void guarded.finally(() => running.delete(guarded));
  }

  function event(involved: Obj, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const namespace = involved['metadata']['namespace'] ?? 'default';
    const name = `${involved['metadata']['name']}.${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;
    try {
      cluster.create(
        cluster.type('', 'events'),
        namespace,
        {
          metadata: { name },
          involvedObject: { apiVersion: involved['apiVersion'], kind: involved['kind'], name: involved['metadata']['name'], namespace: involved['metadata']['namespace'], uid: involved['metadata']['uid'] },
          type,
          reason,
          message,
          source: { component: 'external-secrets' },
          firstTimestamp: timestamp(),
          lastTimestamp: timestamp(),
          count: 1,
        },
        { manager: MANAGER },
      );
    } catch {
      // Events are best effort, as in the real recorder.
    }
  }

  function setCondition(type: ResourceType, object: Obj, condition: Omit<Condition, 'lastTransitionTime'>, extra: Obj = {}): void {
    const current = cluster.get(type, object['metadata']['namespace'], object['metadata']['name']);
    if (!current) return;
    const previous: Condition | undefined = (current['status']?.['conditions'] ?? []).find((c: Condition) => c.type === condition.type);
    const lastTransitionTime = previous && previous.status === condition.status ? previous.lastTransitionTime : timestamp();
    const status = { ...(current['status'] ?? {}), ...extra, conditions: [{ ...condition, lastTransitionTime }] };
    cluster.replace(type, current['metadata']['namespace'], current['metadata']['name'], { ...current, status }, { manager: MANAGER, subresource: 'status' });
  }

  /** NewClient for the vault provider: TokenRequest, kubernetes login; then Validate (lookup-self). */
  async function connect(store: Obj, namespaceForReferent: string | undefined): Promise<{ client?: StoreClient; reason?: string; message?: string }> {
    const vault = store['spec']?.['provider']?.['vault'];
    if (!vault) return { reason: 'InvalidProviderConfig', message: 'could not get provider client: no provider configured for this store (spec.provider.vault is required)' };
    if (!vault['server']) return { reason: 'InvalidProviderConfig', message: 'could not get provider client: invalid store: server is required' };
    if (vault['version'] && vault['version'] !== 'v2') return { reason: 'InvalidProviderConfig', message: `could not get provider client: unsupported KV version ${vault['version']} in this lab (v2 only)` };
    let caPem: string | undefined;
    if (vault['caBundle']) {
      caPem = Buffer.from(String(vault['caBundle']), 'base64').toString('utf8');
      if (!caPem.includes('-----BEGIN CERTIFICATE-----')) return { reason: 'InvalidProviderConfig', message: 'could not get provider client: cannot set Vault CA certificate: failed to parse certificates from CertPool' };
    }
    const kubernetesAuth = vault['auth']?.['kubernetes'];
    if (!kubernetesAuth) return { reason: 'InvalidProviderConfig', message: 'could not get provider client: cannot initialize Vault client: no valid auth method specified' };
    const ref = kubernetesAuth['serviceAccountRef'];
    if (!ref?.['name']) return { reason: 'InvalidProviderConfig', message: 'could not get provider client: serviceAccountRef.name is required in this lab (the mounted-token mode is not simulated)' };
    const saNamespace: string | undefined = ref['namespace'] ?? namespaceForReferent;
    if (!saNamespace) return {}; // referent auth: validated per ExternalSecret, as ESO does
    const mountPath = kubernetesAuth['mountPath'] ?? 'kubernetes';
    const role = kubernetesAuth['role'];
    let jwt: string;
    try {
      const answer = cluster.tokenRequest(saNamespace, ref['name'], { spec: { audiences: ref['audiences'] ?? [], expirationSeconds: 600 } });
      jwt = answer['status']['token'];
    } catch (error) {
      const message = error instanceof ApiError ? error.message : (error as Error).message;
      return { reason: 'InvalidProviderConfig', message: `could not get provider client: cannot request Kubernetes service account token for service account "${ref['name']}": ${message}` };
    }
    let token: string;
    try {
      const login = await vaultCall(vault['server'], caPem, 'PUT', `auth/${String(mountPath).replace(/^\/+|\/+$/g, '')}/login`, { body: { role, jwt } });
      token = login?.auth?.client_token;
      if (!token) throw new VaultRequestError('unable to log in with Kubernetes auth: response did not return ClientToken, client token not set', 0);
    } catch (error) {
      return { reason: 'InvalidProviderConfig', message: `could not get provider client: unable to log in to auth method: unable to log in with Kubernetes auth: ${(error as Error).message}` };
    }
    try {
      await vaultCall(vault['server'], caPem, 'GET', 'auth/token/lookup-self', { token });
    } catch (error) {
      return { reason: 'ValidationFailed', message: `could not validate provider: invalid vault credentials: ${(error as Error).message}` };
    }
    return { client: { server: vault['server'], caPem, path: vault['path'], token } };
  }

  async function reconcileStore(plural: 'clustersecretstores' | 'secretstores', namespace: string | undefined, name: string): Promise<void> {
    const type = served(plural);
    if (!type || !operatorRunning()) return;
    const store = cluster.get(type, namespace, name);
    if (!store) return;
    const key = `${plural}/${namespace ?? ''}/${name}`;
    const result = await connect(store, plural === 'secretstores' ? namespace : undefined);
    if (stopped) return;
    try {
      if (result.reason) {
        setCondition(type, store, { type: 'Ready', status: 'False', reason: result.reason, message: result.message! });
        event(store, 'Warning', result.reason, result.message!);
        const attempt = (failures.get(key) ?? 0) + 1;
        failures.set(key, attempt);
        schedule(key, Math.min(retryMax, retryBase * 2 ** (attempt - 1)), () => reconcileStore(plural, namespace, name));
        return;
      }
      failures.delete(key);
      setCondition(type, store, { type: 'Ready', status: 'True', reason: 'Valid', message: 'store validated' }, { capabilities: 'ReadWrite' });
      schedule(key, requeue, () => reconcileStore(plural, namespace, name));
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }

  function lookupPath(value: unknown, property: string): unknown {
    // gjson-style dotted paths, which ESO uses for remoteRef.property; a key with dots wins.
    if (value && typeof value === 'object' && property in (value as Obj)) return (value as Obj)[property];
    return property.split('.').reduce<any>((v, k) => (v && typeof v === 'object' ? v[k] : undefined), value);
  }

  const asSecretValue = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

  async function readKv(client: StoreClient, key: string, version?: string): Promise<Obj> {
    let path: string;
    if (client.path) path = `${client.path.replace(/^\/+|\/+$/g, '')}/data/${key.replace(/^\/+/, '')}`;
    else {
      const [mount, ...rest] = key.replace(/^\/+/, '').split('/');
      path = `${mount}/data/${rest.join('/')}`;
    }
    try {
      const answer = await vaultCall(client.server, client.caPem, 'GET', `${path}${version ? `?version=${encodeURIComponent(version)}` : ''}`, { token: client.token });
      const data = answer?.data?.data;
      if (!data) throw new Error('Secret does not exist');
      return data;
    } catch (error) {
      if (error instanceof VaultRequestError && error.status === 404) throw new Error('Secret does not exist');
      throw error;
    }
  }

  async function reconcileExternalSecret(namespace: string, name: string): Promise<void> {
    const type = served('externalsecrets');
    if (!type || !operatorRunning()) return;
    const externalSecret = cluster.get(type, namespace, name);
    if (!externalSecret || externalSecret['metadata']['deletionTimestamp']) return;
    const key = `externalsecrets/${namespace}/${name}`;
    const spec = externalSecret['spec'] ?? {};
    const refresh = (() => {
      try {
        return parseGoDuration(String(spec['refreshInterval'] ?? '1h'));
      } catch {
        return 3_600_000;
      }
    })();
    const fail = (message: string, detail: string): void => {
      setCondition(type, externalSecret, { type: 'Ready', status: 'False', reason: 'SecretSyncedError', message }, { refreshTime: externalSecret['status']?.['refreshTime'] ?? null });
      event(externalSecret, 'Warning', 'UpdateFailed', detail);
      // controller-runtime requeues failed reconciles with backoff; refreshInterval bounds it here.
      const attempt = (failures.get(key) ?? 0) + 1;
      failures.set(key, attempt);
      schedule(key, Math.min(refresh || retryMax, retryMax, retryBase * 2 ** (attempt - 1)), () => reconcileExternalSecret(namespace, name));
    };

    const storeRef = spec['secretStoreRef'] ?? {};
    const storeKind = storeRef['kind'] ?? 'SecretStore';
    const storeType = served(storeKind === 'ClusterSecretStore' ? 'clustersecretstores' : 'secretstores');
    const store = storeType ? cluster.get(storeType, storeKind === 'ClusterSecretStore' ? undefined : namespace, storeRef['name']) : undefined;
    if (!store) {
      const message = `could not get ${storeKind} "${storeRef['name']}": ${storeKind === 'ClusterSecretStore' ? `clustersecretstores.external-secrets.io "${storeRef['name']}" not found` : `secretstores.external-secrets.io "${storeRef['name']}" not found`}`;
      return fail('could not get secret data from provider', message);
    }
    const ready = (store['status']?.['conditions'] ?? []).find((c: Condition) => c.type === 'Ready');
    if (ready?.status !== 'True') return fail(`${storeKind} "${storeRef['name']}" is not ready`, `${storeKind} "${storeRef['name']}" is not ready: ${ready?.message ?? 'not yet validated'}`);

    const connection = await connect(store, namespace);
    if (!connection.client) return fail('could not get secret data from provider', connection.message ?? 'could not get provider client');
    const data: Record<string, string> = {};
    try {
      for (const [index, item] of ((spec['data'] ?? []) as Obj[]).entries()) {
        const ref = item['remoteRef'] ?? {};
        let secret: Obj;
        try {
          secret = await readKv(connection.client, String(ref['key'] ?? ''), ref['version']);
        } catch (error) {
          throw new Error(`error retrieving secret at .data[${index}], key: ${ref['key']}, err: ${(error as Error).message}`);
        }
        const value = ref['property'] ? lookupPath(secret, String(ref['property'])) : secret;
        if (value === undefined) throw new Error(`error retrieving secret at .data[${index}], key: ${ref['key']}, err: key ${ref['property']} does not exist in secret ${ref['key']}`);
        data[item['secretKey']] = Buffer.from(asSecretValue(value), 'utf8').toString('base64');
      }
      for (const [index, item] of ((spec['dataFrom'] ?? []) as Obj[]).entries()) {
        const extract = item['extract'];
        if (!extract) continue;
        let secret: Obj;
        try {
          secret = await readKv(connection.client, String(extract['key'] ?? ''), extract['version']);
        } catch (error) {
          throw new Error(`error processing spec.dataFrom[${index}].extract, err: ${(error as Error).message}`);
        }
        for (const [k, v] of Object.entries(secret)) data[k] = Buffer.from(asSecretValue(v), 'utf8').toString('base64');
      }
    } catch (error) {
      return fail('could not get secret data from provider', (error as Error).message);
    }
    if (stopped) return;

    const target = spec['target'] ?? {};
    const targetName = target['name'] ?? name;
    const creationPolicy = target['creationPolicy'] ?? 'Owner';
    const secretsType = cluster.type('', 'secrets');
    const dataHash = createHash('md5').update(JSON.stringify(Object.entries(data).sort())).digest('hex');
    const current = cluster.get(type, namespace, name);
    if (!current) return;
    try {
      if (creationPolicy !== 'None') {
        if (creationPolicy === 'Merge' && !cluster.get(secretsType, namespace, targetName)) {
          return fail('could not get secret data from provider', `secret ${namespace}/${targetName} does not exist and creationPolicy is Merge`);
        }
        writingTarget = true;
        try {
          cluster.patch(
          secretsType,
          namespace,
          targetName,
          'apply',
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: targetName,
              namespace,
              labels: { 'reconcile.external-secrets.io/managed': 'true', ...(target['template']?.['metadata']?.['labels'] ?? {}) },
              annotations: { 'reconcile.external-secrets.io/data-hash': dataHash, ...(target['template']?.['metadata']?.['annotations'] ?? {}) },
              ...(creationPolicy === 'Owner'
                ? { ownerReferences: [{ apiVersion: `${ESO_GROUP}/v1`, kind: 'ExternalSecret', name, uid: current['metadata']['uid'], controller: true, blockOwnerDeletion: true }] }
                : {}),
            },
            ...(creationPolicy === 'Merge' ? {} : { type: target['template']?.['type'] ?? 'Opaque' }),
            data,
          },
          { manager: MANAGER, force: true },
          );
        } finally {
          writingTarget = false;
        }
      }
      failures.delete(key);
      setCondition(type, current, { type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'secret synced' }, {
        refreshTime: timestamp(),
        syncedResourceVersion: `${current['metadata']['generation']}-${dataHash}`,
        binding: { name: targetName },
      });
      if (refresh > 0) schedule(key, refresh, () => reconcileExternalSecret(namespace, name));
    } catch (error) {
      if (error instanceof ApiError && error.code === 404) return;
      return fail('could not get secret data from provider', (error as Error).message);
    }
  }

  function reconcileEverything(): void {
    if (!operatorRunning()) return;
    for (const plural of ['clustersecretstores', 'secretstores'] as const) {
      const type = served(plural);
      if (type) for (const store of cluster.list(type)) track(reconcileStore(plural, store['metadata']['namespace'], store['metadata']['name']));
    }
    const esType = served('externalsecrets');
    if (esType) for (const es of cluster.list(esType)) track(reconcileExternalSecret(es['metadata']['namespace'], es['metadata']['name']));
  }

  const onEvent = (change: ClusterEvent): void => {
    if (stopped) return;
    const { resource, object, type } = change;
    const uid = object['metadata']['uid'];
    if (resource.group === 'apps' && resource.plural === 'deployments' && object['metadata']['name'] === 'external-secrets') {
      if (operatorRunning() && observed.get('operator') !== 'running') {
        observed.set('operator', 'running');
        setImmediate(reconcileEverything);
      } else if (!operatorRunning()) observed.delete('operator');
      return;
    }
    if (resource.group === ESO_GROUP) {
      if (type === 'DELETED') {
        observed.delete(uid);
        return;
      }
      // Status writes do not trigger a reconcile; spec and annotation changes do.
      const fingerprint = JSON.stringify([object['metadata']['generation'], object['metadata']['annotations'] ?? {}]);
      if (observed.get(uid) === fingerprint) return;
      observed.set(uid, fingerprint);
      const { namespace, name } = object['metadata'];
      if (resource.plural === 'clustersecretstores' || resource.plural === 'secretstores') {
        failures.delete(`${resource.plural}/${namespace ?? ''}/${name}`);
        schedule(`${resource.plural}/${namespace ?? ''}/${name}`, 0, () => reconcileStore(resource.plural as 'clustersecretstores', namespace, name));
        // ExternalSecrets using the store are retried once it changes.
        const esType = served('externalsecrets');
        if (esType) {
          for (const es of cluster.list(esType)) {
            if (es['spec']?.['secretStoreRef']?.['name'] === name) schedule(`externalsecrets/${es['metadata']['namespace']}/${es['metadata']['name']}`, 50, () => reconcileExternalSecret(es['metadata']['namespace'], es['metadata']['name']));
          }
        }
      } else if (resource.plural === 'externalsecrets') {
        failures.delete(`externalsecrets/${namespace}/${name}`);
        schedule(`externalsecrets/${namespace}/${name}`, 0, () => reconcileExternalSecret(namespace, name));
      }
      return;
    }
    // ESO watches the Secrets it owns: a changed or deleted target is synced again.
    if (resource.group === '' && resource.plural === 'secrets') {
      const owner = (object['metadata']['ownerReferences'] ?? []).find((ref: Obj) => ref['kind'] === 'ExternalSecret' && String(ref['apiVersion']).startsWith(`${ESO_GROUP}/`));
      if (!owner) return;
      if (writingTarget && type !== 'DELETED') return;
      schedule(`externalsecrets/${object['metadata']['namespace']}/${owner['name']}`, 50, () => reconcileExternalSecret(object['metadata']['namespace'], owner['name']));
    }
  };
  cluster.on('event', onEvent);
  if (operatorRunning()) {
    observed.set('operator', 'running');
    setImmediate(reconcileEverything);
  }

  return {
    async reconcileAll() {
      reconcileEverything();
      while (running.size) await Promise.all([...running]);
    },
    stop() {
      stopped = true;
      cluster.off('event', onEvent);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}

/**
 * The cluster line of `status` and of the status panes: the ClusterSecretStore `vault-backend` and its
 * Ready condition as External Secrets Operator reports it (Valid means ESO just logged in to Vault
 * with its role). Read only once the profile's cluster phase has created the store, so a host-only
 * setup never loads the Kubernetes client. Never throws: a failure is a reading.
 * https://external-secrets.io/latest/api/clustersecretstore/
 */
import { describeError } from '../core/errors.js';
import type { Profile } from '../profile/schema.js';
import type { Transport } from './host/transport.js';

/** The store the cluster phase creates (steps/cluster/session.ts ESO.store; not imported: it would pull the steps in). */
export const STATUS_STORE_NAME = 'vault-backend';
const STORE_VERSIONS = ['external-secrets.io/v1', 'external-secrets.io/v1beta1'] as const;
const SECRET_STORE_STEP_ID = 'cluster.secret-store';

export interface ClusterStoreStatus {
  name: string;
  /** false: the store does not exist (deleted by hand, or ESO uninstalled). */
  present: boolean;
  /** The Ready condition's status; null when there is no condition (no store, or ESO not running). */
  ready: boolean | null;
  /** e.g. Valid, InvalidProviderConfig, ValidationFailed. */
  reason: string | null;
  message: string | null;
}

export interface ClusterStatus {
  context: string | null;
  server: string | null;
  /** Why the store could not be read (kubeconfig, API down, rights); null when it was. */
  error: string | null;
  store: ClusterStoreStatus | null;
}

/** The cluster part is worth reading once the cluster phase has applied the store at least once. */
export function clusterConfigured(profile: Profile): boolean {
  return profile.progress[SECRET_STORE_STEP_ID] !== undefined;
}

export interface ClusterStatusOptions {
  /** Reads a root-only kubeconfig (K3s's) when the tool runs on the cluster's host. */
  readPrivileged?: (file: string) => Promise<string>;
}

/**
 * When the tool runs on the Vault host itself (local transport), that host is often the K3s server
 * too, whose kubeconfig only root may read: read it with the transport's sudo then. Over SSH the
 * kubeconfig is a file on this machine, and sudo on the Vault host has nothing to do with it.
 */
export function kubeconfigReadOptions(profile: Profile, host: () => Promise<Transport>, signal?: AbortSignal): ClusterStatusOptions {
  if (profile.host.transport !== 'local') return {};
  return { readPrivileged: async (file) => (await (await host()).readFile(file, { sudo: true, ...(signal ? { signal } : {}) })).toString('utf8') };
}

export async function readClusterStatus(profile: Profile, options: ClusterStatusOptions = {}): Promise<ClusterStatus> {
  const reading: ClusterStatus = { context: null, server: null, error: null, store: null };
  try {
    const { openCluster } = await import('./cluster.js');
    const cluster = await openCluster(profile.cluster, options);
    reading.context = cluster.context;
    reading.server = cluster.server;
    for (const apiVersion of STORE_VERSIONS) {
      const store = await cluster.get<{ apiVersion?: string; kind?: string; metadata?: object; status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }>({
        apiVersion,
        kind: 'ClusterSecretStore',
        name: STATUS_STORE_NAME,
      });
      if (!store) continue;
      const ready = store.status?.conditions?.find((condition) => condition.type === 'Ready');
      reading.store = {
        name: STATUS_STORE_NAME,
        present: true,
        ready: ready ? ready.status === 'True' : null,
        reason: ready?.reason ?? null,
        message: ready?.message ?? null,
      };
      return reading;
    }
    reading.store = { name: STATUS_STORE_NAME, present: false, ready: null, reason: null, message: null };
  } catch (error) {
    reading.error = describeError(error).message;
  }
  return reading;
}

/** One line for humans: `vault-backend Ready (Valid)`, `vault-backend not Ready (ValidationFailed): …`. */
export function describeClusterStatus(status: ClusterStatus): string {
  if (status.error) return `unreadable: ${status.error}`;
  const store = status.store;
  if (!store || !store.present) return `ClusterSecretStore ${STATUS_STORE_NAME} missing`;
  if (store.ready === null) return `${store.name}: no Ready condition (is ESO running?)`;
  return `${store.name} ${store.ready ? 'Ready' : 'not Ready'}${store.reason ? ` (${store.reason})` : ''}${!store.ready && store.message ? `: ${store.message}` : ''}`;
}

/** A warning for `status` when the store is not serving: ExternalSecrets stop syncing. */
export function clusterWarning(status: ClusterStatus | null): string | undefined {
  if (!status) return undefined;
  if (status.error) return `the cluster could not be read: ${status.error}`;
  if (status.store?.ready === true) return undefined;
  return `${describeClusterStatus(status)}: ExternalSecrets do not sync from Vault`;
}

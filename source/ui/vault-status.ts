/**
 * What the Status pane says about the server itself (Vault or OpenBao), like `vault status`:
 * initialized, sealed, unseal progress k/t, version, storage. Read from THIS machine at the address
 * the profile names, over TLS verified with the profile's CA (custody `ca.crt` in generate mode,
 * vault.tls.caFile in provided mode) — the same way every later phase reaches the API. A failure
 * is a reading too ("unreachable: <reason>"): the pane never throws.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal-status
 */
import { readFile } from 'node:fs/promises';
import { describeError, UserError } from '../core/errors.js';
import { serverOf } from '../core/server.js';
import { custodyExists, readCustody } from '../profile/custody.js';
import type { Profile } from '../profile/schema.js';
import type { Transport } from '../services/host/transport.js';
import { clusterConfigured, readClusterStatus, type ClusterStatus } from '../services/cluster-status.js';
import { collectStatus, type StatusReport } from '../services/status.js';
import type { SealStatus, VaultApi, VaultApiOptions } from '../services/vault.js';
import { vaultApiAddress } from '../steps/host/layout.js';
import { expandHome } from '../profile/paths.js';

/** The custody name the TLS step keeps the CA certificate under (steps/host/tls.ts CA_CERT_NAME; not imported: that module loads the X.509 library). */
const CA_CUSTODY_NAME = 'ca.crt';
const STATUS_TIMEOUT_MS = 4_000;

export type VaultStatusReading =
  | { kind: 'status'; address: string; status: SealStatus; at: number }
  /** No CA to verify the server with yet (before the TLS step): nothing was sent. */
  | { kind: 'no-ca'; address: string; reason: string; at: number }
  | { kind: 'unreachable'; address: string; reason: string; at: number };

/** Reads the server's status for a profile; undefined when the profile names no API address (nothing to ask). */
export type ReadVaultStatus = (profileName: string, profile: Profile) => Promise<VaultStatusReading | undefined>;

export interface VaultStatusSources {
  /** Opens the API client; the product's is connectVault (node-vault, loaded only when first needed). */
  connect?(options: VaultApiOptions): Promise<Pick<VaultApi, 'sealStatus' | 'unsealReset'>>;
  /** The CA PEM for the profile, or undefined when there is none yet. */
  readCa?(profileName: string, profile: Profile): Promise<string | undefined>;
}


/** provided mode: the user's CA file; generate mode: our CA from custody (or caFile when custody has none). */
export async function profileCaPem(profileName: string, profile: Profile): Promise<string | undefined> {
  const { mode, caFile } = profile.vault.tls;
  if (mode === 'provided' && caFile) return readFile(expandHome(caFile), 'utf8');
  if (await custodyExists(profileName, CA_CUSTODY_NAME)) return (await readCustody(profileName, CA_CUSTODY_NAME)).toString('utf8');
  if (caFile) return readFile(expandHome(caFile), 'utf8');
  return undefined;
}

async function connectLazily(options: VaultApiOptions): Promise<VaultApi> {
  // The services module (and node-vault behind it) is loaded the first time a status is read.
  const { connectVault } = await import('../services/vault.js');
  return connectVault(options);
}

export function vaultStatusReader(sources: VaultStatusSources = {}): ReadVaultStatus {
  const connect = sources.connect ?? connectLazily;
  const readCa = sources.readCa ?? profileCaPem;
  return async (profileName, profile) => {
    const address = vaultApiAddress(profile);
    if (!address) return undefined;
    const failed = (kind: 'no-ca' | 'unreachable', reason: string): VaultStatusReading => ({ kind, address, reason, at: Date.now() });
    let caPem: string | undefined;
    try {
      caPem = await readCa(profileName, profile);
    } catch (error) {
      return failed('no-ca', `cannot read the CA certificate: ${describeError(error).message}`);
    }
    if (!caPem) return failed('no-ca', 'no CA certificate yet (the TLS step makes it)');
    try {
      const api = await connect({ address, caPem, timeoutMs: STATUS_TIMEOUT_MS, server: serverOf(profile) });
      return { kind: 'status', address, status: await api.sealStatus(), at: Date.now() };
    } catch (error) {
      // The address is on the server's line already; the pane keeps its two rows for the cause (ECONNREFUSED...).
      return failed('unreachable', describeError(error).message.replace(` at ${address}`, ''));
    }
  };
}

/** Discards the unseal key shares submitted so far (PUT sys/unseal {reset: true}); resolves with the status after. */
export type ResetVaultUnseal = (profileName: string, profile: Profile) => Promise<SealStatus>;

export function vaultUnsealResetter(sources: VaultStatusSources = {}): ResetVaultUnseal {
  const connect = sources.connect ?? connectLazily;
  const readCa = sources.readCa ?? profileCaPem;
  return async (profileName, profile) => {
    const address = vaultApiAddress(profile);
    const server = serverOf(profile);
    const { name } = server;
    if (!address) throw new UserError(`the profile names no address for the ${name} API`);
    const caPem = await readCa(profileName, profile);
    if (!caPem) throw new UserError(`there is no CA certificate to verify ${name} with yet`);
    const api = await connect({ address, caPem, timeoutMs: STATUS_TIMEOUT_MS, server });
    return api.unsealReset();
  };
}

/** The one-line summary the Status pane shows, e.g. `sealed, not initialized`, `sealed, unseal progress 1/3`. */
export function describeSeal(status: SealStatus): string {
  if (!status.initialized) return status.sealed ? 'sealed, not initialized' : 'not initialized';
  if (!status.sealed) return 'unsealed, initialized';
  return `sealed, unseal progress ${status.progress}/${status.t}`;
}

/** `2.0.4, raft, unseal 3 of 5` — version, storage type, threshold of shares (what `vault status` prints beside the seal). */
export function describeServer(status: SealStatus): string {
  const parts = [status.version || 'version ?', status.storageType || 'storage ?'];
  if (status.initialized) parts.push(`unseal ${status.t} of ${status.n}`);
  return parts.join(', ');
}

/**
 * The Home screen's reading: the report `status` prints (services/status.ts collectStatus: seal,
 * unseal progress, version, storage, HA, certificate days, the host's units), with the CA found the
 * way the Status pane finds it. `host` undefined: the host is not asked (its part is null).
 */
export type ReadHomeStatus = (profileName: string, profile: Profile, host: (() => Promise<Transport>) | undefined) => Promise<StatusReport>;

/** Reads the cluster's ClusterSecretStore for a profile (never throws: a failure is a reading). */
export type ReadClusterStatus = (profileName: string, profile: Profile) => Promise<ClusterStatus>;

export function homeStatusReader(sources: Pick<VaultStatusSources, 'readCa'> & { cluster?: ReadClusterStatus } = {}): ReadHomeStatus {
  const readCa = sources.readCa ?? profileCaPem;
  const readCluster = sources.cluster ?? ((_profileName: string, profile: Profile) => readClusterStatus(profile));
  return (profileName, profile, host) =>
    collectStatus({
      profileName,
      address: vaultApiAddress(profile),
      caPem: async () => {
        const pem = await readCa(profileName, profile);
        if (!pem) throw new Error('none yet (the TLS step of the host phase makes it)');
        return pem;
      },
      host,
      // As `status` does: the cluster is read with the host, once the cluster phase created the store.
      cluster: host && clusterConfigured(profile) ? () => readCluster(profileName, profile) : undefined,
      autoUnseal: profile.vault.autoUnseal,
      // Its name in the report and the messages, its units on the host.
      server: serverOf(profile),
    });
}

/**
 * The server (Vault or OpenBao) at a glance, like `vault status` / `bao status` plus the host's services: initialized, sealed, unseal
 * progress k/t, version, storage, HA mode, API address, days until the server certificate expires,
 * and the server's units on the host (vault / vault-unseal, or openbao / openbao-unseal). One collection serves `status` (plain and --json)
 * and the interactive status screen.
 *
 * Speed matters: `status --no-host` is what a user types on a phone after a power cut. So this module
 * imports node built-ins only, and reaches the API with a raw `https.request` verified against our CA
 * rather than through node-vault: that library (request-promise and its dependencies) costs ~120 ms to
 * import, more than the two GETs take on a LAN. Both GETs share one keep-alive connection, and the
 * certificate's expiry is read from that connection's own TLS handshake (the peer certificate that
 * was just verified), so no second handshake and no SSH is needed for it.
 * Unsealed, a third GET (sys/health) says whether the node is the active one: right after an unseal a
 * raft node is a standby until it has elected itself, and serves nothing but sys/* meanwhile.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal-status
 *      https://developer.hashicorp.com/vault/api-docs/system/leader
 *      https://developer.hashicorp.com/vault/api-docs/system/health
 * TLS: https://nodejs.org/api/tls.html#tlssocketgetpeercertificatedetailed
 * Units: https://www.freedesktop.org/software/systemd/man/latest/systemctl.html (is-active, is-enabled)
 */
import { request as httpsRequest, type Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { clusterWarning, type ClusterStatus as ClusterReading } from './cluster-status.js';
import { sh } from './host/shell-quote.js';
import type { Transport } from './host/transport.js';
import { verifiedAgent } from './verified-tls.js';
import { VAULT, type ServerFlavor, type ServerKind } from '../core/server.js';

/** Bumped only when a field changes meaning or disappears; new fields may be added within a version. */
export const STATUS_SCHEMA_VERSION = 1;

export const STATUS_TIMEOUT_MS = 5_000;
/** A certificate expiring within this many days is reported as a warning and as renewal due (`renew-cert`). */
export const CERT_WARN_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Units read on the host: the server and the oneshot that unseals it after every start. */
export function statusUnits(server: ServerFlavor): { vault: string; vaultUnseal: string } {
  return { vault: server.unit, vaultUnseal: server.unsealUnit };
}
/** Vault's (the default server's) units. */
export const STATUS_UNITS = statusUnits(VAULT);

/** Exit codes of `status`: the state a script acts on. */
export const STATUS_EXIT = { unsealed: 0, error: 1, sealed: 2, uninitialized: 3 } as const;
export type StatusExitCode = (typeof STATUS_EXIT)[keyof typeof STATUS_EXIT];

/** unsealed/sealed/uninitialized: what Vault said; unreachable: no answer (network, TLS); error: nothing to ask, or a bad answer. */
export type VaultState = 'unsealed' | 'sealed' | 'uninitialized' | 'unreachable' | 'error';

export interface UnsealProgress {
  /** Key shares submitted towards the threshold so far. */
  progress: number;
  /** Shares needed (t). */
  threshold: number;
  /** Shares made at init (n). */
  shares: number;
}

/**
 * What an unsealed node does with requests. active: it serves them. standby: another node is
 * active (a standby forwards to it; not a setup this tool makes, but a report of one is honest).
 * waiting-for-leader: a standby while no node is active, as a single raft node is for a moment after
 * every unseal but the first after init (raft starts as a follower and elects itself after its
 * election timeout); requests other than sys/* answer 500 "local node not active but active cluster
 * node not found" until then. Told by sys/health (429 and `standby: true` for a standby; sys/leader
 * alone can say is_self a moment before health does, or name no leader at all).
 */
export type NodeRole = 'active' | 'standby' | 'waiting-for-leader';

export interface HaStatus {
  enabled: boolean;
  /** This node is the active one (false: a standby). */
  isSelf: boolean;
  leaderAddress: string | null;
}

export interface CertificateStatus {
  /** ISO 8601 */
  notAfter: string;
  /** Whole days left; negative once expired. */
  daysLeft: number;
  subject: string;
  issuer: string;
  /**
   * daysLeft ≤ 30: time to renew it (`renew-cert` re-issues a generated one; a provided one is renewed
   * where it came from). Added within schema version 1: absent in reports of older versions.
   */
  renewalDue?: boolean;
  /** SHA-256 of the DER certificate, `AA:BB:…` (tells a renewed certificate from the old one). */
  fingerprint256?: string;
  /** Hex serial number, as openssl prints it. */
  serialNumber?: string;
}

export interface VaultStatus {
  /** The API address the profile names, or null when it names none. */
  address: string | null;
  reachable: boolean;
  /** Why there is no full answer (unreachable, TLS refused, no CA, bad answer); null when there is one. */
  error: string | null;
  initialized: boolean | null;
  sealed: boolean | null;
  /** null before init (no threshold yet) or when unreachable. */
  unseal: UnsealProgress | null;
  version: string | null;
  storageType: string | null;
  /** e.g. shamir */
  sealType: string | null;
  /** From sys/leader, which only answers while unsealed: null when sealed or unreachable. */
  ha: HaStatus | null;
  /**
   * Whether this node serves (NodeRole), from sys/health with sys/leader; null when sealed, not
   * initialized or unknown. Added within schema version 1: absent in reports of older versions.
   */
  role: NodeRole | null;
  /** The certificate the API presented (and that verified against our CA); null when no TLS session was made. */
  certificate: CertificateStatus | null;
}

export interface UnitStatus {
  unit: string;
  /** `systemctl is-active`: active, inactive, failed, activating... */
  active: string;
  /** `systemctl is-enabled`: enabled, disabled, static, masked...; `not-found` when there is no such unit. */
  enabled: string;
}

export interface HostStatus {
  /** e.g. `ssh pi@10.0.0.11:22` or `local`; null when the transport could not be opened. */
  transport: string | null;
  reachable: boolean;
  error: string | null;
  services: { vault: UnitStatus | null; vaultUnseal: UnitStatus | null };
}

/**
 * The ClusterSecretStore's state (services/cluster-status.ts), read once the profile's cluster phase
 * created it and the host is asked too; null when not configured or skipped (--no-host).
 */
export type ClusterStatus = ClusterReading | null;

/** The JSON `status --json` prints; source/cli/status.schema.json describes it for other tools. */
export interface StatusReport {
  schemaVersion: typeof STATUS_SCHEMA_VERSION;
  profile: string;
  /** Which server the profile sets up (its version is vault.version, read from the server). Added within schema version 1. */
  server: { kind: ServerKind; name: string };
  /** ISO 8601 */
  checkedAt: string;
  state: VaultState;
  exitCode: StatusExitCode;
  vault: VaultStatus;
  /** null with --no-host (not checked). */
  host: HostStatus | null;
  cluster: ClusterStatus;
  /** Things to look at that do not change the exit code (certificate expiring, auto-unseal off...). */
  warnings: string[];
}

export interface StatusInput {
  profileName: string;
  /** The API address from the profile; undefined when it names none. */
  address: string | undefined;
  /** The CA that signed Vault's certificate; rejects (with a message that says why) when there is none. */
  caPem(): Promise<string>;
  /** The host transport; undefined skips the host (--no-host). */
  host?: (() => Promise<Transport>) | undefined;
  /** Reads the cluster's ClusterSecretStore; undefined when the cluster is not configured or skipped. */
  cluster?: (() => Promise<ClusterReading>) | undefined;
  /** Whether the profile installs auto-unseal (a disabled unseal unit is then worth a warning). */
  autoUnseal?: boolean;
  /** The profile's server (default Vault): its name in messages, its units on the host. */
  server?: ServerFlavor;
  timeoutMs?: number;
  signal?: AbortSignal;
  now?: () => Date;
}

export function emptyVaultStatus(address: string | null): VaultStatus {
  return {
    address,
    reachable: false,
    error: null,
    initialized: null,
    sealed: null,
    unseal: null,
    version: null,
    storageType: null,
    sealType: null,
    ha: null,
    role: null,
    certificate: null,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads Vault and (unless skipped) the host at the same time; never throws: a failure is a reading. */
export async function collectStatus(input: StatusInput): Promise<StatusReport> {
  const now = input.now ?? (() => new Date());
  const [{ vault, attempted }, host, cluster] = await Promise.all([
    readVaultStatus(input, now),
    input.host ? readHostStatus(input.host, input.server ?? VAULT, input.signal, input.timeoutMs) : Promise.resolve(null),
    input.cluster ? input.cluster() : Promise.resolve(null),
  ]);
  const state = vaultState(vault, attempted);
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    profile: input.profileName,
    server: { kind: (input.server ?? VAULT).kind, name: (input.server ?? VAULT).name },
    checkedAt: now().toISOString(),
    state,
    exitCode: statusExitCode(state),
    vault,
    host,
    cluster,
    warnings: [...statusWarnings(vault, host, input.autoUnseal ?? true, input.server ?? VAULT), ...[clusterWarning(cluster)].filter((warning): warning is string => warning !== undefined)],
  };
}

/**
 * What Vault's answer means for a script. `attempted`: a connection was tried (an API that does not
 * answer is `unreachable`; nothing to ask — no address, no CA — or an answer that makes no sense is `error`).
 */
export function vaultState(vault: VaultStatus, attempted: boolean): VaultState {
  if (vault.initialized === false) return 'uninitialized';
  if (vault.sealed === true) return 'sealed';
  if (vault.sealed === false) return 'unsealed';
  return attempted && !vault.reachable ? 'unreachable' : 'error';
}

export function statusExitCode(state: VaultState): StatusExitCode {
  switch (state) {
    case 'unsealed':
      return STATUS_EXIT.unsealed;
    case 'sealed':
      return STATUS_EXIT.sealed;
    case 'uninitialized':
      return STATUS_EXIT.uninitialized;
    default:
      return STATUS_EXIT.error;
  }
}

export function statusWarnings(vault: VaultStatus, host: HostStatus | null, autoUnseal: boolean, server: ServerFlavor = VAULT): string[] {
  const warnings: string[] = [];
  const cert = vault.certificate;
  if (cert && cert.daysLeft <= CERT_WARN_DAYS) {
    warnings.push(cert.daysLeft < 0 ? `the server certificate expired ${-cert.daysLeft} day(s) ago` : `the server certificate expires in ${cert.daysLeft} day(s)`);
  }
  if (vault.role === 'waiting-for-leader') {
    warnings.push(
      `unsealed, waiting for leadership: ${server.name} is a standby until raft makes it the active node (seconds after an unseal); requests other than sys/* fail until then. If it lasts, look at the server's log for raft errors`,
    );
  } else if (vault.role === 'standby' || (!vault.role && vault.ha?.enabled && !vault.ha.isSelf)) {
    warnings.push(`this node is a standby; the active node is ${vault.ha?.leaderAddress ?? 'unknown'}`);
  }
  const units = host?.services;
  if (units?.vault && units.vault.active !== 'active') warnings.push(`${units.vault.unit} is ${units.vault.active} on the host`);
  if (units?.vault && units.vault.enabled !== 'enabled') warnings.push(`${units.vault.unit} is ${units.vault.enabled} on the host: it will not start at boot`);
  if (autoUnseal && units?.vaultUnseal && units.vaultUnseal.enabled !== 'enabled') {
    warnings.push(`${units.vaultUnseal.unit} is ${units.vaultUnseal.enabled}: ${server.name} stays sealed after a restart until \`unseal\``);
  }
  if (units?.vaultUnseal?.active === 'failed') warnings.push(`the last run of ${units.vaultUnseal.unit} failed (journalctl -u ${units.vaultUnseal.unit})`);
  return warnings;
}

async function readVaultStatus(input: StatusInput, now: () => Date): Promise<{ vault: VaultStatus; attempted: boolean }> {
  if (!input.address) {
    return { vault: { ...emptyVaultStatus(null), error: `the profile names no address for the ${(input.server ?? VAULT).name} API (set vault.nodeIp or vault.apiAddress)` }, attempted: false };
  }
  let caPem: string;
  try {
    caPem = await input.caPem();
  } catch (error) {
    return { vault: { ...emptyVaultStatus(input.address), error: `no CA certificate to verify ${(input.server ?? VAULT).name}'s TLS with: ${messageOf(error)}` }, attempted: false };
  }
  return { vault: await readVaultApi(input, caPem, now), attempted: true };
}

async function readVaultApi(input: StatusInput, caPem: string, now: () => Date): Promise<VaultStatus> {
  const status = emptyVaultStatus(input.address!);
  // One connection for both requests; maxSockets 1 so the second GET waits for and reuses it.
  // Verified against our CA whatever the environment says (verified-tls.ts).
  const agent = verifiedAgent(caPem, { keepAlive: true, maxSockets: 1 });
  const unit = (input.server ?? VAULT).unit;
  const get = (path: string): Promise<ApiAnswer> => getJson(agent, input.address!, path, input.timeoutMs ?? STATUS_TIMEOUT_MS, input.signal, unit);
  try {
    let sealAnswer: ApiAnswer;
    try {
      sealAnswer = await get('sys/seal-status');
    } catch (error) {
      return { ...status, error: messageOf(error) };
    }
    status.reachable = true;
    if (sealAnswer.certificate) status.certificate = certificateStatus(sealAnswer.certificate, now());
    if (sealAnswer.statusCode !== 200 || !isRecord(sealAnswer.body)) {
      return { ...status, error: `GET /v1/sys/seal-status answered ${sealAnswer.statusCode}${vaultErrors(sealAnswer.body)}` };
    }
    const seal = sealAnswer.body;
    status.initialized = seal['initialized'] === true;
    status.sealed = seal['sealed'] === true;
    status.version = stringOrNull(seal['version']);
    status.storageType = stringOrNull(seal['storage_type']);
    status.sealType = stringOrNull(seal['type']);
    const threshold = numberOr(seal['t'], 0);
    if (status.initialized && threshold > 0) {
      status.unseal = { progress: numberOr(seal['progress'], 0), threshold, shares: numberOr(seal['n'], 0) };
    }
    if (status.initialized && !status.sealed) {
      // sys/leader answers 503 while sealed; an error here leaves HA unknown, not the status failed.
      try {
        const leader = await get('sys/leader');
        if (leader.statusCode === 200 && isRecord(leader.body)) {
          status.ha = {
            enabled: leader.body['ha_enabled'] === true,
            isSelf: leader.body['is_self'] === true,
            leaderAddress: stringOrNull(leader.body['leader_address']) || null,
          };
        }
      } catch {
        // Reported as ha: null.
      }
      // Without query parameters: 200 active, 429 standby (472/473: Enterprise secondaries, which serve).
      let standby: boolean | null = null;
      try {
        const health = await get('sys/health');
        if (isRecord(health.body) && typeof health.body['standby'] === 'boolean' && health.body['sealed'] === false) standby = health.body['standby'];
        else if (health.statusCode === 429) standby = true;
        else if (health.statusCode === 200) standby = false;
      } catch {
        // Told from sys/leader alone, or unknown.
      }
      status.role = nodeRole(standby, status.ha, status.address);
    }
    return status;
  } finally {
    agent.destroy();
  }
}

/**
 * The role of an unsealed node from sys/health's `standby` (null: no answer) and sys/leader's HA
 * state (null: no answer); `self` is the address this node was asked at. A standby that names
 * another node as the leader is a standby of a cluster; one that names none, or itself (sys/leader
 * may say is_self while health still says standby, and raft may still hold this node's own
 * advertisement from before the restart), is waiting for leadership.
 */
export function nodeRole(standby: boolean | null, ha: HaStatus | null, self: string | null = null): NodeRole | null {
  const otherLeader = ha !== null && !ha.isSelf && ha.leaderAddress !== null && ha.leaderAddress !== '' && !sameAddress(ha.leaderAddress, self);
  if (standby === false) return 'active';
  if (standby === true) return otherLeader ? 'standby' : 'waiting-for-leader';
  if (!ha) return null;
  if (!ha.enabled || ha.isSelf) return 'active';
  return otherLeader ? 'standby' : 'waiting-for-leader';
}

/** The HA line of `status` and Home: the node's role (vault.role, from sys/health) before sys/leader's view of it. */
export function describeHa(vault: VaultStatus): string {
  if (vault.role === 'waiting-for-leader') return 'enabled, standby waiting for leadership (no active node yet)';
  if (!vault.ha) return vault.sealed === true ? 'unknown while sealed' : 'unknown';
  if (!vault.ha.enabled) return 'disabled';
  const active = vault.role ? vault.role === 'active' : vault.ha.isSelf;
  return active ? 'enabled, active node' : `enabled, standby (active: ${vault.ha.leaderAddress ?? 'unknown'})`;
}

function sameAddress(a: string, b: string | null): boolean {
  const normal = (text: string): string => text.trim().replace(/\/+$/, '').toLowerCase();
  return b !== null && normal(a) === normal(b);
}

interface ApiAnswer {
  statusCode: number;
  body: unknown;
  certificate: PeerCertificate | undefined;
}

function getJson(agent: Agent, address: string, path: string, timeoutMs: number, signal: AbortSignal | undefined, unit: string): Promise<ApiAnswer> {
  const base = address.endsWith('/') ? address : `${address}/`;
  const url = new URL(`v1/${path}`, base);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method: 'GET', agent, timeout: timeoutMs, headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) },
      (response: IncomingMessage) => {
        const socket = response.socket as TLSSocket;
        const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ statusCode: response.statusCode ?? 0, body, certificate: peer && Object.keys(peer).length > 0 ? peer : undefined });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
    request.on('error', (error: NodeJS.ErrnoException) => reject(new Error(describeRequestError(error, url.origin, unit))));
    request.end();
  });
}

/** One line a user can act on, for the errors a status check meets most (refused, timeout, TLS). */
function describeRequestError(error: NodeJS.ErrnoException, origin: string, unit: string): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${origin} (is ${unit} running?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${origin} is unreachable from here (${error.code})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name of ${origin} (${error.code})`;
    case 'ECONNRESET':
      return `${origin} closed the connection (${error.message})`;
    case 'CERT_HAS_EXPIRED':
      return `the certificate of ${origin} has expired (renew it: renew-cert)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate of ${origin} does not name this address: ${error.message}`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `the certificate of ${origin} is not signed by the profile's CA (${error.code})`;
    default:
      return error.code && !error.message.includes(error.code) ? `${error.message} (${error.code})` : error.message;
  }
}

export function certificateStatus(
  peer: Pick<PeerCertificate, 'valid_to' | 'subject' | 'issuer'> & Partial<Pick<PeerCertificate, 'fingerprint256' | 'serialNumber'>>,
  now: Date,
): CertificateStatus {
  const notAfter = new Date(peer.valid_to);
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  return {
    notAfter: notAfter.toISOString(),
    daysLeft,
    subject: distinguishedName(peer.subject),
    issuer: distinguishedName(peer.issuer),
    renewalDue: daysLeft <= CERT_WARN_DAYS,
    ...(peer.fingerprint256 ? { fingerprint256: peer.fingerprint256 } : {}),
    ...(peer.serialNumber ? { serialNumber: peer.serialNumber.toUpperCase() } : {}),
  };
}

function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

async function readHostStatus(open: () => Promise<Transport>, server: ServerFlavor, signal: AbortSignal | undefined, timeoutMs = STATUS_TIMEOUT_MS * 2): Promise<HostStatus> {
  const STATUS_UNITS = statusUnits(server);
  const services: HostStatus['services'] = { vault: null, vaultUnseal: null };
  let transport: Transport;
  try {
    transport = await open();
  } catch (error) {
    return { transport: null, reachable: false, error: messageOf(error), services };
  }
  try {
    const result = await transport.exec(unitStateCommand(Object.values(STATUS_UNITS)), { timeoutMs, ...(signal ? { signal } : {}) });
    const states = parseUnitStates(result.stdout);
    services.vault = states.get(STATUS_UNITS.vault) ?? null;
    services.vaultUnseal = states.get(STATUS_UNITS.vaultUnseal) ?? null;
    return { transport: transport.description, reachable: true, error: null, services };
  } catch (error) {
    return { transport: transport.description, reachable: false, error: messageOf(error), services };
  }
}

/**
 * One line per unit, `UNIT ACTIVE ENABLED`, in one round trip. No sudo: both verbs are read-only and
 * open to any user. is-enabled prints nothing on stdout for a unit that does not exist.
 */
export function unitStateCommand(units: readonly string[]): string {
  return units.map((unit) => sh`printf '%s %s %s\\n' ${unit} "$(systemctl is-active ${unit})" "$(systemctl is-enabled ${unit} 2>/dev/null)"`).join('; ');
}

export function parseUnitStates(stdout: string): Map<string, UnitStatus> {
  const states = new Map<string, UnitStatus>();
  for (const line of stdout.split('\n')) {
    const [unit, active, enabled] = line.trim().split(/\s+/);
    if (!unit || !active) continue;
    states.set(unit, { unit, active, enabled: enabled ?? 'not-found' });
  }
  return states;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function vaultErrors(body: unknown): string {
  if (!isRecord(body) || !Array.isArray(body['errors'])) return '';
  const errors = body['errors'].filter((item): item is string => typeof item === 'string').map((item) => item.replace(/\s+/g, ' ').trim());
  return errors.length > 0 ? `: ${errors.join('; ')}` : '';
}

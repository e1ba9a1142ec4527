// The seal/unseal life cycle and persistence, after Vault's core:
// https://developer.hashicorp.com/vault/docs/concepts/seal
// https://developer.hashicorp.com/vault/api-docs/system/init
// https://developer.hashicorp.com/vault/api-docs/system/unseal
// https://developer.hashicorp.com/vault/api-docs/system/storage/raft (snapshots)
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Acl, DEFAULT_POLICY, parsePolicy, type Capability, type PathRule } from './acl.js';
import { badRequest, VaultHttpError } from './api.js';
import { decrypt, encrypt, KEY_BYTES, RaftStorage, type SealConfig, type StorageFile } from './barrier.js';
import { combine, split } from './shamir.js';
import { RootGeneration } from './root-generation.js';
import { issueRootToken } from './tokens.js';
import { readTarGz, writeTarGz } from './snapshot-archive.js';
import { freshState, type TokenEntry, type VaultState } from './state.js';

export type LogLevel = 'INFO' | 'WARN' | 'ERROR' | 'DEBUG';
export type Logger = (level: LogLevel, message: string) => void;

export interface BuildInfo {
  version: string;
  revision: string;
  buildDate: string;
}

const KEYRING_PURPOSE = 'core/keyring';
const DATA_PURPOSE = 'logical/state';
const SUMS_PURPOSE = 'snapshot/SHA256SUMS';

const SNAPSHOT_DIFFERENT_KEYS =
  'could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the snapshot-force API to bypass this check';

/**
 * How long a node stays a standby after its unseal before it is the active node. A raft node that
 * was just unsealed first enters standby, then wins the (single-node) leader election and takes
 * the HA lock; until then sys/health answers 429 and every logical request fails with 500
 * "local node not active but active cluster node not found". The real OpenBao 2.7.2 takes 20-50 ms
 * for this on the lab's x86 machines (measured with test/integration/vault-sim-seal.test.ts); a
 * Raspberry Pi on an SD card is slower. The simulator waits longer than either, so a client that
 * does not wait for the active node fails here first. VAULT_SIM_STANDBY_MS overrides it.
 */
export const STANDBY_MS = durationFromEnv('VAULT_SIM_STANDBY_MS', 300);

/** A duration in ms from the environment (tests and the lab can shorten the waits), else the default. */
function durationFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * How long sys/init takes. The first raft election waits for the heartbeat timeout, randomised
 * between 1x and 2x of 1 s x performance_multiplier 5 (https://developer.hashicorp.com/vault/docs/configuration/storage/raft#performance_multiplier):
 * the real OpenBao 2.7.2 answered sys/init after 6.1 to 9.1 s on the lab's machines. The
 * simulator takes the low end. VAULT_SIM_INIT_MS overrides it.
 */
export const INIT_MS = durationFromEnv('VAULT_SIM_INIT_MS', 5_000);

/**
 * After a snapshot restore the request returns at once, but the node then waits 5 s for the
 * standbys (internal/physical/raft/raft.go RestoreSnapshot, restoreOpDelayDuration) before it runs
 * the post-restore invalidations holding the state lock: requests made meanwhile wait. Measured on
 * the real OpenBao 2.7.2: 5.5 s. VAULT_SIM_RESTORE_MS overrides it.
 */
export const RESTORE_MS = durationFromEnv('VAULT_SIM_RESTORE_MS', 5_000);

/**
 * How long a freshly enabled KV v2 mount answers 400 "Upgrading from non-versioned to versioned
 * data…" (the kv plugin's upgrade runs in the background after a 15 ms grace, upgrade.go; the
 * real OpenBao on this machine finished before the next request in 14 of 14 tries). Off by default
 * like the fast real one; VAULT_SIM_KV_UPGRADE_MS gives the window a slow SD card would.
 */
export const KV_UPGRADE_MS = durationFromEnv('VAULT_SIM_KV_UPGRADE_MS', 0);

const MIN_KEY_BYTES = 16;
const WRONG_KEY = 'unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed';

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class Core {
  private file: StorageFile;
  private barrierKey: Buffer | null = null;
  private unlock: { parts: Buffer[]; nonce: string } | null = null;
  private state: VaultState | null = null;
  activeSince: string | null = null;
  private activation: NodeJS.Timeout | null = null;
  /** Epoch ms until which logical requests wait (the post-restore invalidations, RESTORE_MS). */
  busyUntil = 0;
  /** KV v2 mounts still upgrading: mount uuid → epoch ms when the upgrade ends (KV_UPGRADE_MS). */
  readonly kvUpgradeUntil = new Map<string, number>();
  /** Addresses from the server config, reported by sys/leader and raft configuration. */
  addresses = { apiAddr: '', clusterAddr: '', nodeId: '' };
  private readonly parsedPolicies = new Map<string, PathRule[]>();
  /** sys/generate-root: the attempt in progress, in memory only. */
  readonly rootGeneration = new RootGeneration(this);

  constructor(
    readonly storage: RaftStorage,
    readonly build: BuildInfo,
    readonly log: Logger,
  ) {
    this.file = storage.read();
  }

  clusterAddress(): string {
    return this.addresses.clusterAddr.replace(/^https?:\/\//, '');
  }

  nodeId(): string {
    return this.addresses.nodeId;
  }

  initialized(): boolean {
    return this.file.seal_config !== null;
  }

  sealed(): boolean {
    return this.state === null;
  }

  /** Unsealed but not (yet) the active node: see STANDBY_MS. */
  standby(): boolean {
    return this.state !== null && this.activeSince === null;
  }

  /** The unsealed state; callers check sealed() first (the HTTP layer answers 503 otherwise). */
  get data(): VaultState {
    if (!this.state) throw new VaultHttpError(503, ['Vault is sealed']);
    return this.state;
  }

  sealConfig(): SealConfig | null {
    return this.file.seal_config;
  }

  raftIndex(): number {
    return this.file.raft_index;
  }

  /** Policy text by name, including the built-in `default` (root has no rules: it bypasses ACLs). */
  policyText(name: string): string | undefined {
    if (name === 'default') return this.data.policies['default'] ?? DEFAULT_POLICY;
    if (name === 'root') return '';
    return this.data.policies[name];
  }

  aclFor(token: TokenEntry): Acl {
    const policies = token.policies.map((name) => {
      const text = this.policyText(name) ?? '';
      let rules = this.parsedPolicies.get(text);
      if (!rules) {
        rules = parsePolicy(text);
        this.parsedPolicies.set(text, rules);
      }
      return { name, rules };
    });
    return new Acl(policies);
  }

  capabilitiesOf(token: TokenEntry, path: string): Set<Capability> {
    return this.aclFor(token).capabilities(path);
  }

  /** The seal configuration checks of PUT sys/init. */
  validateSealConfig(shares: number, threshold: number): void {
    const problem =
      shares < 1 ? 'shares must be at least one'
      : threshold < 1 ? 'threshold must be at least one'
      : shares > 1 && threshold === 1 ? 'threshold must be greater than one for multiple shares'
      : shares > 255 ? 'shares must be less than 256'
      : threshold > shares ? 'threshold cannot be larger than shares'
      : null;
    if (problem) throw badRequest(`invalid seal configuration: ${problem}`);
  }

  /** PUT sys/init (after its checks and the raft bootstrap wait in the HTTP layer). */
  initialize(shares: number, threshold: number): { keys: string[]; keys_base64: string[]; root_token: string } {
    if (this.initialized()) throw badRequest('Vault is already initialized');
    this.validateSealConfig(shares, threshold);

    const rootKey = randomBytes(KEY_BYTES);
    const barrierKey = randomBytes(KEY_BYTES);
    const unsealKeys = shares === 1 ? [rootKey] : split(rootKey, shares, threshold);

    const state = freshState();
    const rootToken = issueRootToken(state).id;

    this.file = {
      format: 'vault-sim/1',
      seal_config: { type: 'shamir', secret_shares: shares, secret_threshold: threshold },
      keyring: encrypt(rootKey, barrierKey, KEYRING_PURPOSE).toString('base64'),
      data: encrypt(barrierKey, Buffer.from(JSON.stringify(state)), DATA_PURPOSE).toString('base64'),
      raft_index: 1,
    };
    this.storage.write(this.file);
    this.log('INFO', 'core: security barrier initialized: stored=1 shares=' + shares + ' threshold=' + threshold);
    this.log('INFO', 'core: root token generated');
    return {
      keys: unsealKeys.map((key) => key.toString('hex')),
      keys_base64: unsealKeys.map((key) => key.toString('base64')),
      root_token: rootToken,
    };
  }

  unsealProgress(): { progress: number; nonce: string } {
    return { progress: this.unlock?.parts.length ?? 0, nonce: this.unlock?.nonce ?? '' };
  }

  resetUnseal(): void {
    this.unlock = null;
  }

  /** PUT sys/unseal with one decoded key share. */
  unseal(key: Buffer): void {
    const config = this.file.seal_config;
    if (!config) throw badRequest('Vault is not initialized');
    if (!this.sealed()) return;
    // The barrier takes AES-128 to AES-256 keys, plus Shamir's one byte of overhead
    // (seal_manager.go unsealFragment, barrier KeyLength 16..32).
    this.checkShareLength(key, (message) => badRequest(message));

    this.unlock ??= { parts: [], nonce: randomUUID() };
    // The same share twice does not count twice (Vault ignores a repeated part).
    if (this.unlock.parts.some((part) => part.equals(key))) return;
    this.unlock.parts.push(key);
    if (this.unlock.parts.length < config.secret_threshold) return;

    // Whatever happens now, the next attempt starts from zero.
    const parts = this.unlock.parts;
    this.unlock = null;
    const barrierKey = this.barrierKeyFrom(parts, (message) => badRequest(message));
    this.state = JSON.parse(decrypt(barrierKey, Buffer.from(this.file.data ?? '', 'base64'), DATA_PURPOSE).toString('utf8')) as VaultState;
    this.barrierKey = barrierKey;
    this.log('INFO', 'core: vault is unsealed');
    this.log('INFO', 'core: entering standby mode');
    this.becomeActiveLater();
  }

  /**
   * The barrier key that threshold shares open, or the error `fail` makes of what went wrong: the
   * combined key opens the stored root key first, and a wrong one fails its authentication (Vault
   * 1.3+ stored keys, hashicorp/vault#12618; the real OpenBao 2.7.2 says the same). Unseal and root
   * generation both check shares this way.
   */
  barrierKeyFrom(parts: Buffer[], fail: (message: string) => Error): Buffer {
    const config = this.file.seal_config;
    if (!config) throw fail('Vault is not initialized');
    let rootKey: Buffer;
    if (config.secret_threshold === 1) {
      rootKey = parts[0]!;
    } else {
      try {
        rootKey = combine(parts);
      } catch (error) {
        throw fail(`invalid key: failed to compute combined key: ${(error as Error).message}`);
      }
    }
    try {
      return decrypt(rootKey, Buffer.from(this.file.keyring ?? '', 'base64'), KEYRING_PURPOSE);
    } catch {
      throw fail(WRONG_KEY);
    }
  }

  /** A share's length as the barrier accepts it (16–32 bytes plus Shamir's one), or the error. */
  checkShareLength(key: Buffer, fail: (message: string) => Error): void {
    if (key.length < MIN_KEY_BYTES) throw fail(`invalid key: key is shorter than minimum ${MIN_KEY_BYTES} bytes`);
    if (key.length > KEY_BYTES + 1) throw fail(`invalid key: key is longer than maximum ${KEY_BYTES + 1} bytes`);
  }

  private becomeActiveLater(): void {
    if (this.activation) clearTimeout(this.activation);
    this.activeSince = null;
    this.activation = setTimeout(() => {
      this.activation = null;
      if (this.sealed()) return;
      this.activeSince = new Date().toISOString();
      this.log('INFO', 'core: acquired lock, enabling active operation');
      this.log('INFO', 'core: post-unseal setup complete');
    }, STANDBY_MS);
  }

  seal(): void {
    if (this.sealed()) return;
    this.state = null;
    this.barrierKey = null;
    this.unlock = null;
    this.rootGeneration.reset();
    this.activeSince = null;
    if (this.activation) clearTimeout(this.activation);
    this.activation = null;
    this.log('INFO', 'core: marked as sealed');
    this.log('INFO', 'core: vault is sealed');
  }

  /** Writes the in-memory state through the barrier after every change. */
  persist(): void {
    if (!this.state || !this.barrierKey) throw new VaultHttpError(503, ['Vault is sealed']);
    this.file = {
      ...this.file,
      data: encrypt(this.barrierKey, Buffer.from(JSON.stringify(this.state)), DATA_PURPOSE).toString('base64'),
      raft_index: this.file.raft_index + 1,
    };
    this.storage.write(this.file);
  }

  /** GET sys/storage/raft/snapshot */
  snapshot(): Buffer {
    if (!this.barrierKey) throw new VaultHttpError(503, ['Vault is sealed']);
    const meta = Buffer.from(
      JSON.stringify({ Version: 1, ID: `1-${this.file.raft_index}-${Date.now()}`, Index: this.file.raft_index, Term: 1, ConfigurationIndex: 1 }),
    );
    const stateBin = Buffer.from(JSON.stringify(this.file));
    const sums = Buffer.from(`${sha256(meta)}  meta.json\n${sha256(stateBin)}  state.bin\n`);
    return writeTarGz([
      { name: 'meta.json', content: meta },
      { name: 'state.bin', content: stateBin },
      { name: 'SHA256SUMS', content: sums },
      // The sums sealed with the barrier key: a snapshot from another cluster cannot be opened
      // with this keyring, which is how Vault tells a foreign snapshot apart.
      { name: 'SHA256SUMS.sealed', content: encrypt(this.barrierKey, sums, SUMS_PURPOSE) },
    ]);
  }

  /** POST sys/storage/raft/snapshot (force=false) or snapshot-force (force=true). */
  restore(archive: Buffer, force: boolean): void {
    if (!this.barrierKey) throw new VaultHttpError(503, ['Vault is sealed']);
    let files: Map<string, Buffer>;
    try {
      files = readTarGz(archive);
    } catch (error) {
      throw new VaultHttpError(500, [`failed to read snapshot file: ${(error as Error).message}`]);
    }
    const meta = files.get('meta.json');
    const stateBin = files.get('state.bin');
    const sums = files.get('SHA256SUMS');
    const sealedSums = files.get('SHA256SUMS.sealed');
    if (!meta || !stateBin || !sums || !sealedSums) throw new VaultHttpError(500, ['failed to read snapshot file: snapshot is missing files']);
    const expected = `${sha256(meta)}  meta.json\n${sha256(stateBin)}  state.bin\n`;
    if (sums.toString() !== expected) throw new VaultHttpError(500, ['failed to verify snapshot: sha256 hash mismatch']);
    let sameKeys: boolean;
    try {
      sameKeys = decrypt(this.barrierKey, sealedSums, SUMS_PURPOSE).equals(sums);
    } catch {
      sameKeys = false;
    }
    if (!force && !sameKeys) throw badRequest(SNAPSHOT_DIFFERENT_KEYS);
    const restored = JSON.parse(stateBin.toString('utf8')) as StorageFile;
    if (restored.format !== 'vault-sim/1' || !restored.seal_config || !restored.keyring || !restored.data) {
      throw new VaultHttpError(500, ['failed to restore snapshot: invalid snapshot contents']);
    }
    this.file = { ...restored, raft_index: Math.max(this.file.raft_index, restored.raft_index) + 1 };
    this.storage.write(this.file);
    this.log('INFO', 'storage.raft: snapshot restore complete');
    this.busyUntil = Date.now() + RESTORE_MS;
    if (!sameKeys) {
      // The restored keyring belongs to the snapshot's cluster: the post-restore invalidations
      // fail to read the root key and seal the node; only that cluster's unseal keys open it.
      setTimeout(() => {
        this.log('INFO', 'core: failed to perform key upgrades, sealing: error="error reloading root key: failed to read root key path: decryption failed: cipher: message authentication failed"');
        this.seal();
      }, RESTORE_MS).unref();
      return;
    }
    this.state = JSON.parse(decrypt(this.barrierKey, Buffer.from(restored.data, 'base64'), DATA_PURPOSE).toString('utf8')) as VaultState;
  }
}

// The storage file and its encryption, shaped after Vault's security barrier
// (https://developer.hashicorp.com/vault/docs/internals/security and /docs/internals/architecture):
// everything Vault keeps is encrypted with AES-256-GCM under a barrier key; the barrier key (the
// "keyring") is encrypted with the root key; the root key exists only in memory, rebuilt at unseal
// time from the Shamir shares handed out by init.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** AES-256-GCM: nonce || ciphertext || tag, with the purpose bound in as associated data. */
export function encrypt(key: Buffer, plaintext: Buffer, purpose: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Throws when the key is wrong or the data was altered (GCM authentication fails). */
export function decrypt(key: Buffer, sealed: Buffer, purpose: string): Buffer {
  if (key.length !== KEY_BYTES || sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('cipher: message authentication failed');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error('cipher: message authentication failed');
  }
}

export interface SealConfig {
  type: 'shamir';
  secret_shares: number;
  secret_threshold: number;
}

/** What lies on disk. Only the seal configuration is readable without the keys, as in Vault. */
export interface StorageFile {
  format: 'vault-sim/1';
  seal_config: SealConfig | null;
  /** base64 of the barrier key sealed with the root key */
  keyring: string | null;
  /** base64 of the JSON state sealed with the barrier key */
  data: string | null;
  raft_index: number;
}

export const STORAGE_FILE_NAME = 'vault-sim.db';

export class RaftStorage {
  readonly file: string;

  constructor(readonly directory: string) {
    this.file = join(directory, STORAGE_FILE_NAME);
  }

  /** Checks the directory like raft does when it opens its bolt files. */
  open(): void {
    // raft opens <path>/vault.db first; these are the errors bolt reports for it.
    const boltFile = join(this.directory, 'vault.db');
    if (!existsSync(this.directory)) {
      throw new Error(`failed to create fsm: failed to open bolt file: open ${boltFile}: no such file or directory`);
    }
    try {
      accessSync(this.directory, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(`failed to create fsm: failed to open bolt file: open ${boltFile}: permission denied`);
    }
    // raft keeps its log under <path>/raft; created like Vault does so the layout looks familiar.
    mkdirSync(join(this.directory, 'raft'), { recursive: true, mode: 0o700 });
  }

  read(): StorageFile {
    if (!existsSync(this.file)) return { format: 'vault-sim/1', seal_config: null, keyring: null, data: null, raft_index: 0 };
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as StorageFile;
    if (parsed.format !== 'vault-sim/1') throw new Error(`unknown storage format in ${this.file}`);
    return parsed;
  }

  /** Atomic write: temp file in the same directory, fsync, rename. */
  write(content: StorageFile): void {
    const temporary = `${this.file}.tmp-${process.pid}`;
    writeFileSync(temporary, JSON.stringify(content), { mode: 0o600 });
    const descriptor = openSync(temporary, 'r');
    try {
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporary, this.file);
  }
}

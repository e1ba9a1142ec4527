/**
 * Local custody: the few secrets the product must never lose (the CA key that signs the Vault server
 * certificate, and later the init answer with the unseal keys and root token, and issued tokens).
 *
 * They live in custodyDir(profile) — the XDG data dir, not the config dir, because they are data the
 * user must back up, not settings. Rules, all enforced here so no caller can get them wrong:
 *  - the directory is 0700 (tightened when looser), every file 0600 and owned by the current user;
 *  - a write is atomic and durable: temp file in the same directory (rename is atomic only within one
 *    file system), write, fsync, then link/rename into place, then fsync the directory so the new name
 *    survives a power cut. A crash at any instant leaves the old file or the new one, never a part;
 *  - an existing file is never overwritten unless the caller says `replace: true`, and then the old
 *    content is kept beside it as `NAME.bak-<timestamp>` (a second copy of an unseal key is cheaper
 *    than no copy);
 *  - optional passphrase protection: scrypt (N=2^15, r=8, p=1, random 16-byte salt) derives an
 *    AES-256-GCM key (random 12-byte nonce); the file is then a small JSON envelope. The envelope's
 *    header (version and KDF parameters) is authenticated as GCM additional data, so it cannot be
 *    altered to weaken the KDF without decryption failing.
 *    scrypt: RFC 7914; parameters as recommended for interactive use in
 *    https://nodejs.org/api/crypto.html#cryptoscryptpassword-salt-keylen-options-callback
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readFile, readdir, rename, stat, statfs, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { InputError, UserError } from '../core/errors.js';
import { validateProfileName } from '../core/validate.js';
import { custodyDir } from './paths.js';

export const CUSTODY_DIR_MODE = 0o700;
export const CUSTODY_FILE_MODE = 0o600;

/** Marks a file as an encrypted envelope; plain custody content (e.g. an init answer in JSON) never has it. */
const ENVELOPE_MARK = 'picluster-vault-tui custody';

interface ScryptParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

interface Envelope {
  envelope: typeof ENVELOPE_MARK;
  v: 1;
  kdf: ScryptParams;
  cipher: 'aes-256-gcm';
  /** base64 of the 12-byte nonce */
  iv: string;
  /** base64 of the 16-byte GCM tag */
  tag: string;
  /** base64 of the ciphertext */
  data: string;
}

const SCRYPT_N = 2 ** 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
/** Refuse envelopes whose KDF is weaker than we write or absurdly expensive (a tampered file). */
const SCRYPT_N_MIN = 2 ** 15;
const SCRYPT_N_MAX = 2 ** 20;

export interface WriteCustodyOptions {
  /** Encrypt the content with this passphrase. */
  passphrase?: string;
  /** Replace an existing file; the old one is kept as NAME.bak-<timestamp>. */
  replace?: boolean;
}

export interface ReadCustodyOptions {
  /** Needed when the file was written with a passphrase. */
  passphrase?: string;
}

/** A custody file name: one plain file name, no directories, no hidden or temp names. */
function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name) || name.includes('..') || /\.bak-|\.tmp$/.test(name)) {
    throw new InputError(`"${name}" is not a valid custody file name`, { field: 'custody name' });
  }
}

function checkProfile(profile: string): void {
  const message = validateProfileName(profile);
  if (message) throw new InputError(message, { field: '--profile' });
}

export function custodyPath(profile: string, name: string): string {
  checkProfile(profile);
  checkName(name);
  return path.join(custodyDir(profile), name);
}

export async function custodyExists(profile: string, name: string): Promise<boolean> {
  try {
    await lstat(custodyPath(profile, name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Whether the file is a passphrase-protected envelope (so the caller knows to ask for the passphrase). */
export async function custodyIsEncrypted(profile: string, name: string): Promise<boolean> {
  const content = await readCustodyFile(custodyPath(profile, name));
  return parseEnvelope(content) !== undefined;
}

export async function writeCustody(profile: string, name: string, data: string | Buffer, options: WriteCustodyOptions = {}): Promise<string> {
  const target = custodyPath(profile, name);
  const directory = path.dirname(target);
  await ensureDirectory(directory);
  await removeStaleTempFiles(directory, name);

  const plain = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const content = options.passphrase === undefined ? plain : await seal(plain, options.passphrase);

  const temp = path.join(directory, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, CUSTODY_FILE_MODE);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.replace) {
      const previous = await lstatOrUndefined(target);
      if (previous) {
        // A hard link keeps the old content under a new name without a moment where neither exists.
        await link(target, `${target}.bak-${timestampForFileName()}`);
      }
      await rename(temp, target);
    } else {
      // link(2) fails with EEXIST instead of replacing: the no-overwrite rule holds even against a
      // concurrent writer, which a check-then-rename could not promise.
      try {
        await link(temp, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UserError(`${target} already exists; custody files are never overwritten`, {
            hint: 'keep the existing file (it may be the only copy of a key); move it away yourself if it must be replaced',
          });
        }
        throw error;
      }
      await unlink(temp);
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
  return target;
}

/** Below this much free space on custody's file system nothing is initialized (an init answer is ~1 KiB). */
export const CUSTODY_MIN_FREE_BYTES = 1024 * 1024;

/**
 * Proves, before something that cannot be undone (sys/init), that custody can take `name`: the
 * directory is made (0700), a file of `bytes` is written there exactly as writeCustody writes
 * (O_EXCL, O_NOFOLLOW, 0600, fsync), linked to a second name (writeCustody links into place),
 * removed, and the directory fsynced; the file system must keep CUSTODY_MIN_FREE_BYTES free.
 * Throws a UserError saying what failed and how to fix it; nothing is left behind.
 */
export async function proveCustodyWritable(profile: string, name: string, bytes = 16 * 1024): Promise<void> {
  const target = custodyPath(profile, name);
  const directory = path.dirname(target);
  const fail = (what: string, error: unknown): UserError => {
    const code = (error as NodeJS.ErrnoException).code;
    return new UserError(`custody cannot keep ${name}: ${what} in ${directory} failed (${code ?? (error as Error).message})`, {
      hint:
        code === 'ENOSPC' || code === 'EDQUOT'
          ? `free some space on the disk that holds ${directory}, or point XDG_DATA_HOME at another disk; nothing was initialized`
          : `${directory} must be a directory you own (mode 0700) on a writable local disk: fix it (ls -ld ${directory}), or point XDG_DATA_HOME elsewhere; nothing was initialized`,
    });
  };
  try {
    await ensureDirectory(directory);
  } catch (error) {
    throw fail('making the directory', error);
  }
  const probe = path.join(directory, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const linked = `${probe.slice(0, -'.tmp'.length)}.link.tmp`;
  try {
    const handle = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, CUSTODY_FILE_MODE);
    try {
      await handle.writeFile(randomBytes(bytes));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(probe, linked);
    await syncDirectory(directory);
  } catch (error) {
    throw fail('a test write', error);
  } finally {
    await unlink(linked).catch(() => undefined);
    await unlink(probe).catch(() => undefined);
  }
  const space = await statfs(directory);
  const free = Number(space.bavail) * Number(space.bsize);
  if (free < CUSTODY_MIN_FREE_BYTES) {
    throw fail(`keeping ${CUSTODY_MIN_FREE_BYTES} bytes free (${free} left)`, Object.assign(new Error('low space'), { code: 'ENOSPC' }));
  }
}

/**
 * When custody itself failed after the fact: the content is written, once, to the first place that
 * takes it — custody's directory under another name, the home directory, the working directory —
 * as a new 0600 file (O_EXCL, O_NOFOLLOW, fsync, directory fsync). Returns its path, or undefined
 * when no place took it (the caller then has only the terminal left).
 */
export async function writeLastCopy(profile: string, name: string, data: string): Promise<string | undefined> {
  const file = `picluster-vault-tui-${profile}-${name}-${timestampForFileName()}`;
  const places = [...new Set([path.dirname(custodyPath(profile, name)), homedir(), process.cwd()])];
  for (const place of places) {
    const target = path.join(place, file);
    let created = false;
    try {
      const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, CUSTODY_FILE_MODE);
      created = true;
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await syncDirectory(place);
      return target;
    } catch {
      // Only a file this attempt created (and could not finish) is removed, never one found there.
      if (created) await unlink(target).catch(() => undefined);
    }
  }
  return undefined;
}

export async function readCustody(profile: string, name: string, options: ReadCustodyOptions = {}): Promise<Buffer> {
  const file = custodyPath(profile, name);
  const content = await readCustodyFile(file);
  const envelope = parseEnvelope(content);
  if (!envelope) return content;
  if (options.passphrase === undefined) {
    throw new InputError(`${file} is protected by a passphrase`, {
      field: 'passphrase',
      hint: 'enter the custody passphrase chosen when the file was written',
    });
  }
  return openEnvelope(envelope, options.passphrase, file);
}

async function readCustodyFile(file: string): Promise<Buffer> {
  let info: Stats;
  try {
    info = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(`${file} does not exist`, { hint: 'custody files are created by the setup step that needs them' });
    }
    throw error;
  }
  if (!info.isFile()) throw new UserError(`${file} is not a regular file`, { hint: 'custody files are never symlinks; remove it and restore the real file' });
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new UserError(`${file} belongs to uid ${info.uid}, not to you (uid ${uid})`, { hint: `check who wrote it; then: chown $(id -u) ${file}` });
  }
  if ((info.mode & 0o077) !== 0) {
    // Like ssh with a private key: a secret others could read may already be compromised; say so
    // rather than quietly fixing the mode.
    throw new UserError(`${file} has mode 0${(info.mode & 0o777).toString(8)}: others can read it`, {
      hint: `check who could have read it, then: chmod 600 ${file}`,
    });
  }
  return readFile(file);
}

async function ensureDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: CUSTODY_DIR_MODE });
  const info = await stat(directory);
  if ((info.mode & 0o777 & ~CUSTODY_DIR_MODE) !== 0) await chmod(directory, CUSTODY_DIR_MODE);
}

/** Temp files of writes whose process died (a crash mid-write); a live process's temp is left alone. */
async function removeStaleTempFiles(directory: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  for (const entry of await readdir(directory)) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.tmp')) continue;
    const pid = Number(entry.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) {
      await unlink(path.join(directory, entry)).catch(() => undefined);
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** fsync of a directory: a file created or renamed in it survives a power cut. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** 2026-11-28T16-29-38-123Z: sortable, and free of ':' (awkward in file names on some systems). */
/** Now as a file-name-safe ISO 8601 stamp (`2026-12-03T14-05-09-123Z`). */
export function timestampForFileName(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function deriveKey(passphrase: string, params: ScryptParams): Promise<Buffer> {
  const salt = Buffer.from(params.salt, 'base64');
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that for N=2^15, r=8, and
  // the check is strict, so allow twice the need.
  const maxmem = 256 * params.N * params.r;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function headerOf(envelope: Pick<Envelope, 'envelope' | 'v' | 'kdf' | 'cipher'>): Buffer {
  return Buffer.from(JSON.stringify({ envelope: envelope.envelope, v: envelope.v, kdf: envelope.kdf, cipher: envelope.cipher }), 'utf8');
}

async function seal(plain: Buffer, passphrase: string): Promise<Buffer> {
  if (passphrase.length === 0) throw new InputError('the custody passphrase is empty', { field: 'passphrase' });
  const kdf: ScryptParams = { name: 'scrypt', N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt: randomBytes(16).toString('base64') };
  const key = await deriveKey(passphrase, kdf);
  const iv = randomBytes(12);
  const partial = { envelope: ENVELOPE_MARK, v: 1, kdf, cipher: 'aes-256-gcm' } as const;
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(headerOf(partial));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const envelope: Envelope = { ...partial, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  key.fill(0);
  return Buffer.from(JSON.stringify(envelope) + '\n', 'utf8');
}

function parseEnvelope(content: Buffer): Envelope | undefined {
  // Cheap test first: plain content (PEM, or an init answer in JSON) never carries the mark.
  if (!content.includes(ENVELOPE_MARK)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { envelope?: unknown }).envelope !== ENVELOPE_MARK) return undefined;
  return parsed as Envelope;
}

function openEnvelope(envelope: Envelope, passphrase: string, file: string): Promise<Buffer> {
  const { kdf } = envelope;
  const valid =
    envelope.v === 1 &&
    envelope.cipher === 'aes-256-gcm' &&
    kdf?.name === 'scrypt' &&
    Number.isInteger(kdf.N) &&
    kdf.N >= SCRYPT_N_MIN &&
    kdf.N <= SCRYPT_N_MAX &&
    (kdf.N & (kdf.N - 1)) === 0 &&
    kdf.r === SCRYPT_R &&
    kdf.p === SCRYPT_P &&
    typeof kdf.salt === 'string' &&
    Buffer.from(kdf.salt, 'base64').length >= 16 &&
    typeof envelope.iv === 'string' &&
    Buffer.from(envelope.iv, 'base64').length === 12 &&
    typeof envelope.tag === 'string' &&
    Buffer.from(envelope.tag, 'base64').length === 16 &&
    typeof envelope.data === 'string';
  if (!valid) {
    return Promise.reject(
      new UserError(`${file} is not a custody envelope this version can read (unknown version or parameters)`, {
        hint: 'restore the file from a backup',
      }),
    );
  }
  return deriveKey(passphrase, kdf).then((key) => {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(headerOf(envelope));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]);
    } catch {
      throw new InputError(`wrong passphrase for ${file} (or the file was altered)`, {
        field: 'passphrase',
        hint: 'enter the passphrase chosen when the file was written; the file was left untouched',
      });
    } finally {
      key.fill(0);
    }
  });
}


/**
 * Raft snapshots of Vault, kept in local custody: `GET /v1/sys/storage/raft/snapshot` streamed into
 * `<custody dir>/snapshots/vault-<UTC timestamp>.snap`.
 *
 * A snapshot holds every secret of Vault (encrypted with its barrier keys, which the unseal keys in
 * the same custody directory open), so it is handled like the rest of custody:
 *  - the directory is 0700 (tightened when looser), the file 0600 from the moment it exists;
 *  - the body is streamed to a temp name in the same directory, fsynced, then linked under its final
 *    name (link(2) never replaces an existing snapshot) and the directory fsynced: a crash or a cut
 *    connection leaves no file that looks like a complete snapshot;
 *  - TLS is verified with our CA, explicitly, so no environment variable switches it off; the token
 *    travels in the X-Vault-Token header.
 * The sha256 and size are computed while streaming, so the caller can show them without reading the
 * file again.
 *
 * Only node built-ins are imported (plus the error mapping shared with services/vault.ts): the TUI's
 * `b` key and the `snapshot` command must not pay for node-vault.
 * API: https://developer.hashicorp.com/vault/api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { syncDirectory } from '../profile/custody.js';
import { custodyDir } from '../profile/paths.js';
import { verifiedAgent } from './verified-tls.js';
import { describeVaultError, vaultAnswerError } from './vault.js';

export const SNAPSHOT_DIR_NAME = 'snapshots';
export const SNAPSHOT_DIR_MODE = 0o700;
export const SNAPSHOT_FILE_MODE = 0o600;
/** Vault writes raft snapshots as gzipped tar archives; anything else is not a snapshot. */
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** No answer at all for this long is a dead connection (a large snapshot still streams in time). */
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Where Vault is and how to reach it: what an AuthenticatedVault is made from. */
export interface SnapshotVault {
  /** e.g. https://192.168.1.50:8200 */
  address: string;
  /** PEM of the CA that signed Vault's certificate. */
  caPem: string;
  /** A token allowed to read sys/storage/raft/snapshot (root, or `sudo` on that path). */
  token: string;
}

export interface SnapshotOptions {
  vault: SnapshotVault;
  profileName: string;
  signal?: AbortSignal;
  /** Clock for the file name (tests). */
  now?: () => Date;
  /** Give up when no data arrives for this long. */
  idleTimeoutMs?: number;
}

export interface SnapshotResult {
  /** Absolute path of the snapshot file. */
  file: string;
  bytes: number;
  /** Hex SHA-256 of the file's content. */
  sha256: string;
}

export function snapshotDir(profileName: string): string {
  return path.join(custodyDir(profileName), SNAPSHOT_DIR_NAME);
}

/** vault-20261128T162938Z: sortable, UTC, no ':' (awkward in file names on some systems). */
export function snapshotBaseName(at: Date): string {
  return `vault-${at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}`;
}

/** Takes a raft snapshot into custody; see the module comment for the guarantees. */
export async function takeSnapshot(options: SnapshotOptions): Promise<SnapshotResult> {
  const { vault, signal } = options;
  if (vault.token.length === 0) throw new UserError('an empty Vault token was given');
  signal?.throwIfAborted();
  const directory = snapshotDir(options.profileName);
  await ensurePrivateDirectory(custodyDir(options.profileName));
  await ensurePrivateDirectory(directory);

  const baseName = snapshotBaseName((options.now ?? (() => new Date()))());
  const temp = path.join(directory, `.${baseName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL|O_NOFOLLOW: a name planted in advance (or a symlink) is never written through.
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, SNAPSHOT_FILE_MODE);
  let finalName: string | undefined;
  try {
    let written: { bytes: number; sha256: string };
    try {
      written = await streamSnapshot(vault, handle, { signal, idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS });
      await handle.sync();
    } finally {
      await handle.close();
    }
    finalName = await linkUnderFreeName(temp, directory, baseName);
    await unlink(temp);
    await syncDirectory(directory);
    return { file: finalName, ...written };
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** mkdir -p with 0700, and 0700 enforced when the directory already existed looser. */
async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: SNAPSHOT_DIR_MODE });
  const info = await stat(directory);
  if ((info.mode & 0o777) !== SNAPSHOT_DIR_MODE) await chmod(directory, SNAPSHOT_DIR_MODE);
}

/** Two snapshots in the same second get -2, -3…: an earlier snapshot is never replaced. */
async function linkUnderFreeName(temp: string, directory: string, baseName: string): Promise<string> {
  for (let attempt = 1; attempt < 1000; attempt++) {
    const candidate = path.join(directory, `${baseName}${attempt === 1 ? '' : `-${attempt}`}.snap`);
    try {
      await link(temp, candidate);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new UserError(`too many snapshots named ${baseName}*.snap in ${directory}`);
}

function snapshotUrl(address: string): URL {
  const base = address.endsWith('/') ? address : `${address}/`;
  return new URL('v1/sys/storage/raft/snapshot', base);
}

const WHAT = 'GET /v1/sys/storage/raft/snapshot';

/**
 * Streams the body into `handle`, hashing and counting as it goes. Backpressure: the response is
 * paused while a chunk is written, so a slow disk never makes the snapshot pile up in memory.
 */
function streamSnapshot(vault: SnapshotVault, handle: FileHandle, options: { signal: AbortSignal | undefined; idleTimeoutMs: number }): Promise<{ bytes: number; sha256: string }> {
  const url = snapshotUrl(vault.address);
  // Its own agent: verification stays on whatever NODE_TLS_REJECT_UNAUTHORIZED says (verified-tls.ts).
  const agent = verifiedAgent(vault.caPem);
  const streamed = new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      request.destroy();
      reject(error);
    };
    const request = httpsRequest(
      url,
      {
        method: 'GET',
        agent,
        headers: { 'X-Vault-Token': vault.token, accept: 'application/octet-stream' },
        timeout: options.idleTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (response: IncomingMessage) => {
        if (response.statusCode !== 200) {
          collectError(response, vault.address).then(fail, fail);
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        let chain = Promise.resolve();
        response.on('data', (chunk: Buffer) => {
          if (settled) return;
          if (bytes === 0 && chunk.length >= 2 && !chunk.subarray(0, 2).equals(GZIP_MAGIC)) {
            fail(new UserError(`Vault at ${vault.address} answered ${WHAT} with something that is not a snapshot (no gzip header)`));
            return;
          }
          bytes += chunk.length;
          hash.update(chunk);
          response.pause();
          chain = chain.then(async () => {
            await handle.write(chunk);
            response.resume();
          });
          chain.catch(fail);
        });
        response.on('error', fail);
        response.on('aborted', () => fail(new UserError(`Vault at ${vault.address} closed the connection in the middle of the snapshot`)));
        response.on('end', () => {
          chain.then(() => {
            if (settled) return;
            if (!response.complete) return fail(new UserError(`Vault at ${vault.address} closed the connection in the middle of the snapshot`));
            if (bytes === 0) return fail(new UserError(`Vault at ${vault.address} answered ${WHAT} with an empty body`));
            settled = true;
            resolve({ bytes, sha256: hash.digest('hex') });
          }, fail);
        });
      },
    );
    request.on('timeout', () => fail(new UserError(`no data from Vault at ${vault.address} for ${Math.round(options.idleTimeoutMs / 1000)} s while taking the snapshot`)));
    request.on('error', (error: Error) => {
      if (error.name === 'AbortError') return fail(error);
      fail(describeVaultError(error, WHAT, vault.address));
    });
    request.end();
  });
  return streamed.finally(() => agent.destroy());
}

/** A non-200 answer as the same message the rest of the product gives for it (403, 503 sealed…). */
async function collectError(response: IncomingMessage, address: string): Promise<UserError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    // An error body is a small JSON document; never buffer more than that.
    if (size < 64 * 1024) chunks.push(chunk);
    size += chunk.length;
  }
  let errors: string[] = [];
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errors?: unknown };
    if (Array.isArray(body.errors)) errors = body.errors.map(String);
  } catch {
    // Not JSON: the status code alone says it.
  }
  const statusCode = response.statusCode ?? 0;
  if (statusCode === 307 || statusCode === 308) {
    return new UserError(`Vault at ${address} is a standby and redirects ${WHAT} to ${String(response.headers.location ?? 'the active node')}`, {
      hint: 'point vault.apiAddress at the active node and take the snapshot there',
    });
  }
  return vaultAnswerError(statusCode, errors, WHAT, address);
}

/**
 * takeSnapshot (source/services/snapshot.ts) against the lab's Vault simulator run as a process over
 * verified TLS: the file lands in custody 0600 inside a 0700 directory, its size and sha256 are the
 * bytes on disk, and the simulator's restore endpoint accepts it and brings the data back.
 * API: https://developer.hashicorp.com/vault/api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster
 *      https://developer.hashicorp.com/vault/api-docs/system/storage/raft#restore-raft-using-a-snapshot
 */
import { waitForActive } from '../support/wait-active.js';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { custodyDir } from '../../source/profile/paths.js';
import { snapshotBaseName, snapshotDir, takeSnapshot } from '../../source/services/snapshot.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

const VERSION = '2.0.4';
const PROFILE = 'snap';

let dir: string;
let tls: TlsMaterial;
let vault: VaultProcess;
let rootToken: string;
let unsealKeys: string[];
const savedXdg = process.env['XDG_DATA_HOME'];

const call = (options: Parameters<typeof vaultRequest>[2]) => vaultRequest(vault.url, tls.caPem, options);
const endpoint = () => ({ address: vault.url, caPem: tls.caPem, token: rootToken });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pvt-snapshot-'));
  process.env['XDG_DATA_HOME'] = path.join(dir, 'data');
  const executable = await writeVaultExecutable(path.join(dir, 'bin'), VERSION);
  tls = await makeTlsMaterial(path.join(dir, 'tls'));
  vault = await startVault({ executable, dir: path.join(dir, 'node'), tls });
  const init = await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 3, secret_threshold: 2 } });
  rootToken = init.json.root_token;
  unsealKeys = init.json.keys;
  for (const key of unsealKeys.slice(0, 2)) await call({ method: 'PUT', path: 'sys/unseal', body: { key } });
  await waitForActive(vault.url, tls.caPem);
  expect((await call({ method: 'POST', path: 'sys/mounts/secret', token: rootToken, body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
  expect((await call({ method: 'POST', path: 'secret/data/app/db', token: rootToken, body: { data: { password: 'in-the-snapshot' } } })).status).toBe(200);
});

afterAll(async () => {
  await vault?.stop();
  if (savedXdg === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = savedXdg;
  await rm(dir, { recursive: true, force: true });
});

async function leftovers(): Promise<string[]> {
  return (await readdir(snapshotDir(PROFILE)).catch(() => [] as string[])).filter((name) => name.endsWith('.tmp'));
}

describe('takeSnapshot against the Vault simulator', () => {
  it('writes custody/snapshots/vault-<UTC>.snap: file 0600, directories 0700, size and sha256 of the bytes on disk', async () => {
    const now = new Date('2026-11-28T16:29:38.512Z');
    const result = await takeSnapshot({ vault: endpoint(), profileName: PROFILE, now: () => now });
    expect(result.file).toBe(path.join(custodyDir(PROFILE), 'snapshots', 'vault-20261128T162938Z.snap'));
    const content = await readFile(result.file);
    expect(content.subarray(0, 2).toString('hex')).toBe('1f8b');
    expect(result.bytes).toBe(content.length);
    expect(result.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect((await stat(result.file)).mode & 0o777).toBe(0o600);
    expect((await stat(snapshotDir(PROFILE))).mode & 0o777).toBe(0o700);
    expect((await stat(custodyDir(PROFILE))).mode & 0o777).toBe(0o700);
    expect(await leftovers()).toEqual([]);
  });

  it("the simulator's restore endpoint (POST sys/storage/raft/snapshot) accepts the file and the data comes back", async () => {
    const result = await takeSnapshot({ vault: endpoint(), profileName: PROFILE });
    await call({ method: 'POST', path: 'secret/data/app/db', token: rootToken, body: { data: { password: 'after-the-snapshot' } } });
    await call({ method: 'DELETE', path: 'secret/metadata/app/db', token: rootToken });
    expect((await call({ path: 'secret/data/app/db', token: rootToken })).status).toBe(404);

    const restored = await call({ method: 'POST', path: 'sys/storage/raft/snapshot', token: rootToken, raw: await readFile(result.file) });
    expect(restored.status, restored.raw.toString()).toBe(204);
    const read = await call({ path: 'secret/data/app/db', token: rootToken });
    expect(read.json.data.data).toEqual({ password: 'in-the-snapshot' });
  });

  it('two snapshots in the same second: the second is -2, the first is never replaced', async () => {
    const now = new Date('2026-12-01T00:00:00.000Z');
    const first = await takeSnapshot({ vault: endpoint(), profileName: PROFILE, now: () => now });
    const firstContent = await readFile(first.file);
    const second = await takeSnapshot({ vault: endpoint(), profileName: PROFILE, now: () => now });
    expect(path.basename(first.file)).toBe('vault-20261201T000000Z.snap');
    expect(path.basename(second.file)).toBe('vault-20261201T000000Z-2.snap');
    expect((await readFile(first.file)).equals(firstContent)).toBe(true);
  });

  it('a snapshot directory left 0755 is tightened to 0700', async () => {
    await chmod(snapshotDir(PROFILE), 0o755);
    await takeSnapshot({ vault: endpoint(), profileName: PROFILE });
    expect((await stat(snapshotDir(PROFILE))).mode & 0o777).toBe(0o700);
  });

  it('a token without the right: UserError "permission denied", no file left behind', async () => {
    const before = await readdir(snapshotDir(PROFILE));
    const created = await call({ method: 'POST', path: 'auth/token/create', token: rootToken, body: { policies: ['default'], ttl: '5m' } });
    const weak = created.json.auth.client_token as string;
    const failure = await takeSnapshot({ vault: { ...endpoint(), token: weak }, profileName: PROFILE }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).message).toMatch(/^permission denied: the token lacks the rights for GET \/v1\/sys\/storage\/raft\/snapshot/);
    expect(await readdir(snapshotDir(PROFILE))).toEqual(before);
  });

  it('a CA that did not sign the server certificate: refused as untrusted TLS, nothing written', async () => {
    const other = await makeTlsMaterial(path.join(dir, 'other-ca'));
    const before = await readdir(snapshotDir(PROFILE));
    const failure = await takeSnapshot({ vault: { ...endpoint(), caPem: other.caPem }, profileName: PROFILE }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).message).toMatch(/TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted/);
    expect(await readdir(snapshotDir(PROFILE))).toEqual(before);
  });

  it('an aborted snapshot rejects with AbortError and leaves no temp file', async () => {
    const before = await readdir(snapshotDir(PROFILE));
    const controller = new AbortController();
    const pending = takeSnapshot({ vault: endpoint(), profileName: PROFILE, signal: controller.signal });
    controller.abort();
    const failure = await pending.catch((error: unknown) => error);
    expect((failure as Error).name).toBe('AbortError');
    expect(await readdir(snapshotDir(PROFILE))).toEqual(before);
  });

  it('a sealed Vault: UserError saying it is sealed, with the unseal hint', async () => {
    expect((await call({ method: 'PUT', path: 'sys/seal', token: rootToken })).status).toBe(204);
    try {
      const failure = await takeSnapshot({ vault: endpoint(), profileName: PROFILE }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(UserError);
      expect((failure as UserError).message).toMatch(/is sealed/);
      expect((failure as UserError).hint).toMatch(/unseal/);
      expect(await leftovers()).toEqual([]);
    } finally {
      for (const key of unsealKeys.slice(0, 2)) await call({ method: 'PUT', path: 'sys/unseal', body: { key } });
  await waitForActive(vault.url, tls.caPem);
    }
  });
});

describe('snapshot file names', () => {
  it('vault-YYYYMMDDTHHMMSSZ in UTC, whatever the local time zone', () => {
    expect(snapshotBaseName(new Date('2027-01-02T03:04:05.999Z'))).toBe('vault-20270102T030405Z');
  });

  it('mkdir of a fresh custody directory is 0700 even under a permissive umask', async () => {
    const previous = process.umask(0o000);
    try {
      const result = await takeSnapshot({ vault: endpoint(), profileName: 'fresh-profile' });
      expect((await stat(custodyDir('fresh-profile'))).mode & 0o777).toBe(0o700);
      expect((await stat(path.dirname(result.file))).mode & 0o777).toBe(0o700);
      expect((await stat(result.file)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });
});

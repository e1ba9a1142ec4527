// Conformance of the lab's Vault simulator: init, unseal, seal, health, restart, snapshots and
// the server command line, run against the packaged `vault` executable over verified TLS.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

const run = promisify(execFile);
const VERSION = '2.0.4';

let dir: string;
let executable: string;
let tls: TlsMaterial;
let vault: VaultProcess;

const call = (options: Parameters<typeof vaultRequest>[2]) => vaultRequest(vault.url, tls.caPem, options);

async function initVault(shares = 5, threshold = 3): Promise<{ keys: string[]; keys_base64: string[]; root_token: string }> {
  const response = await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: shares, secret_threshold: threshold } });
  expect(response.status).toBe(200);
  return response.json;
}

async function unsealWith(keys: string[]) {
  let last;
  for (const key of keys) last = await call({ method: 'PUT', path: 'sys/unseal', body: { key } });
  return last!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-sim-seal-'));
  executable = await writeVaultExecutable(join(dir, 'bin'), VERSION);
  tls = await makeTlsMaterial(join(dir, 'tls'));
});

afterAll(async () => {
  await vault?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('vault server lifecycle (https://developer.hashicorp.com/vault/api-docs/system/init, /system/unseal)', () => {
  let init: { keys: string[]; keys_base64: string[]; root_token: string };

  it('starts uninitialized: sys/health 501, seal-status initialized=false (api-docs/system/health, /system/seal-status)', async () => {
    vault = await startVault({ executable, dir: join(dir, 'node'), tls });
    expect(vault.stderr()).toContain('==> Vault server configuration:');
    expect(vault.stderr()).toMatch(/\[INFO\] {2}core: security barrier not initialized/);
    const health = await call({ path: 'sys/health' });
    expect(health.status).toBe(501);
    expect(health.json).toMatchObject({ initialized: false, sealed: true, version: VERSION });
    const status = await call({ path: 'sys/seal-status' });
    expect(status.json).toMatchObject({ type: 'shamir', initialized: false, sealed: true, t: 0, n: 0, progress: 0, storage_type: 'raft' });
    expect((await call({ path: 'sys/init' })).json).toEqual({ initialized: false });
    expect((await call({ path: 'sys/health?uninitcode=200' })).status).toBe(200);
    const head = await call({ method: 'HEAD', path: 'sys/health' });
    expect(head.status).toBe(501);
    expect(head.raw.length).toBe(0);
  });

  it('rejects an invalid seal configuration (api-docs/system/init)', async () => {
    const response = await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 2, secret_threshold: 3 } });
    expect(response.status).toBe(400);
    expect(response.json.errors[0]).toBe('invalid seal configuration: threshold cannot be larger than shares');
  });

  it('init returns hex keys, base64 keys and a root token; a second init is refused (api-docs/system/init)', async () => {
    init = await initVault(5, 3);
    expect(init.keys).toHaveLength(5);
    expect(init.keys_base64).toHaveLength(5);
    for (const [index, hex] of init.keys.entries()) {
      // Vault's shamir shares: 32 key bytes + 1 x-coordinate byte.
      expect(hex).toMatch(/^[0-9a-f]{66}$/);
      expect(Buffer.from(init.keys_base64[index]!, 'base64').toString('hex')).toBe(hex);
    }
    expect(init.root_token).toMatch(/^hvs\.[A-Za-z0-9]{24}$/);
    const again = await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 1, secret_threshold: 1 } });
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ errors: ['Vault is already initialized'] });
    const health = await call({ path: 'sys/health' });
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ initialized: true, sealed: true });
    expect((await call({ path: 'sys/health?sealedcode=299' })).status).toBe(299);
    // Sealed: logical paths answer 503 "Vault is sealed".
    const sealed = await call({ path: 'sys/mounts', token: init.root_token });
    expect(sealed.status).toBe(503);
    expect(sealed.json).toEqual({ errors: ['Vault is sealed'] });
  });

  it('unseals with any threshold shares in any order, reporting progress and nonce (api-docs/system/unseal)', async () => {
    const first = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } });
    expect(first.json).toMatchObject({ sealed: true, t: 3, n: 5, progress: 1 });
    expect(first.json.nonce).toMatch(/^[0-9a-f-]{36}$/);
    // The same share again does not advance progress.
    const repeated = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } });
    expect(repeated.json.progress).toBe(1);
    // A base64 share counts the same as hex.
    const second = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys_base64[1] } });
    expect(second.json).toMatchObject({ progress: 2, nonce: first.json.nonce });
    const done = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[2] } });
    expect(done.json).toMatchObject({ sealed: false, progress: 0, nonce: '' });
    expect(done.json.cluster_name).toMatch(/^vault-cluster-/);
    const health = await call({ path: 'sys/health' });
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ initialized: true, sealed: false, standby: false });
    const leader = await call({ path: 'sys/leader' });
    expect(leader.json).toMatchObject({ ha_enabled: true, is_self: true, leader_address: vault.url });
  });

  it('sys/seal needs a token with sudo, then seals (api-docs/system/seal)', async () => {
    expect((await call({ method: 'PUT', path: 'sys/seal' })).status).toBe(403);
    const sealed = await call({ method: 'PUT', path: 'sys/seal', token: init.root_token });
    expect(sealed.status).toBe(204);
    expect((await call({ path: 'sys/seal-status' })).json.sealed).toBe(true);
  });

  it('a wrong share fails at the threshold with "Unseal failed, invalid key" and resets progress', async () => {
    const wrong = Buffer.from(init.keys[0]!, 'hex');
    wrong[3] = wrong[3]! ^ 0x01; // same x coordinate, different y
    const response = await unsealWith([init.keys[1]!, wrong.toString('hex'), init.keys[3]!]);
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ errors: ['Unseal failed, invalid key'] });
    const status = await call({ path: 'sys/seal-status' });
    expect(status.json).toMatchObject({ sealed: true, progress: 0 });
  });

  it('reset discards progress; keys of the wrong length are refused (api-docs/system/unseal)', async () => {
    await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[0] } });
    const reset = await call({ method: 'PUT', path: 'sys/unseal', body: { reset: true } });
    expect(reset.json).toMatchObject({ sealed: true, progress: 0 });
    const short = await call({ method: 'PUT', path: 'sys/unseal', body: { key: Buffer.alloc(8).toString('base64') } });
    expect(short.status).toBe(400);
    expect(short.json.errors[0]).toBe('invalid key: key is shorter than minimum 32 bytes');
    const garbage = await call({ method: 'PUT', path: 'sys/unseal', body: { key: 'not a key!' } });
    expect(garbage.json.errors[0]).toBe("'key' must be a valid hex or base64 string");
    const missing = await call({ method: 'PUT', path: 'sys/unseal', body: {} });
    expect(missing.json.errors[0]).toBe("'key' must be specified in request body as JSON, or 'reset' set to true");
  });

  it('survives a restart: comes back sealed, data intact after unseal', async () => {
    await unsealWith(init.keys.slice(0, 3));
    const token = init.root_token;
    expect((await call({ method: 'POST', path: 'sys/mounts/secret', token, body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
    expect((await call({ method: 'POST', path: 'secret/data/app/db', token, body: { data: { password: 'before-restart' } } })).status).toBe(200);

    const stored = await readFile(join(dir, 'node', 'data', 'vault-sim.db'), 'utf8');
    expect(stored).not.toContain('before-restart'); // encrypted behind the barrier

    expect(await vault.stop()).toBe(0); // SIGTERM is a clean shutdown
    expect(vault.stderr()).toContain('==> Vault shutdown triggered');
    vault = await startVault({ executable, dir: join(dir, 'node'), tls, port: vault.port });
    expect((await call({ path: 'sys/seal-status' })).json).toMatchObject({ initialized: true, sealed: true, t: 3, n: 5 });
    await unsealWith([init.keys[2]!, init.keys[0]!, init.keys[4]!]);
    const read = await call({ path: 'secret/data/app/db', token });
    expect(read.status).toBe(200);
    expect(read.json.data.data).toEqual({ password: 'before-restart' });
  });

  it('snapshot save + restore brings data back (api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster)', async () => {
    const token = init.root_token;
    const snapshot = await call({ path: 'sys/storage/raft/snapshot', token });
    expect(snapshot.status).toBe(200);
    expect(snapshot.raw.subarray(0, 2).toString('hex')).toBe('1f8b'); // gzip, like Vault's snapshot archive
    await call({ method: 'POST', path: 'secret/data/app/db', token, body: { data: { password: 'after-snapshot' } } });
    await call({ method: 'DELETE', path: 'secret/metadata/app/db', token });
    expect((await call({ path: 'secret/data/app/db', token })).status).toBe(404);

    const restored = await call({ method: 'POST', path: 'sys/storage/raft/snapshot', token, raw: snapshot.raw });
    expect(restored.status).toBe(204);
    const read = await call({ path: 'secret/data/app/db', token });
    expect(read.json.data.data).toEqual({ password: 'before-restart' });
    expect(read.json.data.metadata.version).toBe(1);
  });

  it("mixed shares from two inits fail; another cluster's snapshot needs snapshot-force and its own keys", async () => {
    const other = await startVault({ executable, dir: join(dir, 'other'), tls });
    try {
      const otherCall = (options: Parameters<typeof vaultRequest>[2]) => vaultRequest(other.url, tls.caPem, options);
      const otherInit = (await otherCall({ method: 'PUT', path: 'sys/init', body: { secret_shares: 5, secret_threshold: 3 } })).json;
      // Two shares of the other cluster with one of ours never rebuild either root key.
      let response;
      for (const key of [otherInit.keys[0], init.keys[1], otherInit.keys[2]]) {
        response = await otherCall({ method: 'PUT', path: 'sys/unseal', body: { key } });
      }
      expect(response!.status).toBe(400);
      expect(response!.json.errors[0]).toMatch(/^(Unseal failed, invalid key|invalid key: failed to compute combined key: duplicate part detected)$/);
      for (const key of otherInit.keys.slice(0, 3)) await otherCall({ method: 'PUT', path: 'sys/unseal', body: { key } });
      const otherToken = otherInit.root_token;
      await otherCall({ method: 'POST', path: 'sys/mounts/secret', token: otherToken, body: { type: 'kv-v2' } });
      await otherCall({ method: 'POST', path: 'secret/data/foreign', token: otherToken, body: { data: { from: 'other' } } });
      const foreign = (await otherCall({ path: 'sys/storage/raft/snapshot', token: otherToken })).raw;

      const refused = await call({ method: 'POST', path: 'sys/storage/raft/snapshot', token: init.root_token, raw: foreign });
      expect(refused.status).toBe(400);
      expect(refused.json.errors[0]).toContain('use the snapshot-force API to bypass this check');

      const forced = await call({ method: 'POST', path: 'sys/storage/raft/snapshot-force', token: init.root_token, raw: foreign });
      expect(forced.status).toBe(204);
      // The restored keyring belongs to the other cluster: our keys no longer open it, its keys do.
      expect((await call({ path: 'sys/seal-status' })).json.sealed).toBe(true);
      expect((await unsealWith(init.keys.slice(0, 3))).json.errors).toEqual(['Unseal failed, invalid key']);
      expect((await unsealWith(otherInit.keys.slice(2, 5))).json.sealed).toBe(false);
      const read = await call({ path: 'secret/data/foreign', token: otherToken });
      expect(read.json.data.data).toEqual({ from: 'other' });
    } finally {
      await other.stop();
    }
  });
});

describe('vault command line (https://developer.hashicorp.com/vault/docs/commands/server, /commands/version)', () => {
  it('`vault version` prints "Vault v<version> (<sha>), built <date>"', async () => {
    const { stdout } = await run(executable, ['version']);
    expect(stdout).toMatch(new RegExp(`^Vault v${VERSION.replace(/\./g, '\\.')} \\([0-9a-f]{40}\\), built \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`));
  });

  it('a malformed config file exits non-zero with "Error loading configuration from FILE: At L:C: ..."', async () => {
    const file = join(dir, 'broken.hcl');
    await writeFile(file, 'storage "raft" {\n  path = \n}\n');
    const failure = await run(executable, ['server', '-config', file]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(new RegExp(`^Error loading configuration from ${file}: At 3:1: expected: value got: }`));
  });

  it('refuses to start when the TLS files are missing, as Vault does', async () => {
    const data = join(dir, 'notls-data');
    await run('mkdir', ['-p', data]);
    const file = join(dir, 'notls.hcl');
    await writeFile(
      file,
      `cluster_addr = "https://127.0.0.1:1"\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_cert_file = "${dir}/missing.crt"\n  tls_key_file = "${tls.keyFile}"\n}\nstorage "raft" {\n  path = "${data}"\n}\n`,
    );
    const failure = await run(executable, ['server', `-config=${file}`]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toBe(`Error initializing listener of type tcp: error loading TLS cert: open ${dir}/missing.crt: no such file or directory\n`);
  });

  it('refuses an auto-unseal seal stanza it cannot honour instead of silently using Shamir', async () => {
    const file = join(dir, 'seal.hcl');
    await writeFile(file, `cluster_addr = "https://127.0.0.1:1"\nseal "awskms" {\n  region = "x"\n}\nstorage "raft" {\n  path = "${dir}"\n}\n`);
    const failure = await run(executable, ['server', `-config=${file}`]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('seal "awskms": only Shamir seals are supported');
  });

  // As an unprivileged user without CAP_IPC_LOCK (what a unit without AmbientCapabilities gets).
  it.skipIf(process.getuid?.() !== 0)('without CAP_IPC_LOCK: mlock failure unless disable_mlock; unwritable raft path refused', async () => {
    const shared = await mkdtemp(join(tmpdir(), 'vault-sim-unprivileged-'));
    try {
      await run('cp', [executable, join(shared, 'vault')]);
      const data = join(shared, 'data');
      await run('mkdir', ['-m', '0755', data]); // owned by root: not writable for nobody
      await run('chmod', ['0755', shared]);
      const config = (mlock: boolean) =>
        `disable_mlock = ${!mlock}\ncluster_addr = "https://127.0.0.1:1"\nstorage "raft" {\n  path = "${data}"\n}\n`;
      await writeFile(join(shared, 'mlock.hcl'), config(true), { mode: 0o644 });
      await writeFile(join(shared, 'nomlock.hcl'), config(false), { mode: 0o644 });
      const asNobody = (file: string) =>
        run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', join(shared, 'vault'), 'server', `-config=${join(shared, file)}`], {
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        }).catch((error: { code: number; stderr: string }) => error);
      const mlock = await asNobody('mlock.hcl');
      expect(mlock).toMatchObject({ code: 1 });
      expect((mlock as { stderr: string }).stderr).toMatch(/^Error initializing core: Failed to lock memory: cannot allocate memory\n/);
      const unwritable = await asNobody('nomlock.hcl');
      expect(unwritable).toMatchObject({ code: 1 });
      expect((unwritable as { stderr: string }).stderr).toBe(
        `Error initializing storage of type raft: failed to create fsm: failed to open bolt file: open ${data}/vault.db: permission denied\n`,
      );
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('refuses a raft path that does not exist', async () => {
    const file = join(dir, 'nopath.hcl');
    await writeFile(file, `cluster_addr = "https://127.0.0.1:1"\nstorage "raft" {\n  path = "${dir}/absent"\n}\n`);
    const failure = await run(executable, ['server', `-config=${file}`]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('Error initializing storage of type raft: failed to create fsm');
  });
});

// Vault server conformance: init, unseal, the standby period after unseal, seal, health, restart,
// snapshots and the server command line, run against the lab's simulator and against the real
// OpenBao server (conformance/servers.ts: the configuration the product writes, verified TLS).
// Genuine Vault/OpenBao differences come from conformance/differences.ts; assertions about the
// simulator's own internals are named "vault-sim only".
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { FACTS } from './conformance/differences.js';
import { initialize, prepareServers, SERVER_KINDS, unsealWith, waitActive, type ConformanceServer, type InitResult, type RequestOptions } from './conformance/servers.js';

const run = promisify(execFile);
const WRONG_KEY = 'unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed';

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

type Failure = { code: number; stdout: string; stderr: string };

/** Runs the executable, resolving with its exit code and output whether it fails or not. */
async function runServerCommand(executable: string, args: string[], options: { timeoutMs?: number } = {}): Promise<Failure> {
  try {
    const { stdout, stderr } = await run(executable, args, { timeout: options.timeoutMs ?? 15_000, killSignal: 'SIGINT' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number | string; stdout: string; stderr: string; signal?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout, stderr: failure.stderr };
  }
}

interface TimedInit {
  init: InitResult;
  ms: number;
}

/**
 * Every server this file needs, of both kinds, started together at the beginning: sys/init takes
 * seconds on raft (see the init test), and these waits pass side by side instead of one after the
 * other. `fresh` stays uninitialised; `node` is initialised in the background, the init test
 * checks that answer and its timing; `other` is a second cluster for the mixed-shares test.
 */
const fresh = prepareServers(async () => undefined, { name: 'fresh' });
const node = prepareServers(
  async (server) => {
    const timed = (async (): Promise<TimedInit> => {
      const begin = Date.now();
      const init = await initialize(server, 5, 3);
      return { init, ms: Date.now() - begin };
    })();
    timed.catch(() => undefined); // awaited (and reported) by the init test
    return { timed };
  },
  { name: 'seal' },
);
const others = prepareServers((server) => initialize(server, 5, 3), { name: 'other' });

describe.each(SERVER_KINDS)('%s', (kind) => {
  const facts = FACTS[kind];
  let vault: ConformanceServer;
  let uninitialized: ConformanceServer;
  let dir: string;

  const call = (options: RequestOptions) => vault.call(options);

  beforeAll(async () => {
    ({ server: uninitialized } = await fresh.get(kind));
    ({ server: vault } = await node.get(kind));
    dir = vault.dir;
  });

  describe('server lifecycle (https://developer.hashicorp.com/vault/api-docs/system/init, /system/unseal)', () => {
    let init: InitResult;

    it('starts uninitialized: sys/health 501, seal-status initialized=false (api-docs/system/health, /system/seal-status)', async () => {
      const call = (options: RequestOptions) => uninitialized.call(options);
      expect(uninitialized.output()).toContain(facts.bannerLine);
      const health = await call({ path: 'sys/health' });
      expect(health.status).toBe(501);
      expect(health.json).toMatchObject({ initialized: false, sealed: true, standby: true, version: vault.version });
      const status = await call({ path: 'sys/seal-status' });
      expect(status.json).toMatchObject({ type: 'shamir', initialized: false, sealed: true, t: 0, n: 0, progress: 0, nonce: '', version: vault.version, storage_type: 'raft' });
      expect(status.json[facts.sealStatusDateKey]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect((await call({ path: 'sys/init' })).json).toEqual({ initialized: false });
      expect((await call({ path: 'sys/health?uninitcode=200' })).status).toBe(200);
      const head = await call({ method: 'HEAD', path: 'sys/health' });
      expect(head.status).toBe(501);
      expect(head.raw.length).toBe(0);
    });

    it('sys/health has the fields both servers send, and the ones only Vault sends (api-docs/system/health)', async () => {
      const health = await uninitialized.call({ path: 'sys/health' });
      const common = ['initialized', 'replication_dr_mode', 'replication_performance_mode', 'sealed', 'server_time_utc', 'standby', 'version'];
      expect(Object.keys(health.json).sort()).toEqual([...common, ...facts.healthOnlyKeys].sort());
      expect(health.json.server_time_utc).toBeGreaterThan(Date.now() / 1000 - 60);
    });

    it('rejects an invalid seal configuration (api-docs/system/init)', async () => {
      const response = await uninitialized.call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 2, secret_threshold: 3 } });
      expect(response.status).toBe(400);
      expect(response.json.errors[0]).toBe('invalid seal configuration: threshold cannot be larger than shares');
    });

    it('init returns hex keys, base64 keys and a root token, after raft has elected itself; a second init is refused (api-docs/system/init)', async () => {
      // Raft's first election waits for the heartbeat timeout (1-2 x 5 s with the default
      // performance_multiplier): sys/init takes seconds, more than a short client timeout allows.
      // (The request went out when the file started; here its answer and timing are checked.)
      const { init: answer, ms: took } = await (await node.get(kind)).value.timed;
      init = answer;
      console.log(`${kind}: sys/init answered after ${took} ms`);
      expect(took).toBeGreaterThan(4_500);
      expect(took).toBeLessThan(11_000);
      expect(init.keys).toHaveLength(5);
      expect(init.keys_base64).toHaveLength(5);
      for (const [index, hex] of init.keys.entries()) {
        // Shamir shares: 32 key bytes + 1 x-coordinate byte.
        expect(hex).toMatch(/^[0-9a-f]{66}$/);
        expect(Buffer.from(init.keys_base64[index]!, 'base64').toString('hex')).toBe(hex);
      }
      expect(init.root_token).toMatch(facts.tokenPattern);
      const again = await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 1, secret_threshold: 1 } });
      expect(again.status).toBe(400);
      expect(again.json).toEqual({ errors: ['Vault is already initialized'] });
      const health = await call({ path: 'sys/health' });
      expect(health.status).toBe(503);
      expect(health.json).toMatchObject({ initialized: true, sealed: true, standby: true });
      expect((await call({ path: 'sys/health?sealedcode=299' })).status).toBe(299);
      // Sealed: logical paths answer 503 "Vault is sealed".
      const sealed = await call({ path: 'sys/mounts', token: init.root_token });
      expect(sealed.status).toBe(503);
      expect(sealed.json).toEqual({ errors: ['Vault is sealed'] });
      expect((await call({ path: 'sys/leader' })).json).toEqual({ errors: ['Vault is sealed'] });
    });

    it('unseals with any threshold shares in any order, reporting progress and nonce (api-docs/system/unseal)', async () => {
      const first = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } });
      expect(first.json).toMatchObject({ sealed: true, t: 3, n: 5, progress: 1 });
      expect(first.json.nonce).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // The same share again does not advance progress.
      const repeated = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } });
      expect(repeated.json.progress).toBe(1);
      // A base64 share counts the same as hex.
      const second = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys_base64[1] } });
      expect(second.json).toMatchObject({ progress: 2, nonce: first.json.nonce });
      const done = await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[2] } });
      expect(done.json).toMatchObject({ sealed: false, t: 3, n: 5, progress: 0, nonce: '' });
      expect(done.json.cluster_name).toMatch(/^vault-cluster-[0-9a-f]{8}$/);
      expect(done.json.cluster_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('right after unseal the node is a standby (429) that refuses writes, then becomes active (api-docs/system/health, docs/concepts/ha)', async () => {
      // The node was unsealed by the test before; the requests go out at once, side by side.
      const begin = Date.now();
      const [health, leader, write, read] = await Promise.all([
        call({ path: 'sys/health' }),
        call({ path: 'sys/leader' }),
        call({ method: 'PUT', path: 'sys/policies/acl/early', token: init.root_token, body: { policy: 'path "x" { capabilities = ["read"] }' } }),
        call({ path: 'sys/policies/acl/default', token: init.root_token }),
      ]);
      expect(health.status).toBe(429);
      expect(health.json).toMatchObject({ initialized: true, sealed: false, standby: true });
      expect((await call({ path: 'sys/health?standbyok=true' })).status).toBe(200);
      // (sys/leader may already say is_self on the real server while health still says standby.)
      expect(leader.json).toMatchObject({ ha_enabled: true });
      const NO_ACTIVE = { errors: ['local node not active but active cluster node not found'] };
      if (kind === 'vault-sim') {
        // The simulator's standby lasts STANDBY_MS and answers every logical request like a
        // standby that knows no active node yet.
        expect(write.status).toBe(500);
        expect(write.json).toEqual(NO_ACTIVE);
        expect(read.status).toBe(500);
        expect(read.json).toEqual(NO_ACTIVE);
      } else {
        // The real node races its own election: over 25 unseals here a write sent at once got
        // 500 (no active node) 17 times, a 307 redirect to itself once and 204 (already active)
        // 7 times; a read got 200 (a read-enabled standby) 24 times and 500 once. Only waiting for
        // sys/health 200 makes a write safe.
        expect([500, 307, 204]).toContain(write.status);
        if (write.status === 500) expect(write.json).toEqual(NO_ACTIVE);
        expect(facts.standbyServesReads ? [200, 500] : [500]).toContain(read.status);
      }
      const codes = await waitActive(vault);
      console.log(`${kind}: active ${Date.now() - begin} ms after the unseal answer (health codes ${codes.join(' → ')})`);
      expect(codes.at(-1)).toBe(200);
      const active = await call({ path: 'sys/health' });
      expect(active.json).toMatchObject({ initialized: true, sealed: false, standby: false, cluster_name: expect.stringMatching(/^vault-cluster-/) });
      const leaderNow = await call({ path: 'sys/leader' });
      expect(leaderNow.json).toMatchObject({ ha_enabled: true, is_self: true, leader_address: vault.url, leader_cluster_address: `https://127.0.0.1:${vault.clusterPort}` });
      expect(Date.parse(leaderNow.json.active_time)).toBeGreaterThan(begin - 1_000);
      expect((await call({ method: 'PUT', path: 'sys/policies/acl/early', token: init.root_token, body: { policy: 'path "x" { capabilities = ["read"] }' } })).status).toBe(204);
    });

    it('sys/seal needs a token with sudo, then seals (api-docs/system/seal)', async () => {
      expect((await call({ method: 'PUT', path: 'sys/seal' })).json).toEqual({ errors: ['permission denied'] });
      const sealed = await call({ method: 'PUT', path: 'sys/seal', token: init.root_token });
      expect(sealed.status).toBe(204);
      expect((await call({ path: 'sys/seal-status' })).json.sealed).toBe(true);
    });

    it('a wrong share fails at the threshold with "Unseal failed, invalid key" and resets progress', async () => {
      const wrong = Buffer.from(init.keys[0]!, 'hex');
      wrong[3] = wrong[3]! ^ 0x01; // same x coordinate, different y
      const response = await unsealWith(vault, [init.keys[1]!, wrong.toString('hex'), init.keys[3]!]);
      expect(response.status).toBe(400);
      // The combined key fails to open the stored root key (Vault 1.3+ stored keys; hashicorp/vault#12618).
      expect(response.json).toEqual({ errors: [WRONG_KEY] });
      const status = await call({ path: 'sys/seal-status' });
      expect(status.json).toMatchObject({ sealed: true, progress: 0 });
    });

    it('reset discards progress; keys of the wrong length are refused (api-docs/system/unseal)', async () => {
      await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[0] } });
      const reset = await call({ method: 'PUT', path: 'sys/unseal', body: { reset: true } });
      expect(reset.json).toMatchObject({ sealed: true, progress: 0 });
      const short = await call({ method: 'PUT', path: 'sys/unseal', body: { key: Buffer.alloc(8).toString('base64') } });
      expect(short.status).toBe(400);
      // The barrier's key length is 16 to 32 bytes, plus Shamir's byte (seal_manager.go unsealFragment).
      expect(short.json.errors[0]).toBe('invalid key: key is shorter than minimum 16 bytes');
      const long = await call({ method: 'PUT', path: 'sys/unseal', body: { key: Buffer.alloc(40).toString('base64') } });
      expect(long.json.errors[0]).toBe('invalid key: key is longer than maximum 33 bytes');
      const garbage = await call({ method: 'PUT', path: 'sys/unseal', body: { key: 'not a key!' } });
      expect(garbage.json.errors[0]).toBe("'key' must be a valid hex or base64 string");
      const missing = await call({ method: 'PUT', path: 'sys/unseal', body: {} });
      expect(missing.json.errors[0]).toBe("'key' must be specified in request body as JSON, or 'reset' set to true");
    });

    it('survives a restart: comes back sealed, data intact after unseal; nothing readable at rest', async () => {
      await unsealWith(vault, init.keys.slice(0, 3));
      await waitActive(vault);
      const token = init.root_token;
      expect((await call({ method: 'POST', path: 'sys/mounts/secret', token, body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
      expect((await call({ method: 'POST', path: 'secret/data/app/db', token, body: { data: { password: 'before-restart' } } })).status).toBe(200);

      expect(await vault.stop()).toBe(0); // SIGTERM is a clean shutdown
      expect(vault.output()).toContain(facts.shutdownLine);
      // Encrypted behind the barrier: no file of the raft directory holds the value.
      const files = await filesUnder(vault.layout.dataDir);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect((await readFile(file)).includes('before-restart'), file).toBe(false);

      await vault.start();
      expect((await call({ path: 'sys/seal-status' })).json).toMatchObject({ initialized: true, sealed: true, t: 3, n: 5 });
      await unsealWith(vault, [init.keys[2]!, init.keys[0]!, init.keys[4]!]);
      await waitActive(vault);
      const read = await call({ path: 'secret/data/app/db', token });
      expect(read.status).toBe(200);
      expect(read.json.data.data).toEqual({ password: 'before-restart' });
    });

    it.runIf(kind === 'vault-sim')('vault-sim only: the state is one file, <raft path>/vault-sim.db', async () => {
      expect((await stat(join(vault.layout.dataDir, 'vault-sim.db'))).isFile()).toBe(true);
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
      // The restore answers at once; requests then wait ~5 s for the post-restore invalidations
      // (raft.go RestoreSnapshot restoreOpDelayDuration) while health already says active.
      const begin = Date.now();
      expect((await call({ path: 'sys/health' })).status).toBe(200);
      const read = await call({ path: 'secret/data/app/db', token });
      const waited = Date.now() - begin;
      console.log(`${kind}: first request after the restore answered after ${waited} ms`);
      expect(waited).toBeGreaterThan(4_000);
      expect(read.json.data.data).toEqual({ password: 'before-restart' });
      expect(read.json.data.metadata.version).toBe(1);
    });

    it("mixed shares from two inits fail; another cluster's snapshot needs snapshot-force and its own keys", async () => {
      const { server: otherServer, value: otherInit } = await others.get(kind);
      {
        const otherCall = (options: RequestOptions) => otherServer.call(options);
        // Two shares of the other cluster with one of ours never rebuild either root key.
        const mixed = await unsealWith(otherServer, [otherInit.keys[0]!, init.keys[1]!, otherInit.keys[2]!]);
        expect(mixed.status).toBe(400);
        // (Shares of two inits may even share an x coordinate: then Combine finds a duplicate part.)
        expect([WRONG_KEY, 'invalid key: failed to compute combined key: duplicate part detected']).toContain(mixed.json.errors[0]);
        await unsealWith(otherServer, otherInit.keys.slice(0, 3));
        await waitActive(otherServer);
        const otherToken = otherInit.root_token;
        await otherCall({ method: 'POST', path: 'sys/mounts/secret', token: otherToken, body: { type: 'kv-v2' } });
        await otherCall({ method: 'POST', path: 'secret/data/foreign', token: otherToken, body: { data: { from: 'other' } } });
        const foreign = (await otherCall({ path: 'sys/storage/raft/snapshot', token: otherToken })).raw;

        const refused = await call({ method: 'POST', path: 'sys/storage/raft/snapshot', token: init.root_token, raw: foreign });
        expect(refused.status).toBe(400);
        expect(refused.json.errors[0]).toContain('use the snapshot-force API to bypass this check');

        const forced = await call({ method: 'POST', path: 'sys/storage/raft/snapshot-force', token: init.root_token, raw: foreign });
        expect(forced.status).toBe(204);
        // The restored keyring belongs to the other cluster: once the post-restore invalidations
        // have run (~5 s later) the node seals itself; our keys no longer open it, its keys do.
        const deadline = Date.now() + 15_000;
        while (!(await call({ path: 'sys/seal-status' })).json.sealed) {
          expect(Date.now()).toBeLessThan(deadline);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect((await unsealWith(vault, init.keys.slice(0, 3))).json.errors).toEqual([WRONG_KEY]);
        expect((await unsealWith(vault, otherInit.keys.slice(2, 5))).json.sealed).toBe(false);
        await waitActive(vault);
        const read = await call({ path: 'secret/data/foreign', token: otherToken });
        expect(read.json.data.data).toEqual({ from: 'other' });
      }
    });
  });

  describe('server command line (https://developer.hashicorp.com/vault/docs/commands/server, /commands/version)', () => {
    const scratch = () => mkdtemp(join(tmpdir(), `conformance-${kind}-cli-`));

    it('`<cli> version` names the server, its version and revision', async () => {
      const { stdout } = await run(vault.executable, ['version']);
      expect(stdout).toMatch(facts.versionLine(vault.version));
    });

    it('a malformed config file exits 1 with "error loading configuration from FILE: At L:C: ..." on stdout', async () => {
      const work = await scratch();
      try {
        const file = join(work, 'broken.hcl');
        await writeFile(file, 'storage "raft" {\n  path = \n}\n');
        const failure = await runServerCommand(vault.executable, ['server', '-config', file]);
        expect(failure.code).toBe(1);
        expect(failure.stdout).toBe(`error loading configuration from ${file}: At 3:1: Unknown token: 3:1 RBRACE }\n`);
        const absent = await runServerCommand(vault.executable, ['server', `-config=${join(work, 'absent.hcl')}`]);
        expect(absent.code).toBe(1);
        expect(absent.stdout).toBe(`error loading configuration from ${join(work, 'absent.hcl')}: stat ${join(work, 'absent.hcl')}: no such file or directory\n`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });

    it('refuses to start when the TLS files are missing', async () => {
      const work = await scratch();
      try {
        const data = join(work, 'data');
        await mkdir(data);
        const file = join(work, 'notls.hcl');
        await writeFile(
          file,
          `api_addr = "https://127.0.0.1:2"\ncluster_addr = "https://127.0.0.1:1"\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_cert_file = "${work}/missing.crt"\n  tls_key_file = "${vault.layout.keyFile}"\n}\nstorage "raft" {\n  path = "${data}"\n  node_id = "n1"\n}\n`,
        );
        const failure = await runServerCommand(vault.executable, ['server', `-config=${file}`]);
        expect(failure.code).toBe(1);
        expect(failure.stdout).toBe(`Error parsing listener configuration.\nError initializing listener of type tcp: error loading TLS cert: open ${work}/missing.crt: no such file or directory\n`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });

    it('a raft path that does not exist: Vault refuses to start, OpenBao creates it', async () => {
      const work = await scratch();
      try {
        const absent = join(work, 'absent');
        const file = join(work, 'nopath.hcl');
        await writeFile(
          file,
          `api_addr = "https://127.0.0.1:2"\ncluster_addr = "https://127.0.0.1:1"\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\nstorage "raft" {\n  path = "${absent}"\n  node_id = "n1"\n}\n`,
        );
        if (facts.createsMissingRaftPath) {
          // It starts (stopped with SIGINT once it has said so): the directory exists, 0700.
          const child = spawn(vault.executable, ['server', `-config=${file}`], { stdio: ['ignore', 'pipe', 'ignore'] });
          let stdout = '';
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
          const deadline = Date.now() + 10_000;
          while (!stdout.includes('server started') && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
          child.kill('SIGINT');
          await exited;
          expect(stdout).toContain(facts.bannerLine);
          expect(((await stat(absent)).mode & 0o777).toString(8)).toBe('700');
        } else {
          const failure = await runServerCommand(vault.executable, ['server', `-config=${file}`]);
          expect(failure.code).toBe(1);
          expect(failure.stdout).toContain(`${facts.storageError} failed to create fsm`);
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });

    // As an unprivileged user (what the unit's User= gets): a raft directory it cannot write.
    it.skipIf(process.getuid?.() !== 0)('an unwritable raft path is refused: failed to open bolt file ... permission denied', async () => {
      const shared = await mkdtemp(join(tmpdir(), `conformance-${kind}-unprivileged-`));
      try {
        await run('cp', [vault.executable, join(shared, 'server')]);
        const data = join(shared, 'data');
        await run('mkdir', ['-m', '0755', data]); // owned by root: not writable for nobody
        await run('chmod', ['0755', shared]);
        const mlock = facts.name === 'Vault' ? 'disable_mlock = true\n' : '';
        await writeFile(
          join(shared, 'config.hcl'),
          `${mlock}api_addr = "https://127.0.0.1:2"\ncluster_addr = "https://127.0.0.1:1"\nstorage "raft" {\n  path = "${data}"\n  node_id = "n1"\n}\n`,
          { mode: 0o644 },
        );
        const failure = await runServerCommand('setpriv', [
          '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', join(shared, 'server'), 'server', `-config=${join(shared, 'config.hcl')}`,
        ]);
        expect(failure.code).toBe(1);
        expect(failure.stdout).toBe(`${facts.storageError} failed to create fsm: failed to open bolt file: open ${data}/vault.db: permission denied\n`);
      } finally {
        await rm(shared, { recursive: true, force: true });
      }
    });
  });

  describe.runIf(kind === 'vault-sim')('vault-sim only: what the simulator refuses instead of half-doing', () => {
    it('an auto-unseal seal stanza is refused instead of silently using Shamir', async () => {
      const file = join(dir, 'seal.hcl');
      await writeFile(file, `cluster_addr = "https://127.0.0.1:1"\nseal "awskms" {\n  region = "x"\n}\nstorage "raft" {\n  path = "${dir}"\n}\n`);
      const failure = await runServerCommand(vault.executable, ['server', `-config=${file}`]);
      expect(failure.code).toBe(1);
      expect(failure.stdout).toContain('seal "awskms": only Shamir seals are supported');
    });

    // Vault locks its memory unless disable_mlock is set; OpenBao removed mlock altogether (its
    // config refuses disable_mlock = false; openbao/openbao helper/configutil), so this is Vault's alone.
    it.skipIf(process.getuid?.() !== 0)('without CAP_IPC_LOCK, mlock fails unless disable_mlock is set', async () => {
      const shared = await mkdtemp(join(tmpdir(), 'vault-sim-unprivileged-'));
      try {
        await run('cp', [vault.executable, join(shared, 'vault')]);
        const data = join(shared, 'data');
        await run('mkdir', ['-m', '0755', data]);
        await run('chmod', ['0755', shared]);
        await writeFile(join(shared, 'mlock.hcl'), `cluster_addr = "https://127.0.0.1:1"\nstorage "raft" {\n  path = "${data}"\n}\n`, { mode: 0o644 });
        const failure = await runServerCommand('setpriv', [
          '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', join(shared, 'vault'), 'server', `-config=${join(shared, 'mlock.hcl')}`,
        ]);
        expect(failure.code).toBe(1);
        expect(failure.stdout).toMatch(/^Error initializing core: Failed to lock memory: cannot allocate memory\n/);
      } finally {
        await rm(shared, { recursive: true, force: true });
      }
    });
  });
});

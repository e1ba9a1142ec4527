// The core conformance cases again, driven through node-vault (the client the product uses), with
// TLS verified against the test CA through `requestOptions.ca`, against the lab's simulator and
// the real OpenBao server (conformance/servers.ts). Endpoints as documented at
// https://developer.hashicorp.com/vault/api-docs (system/init, system/unseal, system/health,
// system/mounts, system/policy, auth/token, secret/kv/kv-v2).
import { join } from 'node:path';
import NodeVault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsMaterial, type TlsMaterial } from '../lab/vault-sim/testing.js';
import { FACTS } from './conformance/differences.js';
import { SERVER_KINDS, startServer, waitActive, type ConformanceServer } from './conformance/servers.js';

/** Runs a KV call again while a fresh mount answers 400 "Upgrading from non-versioned to versioned data", for at most 15 s. */
async function afterKvUpgrade<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const upgrading = /upgrading from non-versioned to versioned data/i.test((error as Error).message);
      if (!upgrading || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe.each(SERVER_KINDS)('%s', (kind) => {
  let dir: string;
  let tls: TlsMaterial;
  let vault: ConformanceServer;
  let client: NodeVault.client;
  let keys: string[];
  let rootToken: string;
  const facts = FACTS[kind];

  const clientFor = (token?: string) => NodeVault({ endpoint: vault.url, requestOptions: { ca: tls.caPem }, ...(token ? { token } : {}) });

  async function rejection(promise: Promise<unknown>): Promise<NodeVault.ApiResponseError> {
    try {
      await promise;
    } catch (error) {
      return error as NodeVault.ApiResponseError;
    }
    throw new Error('expected the call to fail');
  }

  beforeAll(async () => {
    // (Without the simulator's modelled raft waits: vault-sim-seal checks them.)
    vault = await startServer(kind, { name: 'node-vault', simWaits: 'none' });
    dir = vault.dir;
    tls = vault.tls;
    client = clientFor();
  });

  afterAll(async () => {
    await vault?.dispose();
  });

  describe('node-vault as the client', () => {
    it('refuses a server whose certificate the CA did not sign (TLS stays verified)', async () => {
      const stranger = await makeTlsMaterial(join(dir, 'stranger'));
      const untrusting = NodeVault({ endpoint: vault.url, requestOptions: { ca: stranger.caPem } });
      await expect(untrusting.status()).rejects.toThrow(/certificate|self.signed/i);
    });

    it('initialized/init/health/status/unseal (system/init, system/health, system/unseal)', async () => {
      expect(await client.initialized()).toEqual({ initialized: false });
      expect(await client.health()).toMatchObject({ initialized: false, sealed: true });
      const init = await client.init({ secret_shares: 5, secret_threshold: 3 });
      keys = init.keys;
      rootToken = init.root_token;
      expect(keys).toHaveLength(5);
      expect((await rejection(client.init({ secret_shares: 1, secret_threshold: 1 }))).response.statusCode).toBe(400);
      expect(await client.status()).toMatchObject({ sealed: true, t: 3, n: 5, progress: 0 });

      // A wrong share makes the threshold attempt fail with 400; progress restarts.
      const wrong = Buffer.from(keys[0]!, 'hex');
      wrong[0] = wrong[0]! ^ 0xff;
      await client.unseal({ key: keys[1] });
      await client.unseal({ key: keys[2] });
      const failure = await rejection(client.unseal({ key: wrong.toString('hex') }));
      expect(failure.response.statusCode).toBe(400);
      expect(failure.message).toBe('unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed');

      for (const key of [keys[4], keys[0], keys[3]]) await client.unseal({ key });
      expect(await client.status()).toMatchObject({ sealed: false });
      // Unsealed, the node is a standby for a moment; node-vault resolves health with any code.
      await waitActive(vault);
      expect(await client.health()).toMatchObject({ initialized: true, sealed: false, standby: false });
      expect(rootToken).toMatch(facts.tokenPattern);
      client.token = rootToken;
    });

    it('mounts KV v2, writes versions with cas, reads, lists with LIST (secret/kv/kv-v2)', async () => {
      await client.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
      expect((await client.mounts()).data['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } });
      // A fresh KV v2 mount upgrades its storage first and answers 400 "Upgrading from non-versioned
      // to versioned data" meanwhile (longer on a loaded machine): waited out as the product does.
      const first = await afterKvUpgrade(() => client.write('secret/data/apps/web', { data: { api_key: 'one' } }));
      expect(first.data.version).toBe(1);
      const second = await client.write('secret/data/apps/web', { data: { api_key: 'two' }, options: { cas: 1 } });
      expect(second.data.version).toBe(2);
      const casFailure = await rejection(client.write('secret/data/apps/web', { data: { api_key: 'x' }, options: { cas: 1 } }));
      expect(casFailure.message).toBe('check-and-set parameter did not match the current version');
      expect((await client.read('secret/data/apps/web')).data.data).toEqual({ api_key: 'two' });
      expect((await client.read('secret/data/apps/web?version=1')).data.data).toEqual({ api_key: 'one' });
      await client.write('secret/data/apps/api', { data: { k: 'v' } });
      expect((await client.list('secret/metadata/apps')).data.keys).toEqual(['api', 'web']);
      const missing = await rejection(client.read('secret/data/none'));
      expect(missing.response.statusCode).toBe(404);
    });

    it('policies via sys/policy; a readonly token reads but gets 403 on write (system/policy, auth/token)', async () => {
      await client.addPolicy({ name: 'readonly', rules: 'path "secret/data/apps/*" {\n  capabilities = ["read"]\n}\n' });
      expect((await client.policies()).policies).toEqual(['default', 'readonly', 'root']);
      expect((await client.getPolicy({ name: 'readonly' })).rules).toContain('secret/data/apps/*');
      // node-vault switches a client to the token it just created (tokenSource), so tokens are
      // made through a separate client and the root client keeps its token.
      const created = await clientFor(rootToken).tokenCreate({ policies: ['readonly'], ttl: '30m' });
      expect(client.token).toBe(rootToken);
      expect(created.auth).toMatchObject({ policies: ['default', 'readonly'], lease_duration: 1800 });
      const readonly = clientFor(created.auth.client_token);
      expect((await readonly.read('secret/data/apps/web')).data.data).toEqual({ api_key: 'two' });
      const denied = await rejection(readonly.write('secret/data/apps/web', { data: { api_key: 'evil' } }));
      expect(denied.response.statusCode).toBe(403);
      expect(denied.response.body).toEqual({ errors: ['1 error occurred:\n\t* permission denied\n\n'] });
      expect((await readonly.tokenLookupSelf()).data).toMatchObject({ policies: ['default', 'readonly'], renewable: true });
    });

    it('token TTL expiry is enforced', async () => {
      const created = await clientFor(rootToken).tokenCreate({ policies: ['readonly'], ttl: '1s' });
      const shortLived = clientFor(created.auth.client_token);
      await shortLived.read('secret/data/apps/web');
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect((await rejection(shortLived.read('secret/data/apps/web'))).response.statusCode).toBe(403);
    });

    it('enables kubernetes auth and lists auth methods (system/auth)', async () => {
      await client.enableAuth({ mount_point: 'kubernetes', type: 'kubernetes', description: 'cluster' });
      const auths = await client.auths();
      expect(auths.data['kubernetes/']).toMatchObject({ type: 'kubernetes', description: 'cluster' });
      await client.write('auth/kubernetes/role/eso', { bound_service_account_names: 'eso', bound_service_account_namespaces: 'eso', token_policies: 'readonly' });
      expect((await client.list('auth/kubernetes/role')).data.keys).toEqual(['eso']);
    });

    it('restart comes back sealed with data intact; snapshot + restore round trip', async () => {
      const snapshotCall = await fetchSnapshot();
      await client.write('secret/data/apps/web', { data: { api_key: 'three' } });
      expect(await vault.stop()).toBe(0);
      await vault.start();
      client = clientFor(rootToken);
      expect(await client.status()).toMatchObject({ sealed: true });
      expect((await rejection(client.read('secret/data/apps/web'))).response.statusCode).toBe(503);
      for (const key of keys.slice(1, 4)) await client.unseal({ key });
      await waitActive(vault);
      expect((await client.read('secret/data/apps/web')).data.data).toEqual({ api_key: 'three' });
      await restoreSnapshot(snapshotCall);
      expect((await client.read('secret/data/apps/web')).data.data).toEqual({ api_key: 'two' });
    });
  });

  // node-vault's JSON client cannot carry the binary snapshot, so these two calls use node:https
  // with the same CA (https://developer.hashicorp.com/vault/api-docs/system/storage/raft).
  async function fetchSnapshot(): Promise<Buffer> {
    const response = await vault.call({ path: 'sys/storage/raft/snapshot', token: rootToken });
    expect(response.status).toBe(200);
    return response.raw;
  }

  async function restoreSnapshot(snapshot: Buffer): Promise<void> {
    const response = await vault.call({ method: 'POST', path: 'sys/storage/raft/snapshot', token: rootToken, raw: snapshot });
    expect(response.status).toBe(204);
  }
});

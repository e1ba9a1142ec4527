// Vault API conformance: policies and ACL enforcement, tokens, KV v2, mounts, auth methods and
// Kubernetes login, run against the lab's simulator and against the real OpenBao server (started
// with the configuration the product writes, conformance/servers.ts) over verified TLS. Where the
// two servers genuinely differ the expectation comes from conformance/differences.ts.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsMaterial, type TlsMaterial } from '../lab/vault-sim/testing.js';
import { FACTS } from './conformance/differences.js';
import { initUnsealed, prepareServers, SERVER_KINDS, type ConformanceServer, type RequestOptions } from './conformance/servers.js';

// An ACL refusal is a multierror around ErrPermissionDenied; a missing, unknown, expired or spent
// token is the bare error (vault/request_handling.go CheckToken). Both servers answer alike.
const PERMISSION_DENIED = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };
const INVALID_TOKEN = { errors: ['permission denied'] };

// One initialised, unsealed and active server of each kind with KV v2 at secret/, both set up at
// once. (The simulator skips its modelled raft waits here; vault-sim-seal checks them.)
const prepared = prepareServers(
  async (server) => {
    const { root_token } = await initUnsealed(server, 3, 2);
    const mount = await server.call({ method: 'POST', path: 'sys/mounts/secret', token: root_token, body: { type: 'kv', options: { version: '2' } } });
    if (mount.status !== 204) throw new Error(`mounting secret/ answered ${mount.status}`);
    return root_token;
  },
  { name: 'api', simWaits: 'none' },
);

describe.each(SERVER_KINDS)('%s', (kind) => {
  let dir: string;
  let tls: TlsMaterial;
  let vault: ConformanceServer;
  let root: string;
  const facts = FACTS[kind];

  const call = (options: RequestOptions) => vault.call(options);
  const asRoot = (options: Omit<RequestOptions, 'token'>) => call({ ...options, token: root });

  async function writePolicy(name: string, policy: string): Promise<void> {
    const response = await asRoot({ method: 'PUT', path: `sys/policies/acl/${name}`, body: { policy } });
    expect(response.status).toBe(204);
  }

  async function tokenWith(body: Record<string, unknown>): Promise<string> {
    const response = await asRoot({ method: 'POST', path: 'auth/token/create', body });
    expect(response.status).toBe(200);
    return response.json.auth.client_token;
  }

  beforeAll(async () => {
    ({ server: vault, value: root } = await prepared.get(kind));
    dir = vault.dir;
    tls = vault.tls;
  });

  describe('mounts and auth methods (https://developer.hashicorp.com/vault/api-docs/system/mounts, /system/auth)', () => {
    it('lists mounts with kv v2 options, reads tune, refuses a duplicate mount', async () => {
      const mounts = await asRoot({ path: 'sys/mounts' });
      expect(mounts.status).toBe(200);
      expect(Object.keys(mounts.json.data).sort()).toEqual(['cubbyhole/', 'identity/', 'secret/', 'sys/']);
      expect(mounts.json.data['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } });
      expect(mounts.json['secret/']).toEqual(mounts.json.data['secret/']); // sys/ responses repeat data at top level
      const tune = await asRoot({ path: 'sys/mounts/secret/tune' });
      expect(tune.json.data).toMatchObject({ default_lease_ttl: 2764800, max_lease_ttl: 2764800, options: { version: '2' } });
      const duplicate = await asRoot({ method: 'POST', path: 'sys/mounts/secret', body: { type: 'kv-v2' } });
      expect(duplicate.status).toBe(400);
      expect(duplicate.json.errors).toEqual(['path is already in use at secret/']);
      expect((await asRoot({ method: 'POST', path: 'sys/mounts/scratch', body: { type: 'kv-v2' } })).status).toBe(204);
      expect((await asRoot({ method: 'DELETE', path: 'sys/mounts/scratch' })).status).toBe(204);
      const unknown = await asRoot({ method: 'POST', path: 'sys/mounts/x', body: { type: 'nosuch' } });
      expect(unknown.json.errors).toEqual(['plugin not found in the catalog: nosuch']);
    });

    it('enables, lists and disables auth methods; token/ is always there', async () => {
      expect((await asRoot({ method: 'POST', path: 'sys/auth/approle', body: { type: 'approle' } })).status).toBe(204);
      const auths = await asRoot({ path: 'sys/auth' });
      expect(auths.json.data['token/']).toMatchObject({ type: 'token' });
      expect(auths.json.data['approle/']).toMatchObject({ type: 'approle' });
      expect((await asRoot({ method: 'DELETE', path: 'sys/auth/approle' })).status).toBe(204);
      expect(Object.keys((await asRoot({ path: 'sys/auth' })).json.data)).toEqual(['token/']);
    });

    it('unknown paths: 404 "no handler for route" for root, 403 for other tokens', async () => {
      const missing = await asRoot({ path: 'nothing/here' });
      expect(missing.status).toBe(404);
      expect(missing.json.errors).toEqual(['no handler for route "nothing/here". route entry not found.']);
      const plain = await tokenWith({ policies: ['default'] });
      const denied = await call({ path: 'nothing/here', token: plain });
      expect(denied.status).toBe(403);
      expect(denied.json).toEqual(PERMISSION_DENIED);
    });
  });

  describe('policies and ACLs (https://developer.hashicorp.com/vault/docs/concepts/policies, /api-docs/system/policies, /system/policy)', () => {
    it('writes, reads and lists policies through sys/policies/acl and sys/policy', async () => {
      const text = 'path "secret/data/*" {\n  capabilities = ["read", "list"]\n}\n';
      await writePolicy('ReadOnly', text);
      const read = await asRoot({ path: 'sys/policies/acl/readonly' });
      expect(read.json.data).toMatchObject({ name: 'readonly', policy: text });
      // OpenBao adds check-and-set and version fields to a policy (openbao/openbao
      // internal/vault/logical_system.go readPolicyResponse); Vault has name and policy only.
      expect(Object.keys(read.json.data).sort()).toEqual(facts.policyReadKeys);
      const list = await asRoot({ method: 'LIST', path: 'sys/policies/acl' });
      expect(list.json.data.keys).toEqual(['default', 'readonly', 'root']);
      const legacyList = await asRoot({ path: 'sys/policy' });
      expect(legacyList.json.policies).toEqual(['default', 'readonly', 'root']);
      const legacyRead = await asRoot({ path: 'sys/policy/readonly' });
      expect(legacyRead.json).toMatchObject({ name: 'readonly', rules: text });
      expect((await asRoot({ path: 'sys/policies/acl/default' })).json.data.policy).toContain('auth/token/lookup-self');
      const bad = await asRoot({ method: 'PUT', path: 'sys/policies/acl/bad', body: { policy: 'path "x" { capabilities = ["fly"] }' } });
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0]).toMatch(/^failed to parse policy: /);
      expect((await asRoot({ method: 'DELETE', path: 'sys/policies/acl/default' })).json.errors).toEqual(['cannot delete default policy']);
      expect((await asRoot({ method: 'PUT', path: 'sys/policy/root', body: { policy: text } })).json.errors).toEqual(['cannot update "root" policy']);
      expect((await asRoot({ path: 'sys/policies/acl/absent' })).status).toBe(404);
    });

    it('a readonly token gets 403 with Vault\'s body on write and 200 on read', async () => {
      await asRoot({ method: 'POST', path: 'secret/data/shared/config', body: { data: { user: 'app' } } });
      const readonly = await tokenWith({ policies: ['readonly'] });
      expect((await call({ path: 'secret/data/shared/config', token: readonly })).status).toBe(200);
      const write = await call({ method: 'POST', path: 'secret/data/shared/config', token: readonly, body: { data: { user: 'evil' } } });
      expect(write.status).toBe(403);
      expect(write.json).toEqual(PERMISSION_DENIED);
      // Authorization: Bearer works like X-Vault-Token.
      const bearer = await call({ path: 'secret/data/shared/config', headers: { Authorization: `Bearer ${readonly}` } });
      expect(bearer.status).toBe(200);
      expect((await call({ path: 'secret/data/shared/config' })).status).toBe(403);
    });

    it('applies globs, + segments, deny and priority rules; create vs update follows existence', async () => {
      await writePolicy(
        'teams',
        [
          'path "secret/data/team/+/config" { capabilities = ["read"] }',
          'path "secret/data/apps/*" { capabilities = ["create", "read"] }',
          'path "secret/data/apps/private*" { capabilities = ["deny"] }',
          'path "secret/data/apps/special" { capabilities = ["update", "read"] }',
        ].join('\n'),
      );
      for (const path of ['secret/data/team/a/config', 'secret/data/team/b/config', 'secret/data/apps/one', 'secret/data/apps/private-x', 'secret/data/apps/special']) {
        await asRoot({ method: 'POST', path, body: { data: { path } } });
      }
      const token = await tokenWith({ policies: ['teams'] });
      const status = async (method: string, path: string) => (await call({ method, path, token, body: method === 'GET' ? undefined : { data: { v: 1 } } })).status;
      expect(await status('GET', 'secret/data/team/a/config')).toBe(200);
      expect(await status('GET', 'secret/data/team/b/config')).toBe(200);
      expect(await status('GET', 'secret/data/team/a/b/config')).toBe(403); // + is one segment
      expect(await status('GET', 'secret/data/apps/one')).toBe(200);
      expect(await status('GET', 'secret/data/apps/private-x')).toBe(403); // the longer glob denies
      expect(await status('POST', 'secret/data/apps/new-one')).toBe(200); // create on a new path
      expect(await status('POST', 'secret/data/apps/one')).toBe(403); // existing: needs update
      expect(await status('POST', 'secret/data/apps/special')).toBe(200); // exact rule grants update
      const capabilities = await call({ method: 'POST', path: 'sys/capabilities-self', token, body: { paths: ['secret/data/apps/one', 'secret/data/apps/private-y'] } });
      expect(capabilities.json.data).toMatchObject({ 'secret/data/apps/one': ['create', 'read'], 'secret/data/apps/private-y': ['deny'] });
    });

    it('priority matching between wildcard paths, merging and deny, as sys/capabilities-self reports them (docs/concepts/policies#priority-matching)', async () => {
      // The same rules vault-sim-internals checks on the simulator's Acl class, asked of the server.
      await writePolicy(
        'priority',
        'path "secret/*" { capabilities = ["read"] }\n' +
          'path "secret/+/bar" { capabilities = ["update"] }\n' +
          'path "secret/foo/*" { capabilities = ["list"] }\n' +
          'path "secret/foo/ba*" { capabilities = ["delete"] }',
      );
      await writePolicy('merge-a', 'path "kv/a" { capabilities = ["read"] }\npath "kv/b" { capabilities = ["read"] }');
      await writePolicy('merge-b', 'path "kv/a" { capabilities = ["update"] }\npath "kv/b" { capabilities = ["deny"] }\npath "kv/c" { policy = "write" }');
      const capabilities = async (token: string, paths: string[]) =>
        (await call({ method: 'POST', path: 'sys/capabilities-self', token, body: { paths } })).json.data as Record<string, string[]>;
      const priority = await tokenWith({ policies: ['priority'] }); // default grants sys/capabilities-self
      expect(await capabilities(priority, ['secret/foo/bar', 'secret/zzz/bar', 'secret/zzz/other', 'other/x'])).toMatchObject({
        'secret/foo/bar': ['delete'], // the first wildcard appearing later wins
        'secret/zzz/bar': ['update'], // same position: the path not ending in * wins
        'secret/zzz/other': ['read'],
        'other/x': ['deny'],
      });
      const merged = await tokenWith({ policies: ['merge-a', 'merge-b'] });
      const mergedCaps = await capabilities(merged, ['kv/a', 'kv/b', 'kv/c']);
      expect([...mergedCaps['kv/a']!].sort()).toEqual(['read', 'update']);
      expect(mergedCaps['kv/b']).toEqual(['deny']);
      expect([...mergedCaps['kv/c']!].sort()).toEqual(['create', 'delete', 'list', 'read', 'update']);
      const plain = await tokenWith({ policies: ['default'] });
      expect(await capabilities(plain, ['auth/token/lookup-self', 'secret/data/x'])).toMatchObject({ 'auth/token/lookup-self': ['read'], 'secret/data/x': ['deny'] });
      expect(await capabilities(root, ['sys/raw/anything'])).toMatchObject({ 'sys/raw/anything': ['root'] });
    });

    it('sys/ paths that Vault root-protects need sudo', async () => {
      await writePolicy('authadmin', 'path "sys/auth/*" { capabilities = ["create", "update", "delete", "read"] }');
      await writePolicy('authsudo', 'path "sys/auth/*" { capabilities = ["create", "update", "delete", "read", "sudo"] }');
      const withoutSudo = await tokenWith({ policies: ['authadmin'] });
      const withSudo = await tokenWith({ policies: ['authsudo'] });
      const enable = (token: string) => call({ method: 'POST', path: 'sys/auth/userpass', token, body: { type: 'userpass' } });
      expect((await enable(withoutSudo)).status).toBe(403);
      expect((await enable(withSudo)).status).toBe(204);
      await asRoot({ method: 'DELETE', path: 'sys/auth/userpass' });
    });
  });

  describe('tokens (https://developer.hashicorp.com/vault/api-docs/auth/token)', () => {
    it('create attaches default, honours no_default_policy, display_name and subset rules', async () => {
      const created = await asRoot({ method: 'POST', path: 'auth/token/create', body: { policies: ['readonly'], ttl: '1h', display_name: 'ci' } });
      expect(created.json.auth).toMatchObject({ policies: ['default', 'readonly'], lease_duration: 3600, renewable: true, orphan: false, token_type: 'service' });
      const lookup = await call({ path: 'auth/token/lookup-self', token: created.json.auth.client_token });
      expect(lookup.json.data).toMatchObject({ display_name: 'token-ci', policies: ['default', 'readonly'], path: 'auth/token/create', creation_ttl: 3600, type: 'service' });
      expect(lookup.json.data.ttl).toBeGreaterThan(3590);

      const bare = await tokenWith({ policies: ['readonly'], no_default_policy: true });
      expect((await call({ path: 'auth/token/lookup-self', token: bare })).status).toBe(403); // lookup-self comes from `default`

      const child = await call({ method: 'POST', path: 'auth/token/create', token: created.json.auth.client_token, body: { policies: ['teams'] } });
      expect(child.status).toBe(403); // default policy does not grant auth/token/create
      const rootLookup = await asRoot({ path: 'auth/token/lookup-self' });
      expect(rootLookup.json.data).toMatchObject({ policies: ['root'], ttl: 0, expire_time: null, display_name: 'root', orphan: true });
    });

    it('enforces TTL expiry, renew-self extends, revoke-self and parent revocation end tokens', async () => {
      const shortLived = await tokenWith({ policies: ['readonly'], ttl: '1s' });
      expect((await call({ path: 'secret/data/shared/config', token: shortLived })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      const expired = await call({ path: 'secret/data/shared/config', token: shortLived });
      expect(expired.status).toBe(403);
      expect(expired.json).toEqual(INVALID_TOKEN);
      expect((await call({ path: 'secret/data/shared/config', token: `${root}x` })).json).toEqual(INVALID_TOKEN);
      expect((await call({ path: 'secret/data/shared/config' })).json).toEqual(INVALID_TOKEN);

      const renewable = await tokenWith({ policies: ['readonly'], ttl: '2s' });
      const renewed = await call({ method: 'POST', path: 'auth/token/renew-self', token: renewable, body: { increment: '1h' } });
      expect(renewed.json.auth.lease_duration).toBe(3600);

      await writePolicy('tokenmaker', 'path "auth/token/create" { capabilities = ["update"] }');
      const parent = await tokenWith({ policies: ['tokenmaker', 'readonly'] });
      const child = (await call({ method: 'POST', path: 'auth/token/create', token: parent, body: { policies: ['readonly'] } })).json.auth.client_token;
      const notSubset = await call({ method: 'POST', path: 'auth/token/create', token: parent, body: { policies: ['teams'] } });
      expect(notSubset.json.errors).toEqual(['child policies must be subset of parent']);
      expect((await asRoot({ method: 'POST', path: 'auth/token/revoke', body: { token: parent } })).status).toBe(204);
      expect((await call({ path: 'auth/token/lookup-self', token: child })).status).toBe(403);

      expect((await call({ method: 'POST', path: 'auth/token/revoke-self', token: renewable })).status).toBe(204);
      expect((await call({ path: 'auth/token/lookup-self', token: renewable })).status).toBe(403);
      const limited = await tokenWith({ policies: ['readonly'], num_uses: 2 });
      expect((await call({ path: 'secret/data/shared/config', token: limited })).status).toBe(200);
      expect((await call({ path: 'secret/data/shared/config', token: limited })).status).toBe(200);
      expect((await call({ path: 'secret/data/shared/config', token: limited })).status).toBe(403); // num_uses spent
      const lookup = await asRoot({ method: 'POST', path: 'auth/token/lookup', body: { token: root } });
      expect(lookup.json.data.policies).toEqual(['root']);
    });
  });

  describe('KV version 2 (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2)', () => {
    it('versions increment, old versions stay readable, cas is enforced', async () => {
      const first = await asRoot({ method: 'POST', path: 'secret/data/kv/app', body: { data: { n: 1 } } });
      expect(first.json.data).toMatchObject({ version: 1, destroyed: false, deletion_time: '' });
      // Vault's responses name the mount type; OpenBao's envelope has no such field
      // (openbao/openbao sdk/logical/translate_response.go HTTPResponse).
      expect(first.json.mount_type).toBe(facts.mountTypeOf('kv'));
      const second = await asRoot({ method: 'PUT', path: 'secret/data/kv/app', body: { data: { n: 2 }, options: { cas: 1 } } });
      expect(second.json.data.version).toBe(2);
      const stale = await asRoot({ method: 'POST', path: 'secret/data/kv/app', body: { data: { n: 3 }, options: { cas: 1 } } });
      expect(stale.status).toBe(400);
      expect(stale.json.errors).toEqual(['check-and-set parameter did not match the current version']);
      const createOnly = await asRoot({ method: 'POST', path: 'secret/data/kv/app', body: { data: { n: 3 }, options: { cas: 0 } } });
      expect(createOnly.status).toBe(400);
      expect((await asRoot({ path: 'secret/data/kv/app' })).json.data).toMatchObject({ data: { n: 2 }, metadata: { version: 2 } });
      expect((await asRoot({ path: 'secret/data/kv/app?version=1' })).json.data.data).toEqual({ n: 1 });
      const metadata = await asRoot({ path: 'secret/metadata/kv/app' });
      expect(metadata.json.data).toMatchObject({ current_version: 2, oldest_version: 0, max_versions: 0, cas_required: false, delete_version_after: '0s' });
      expect(Object.keys(metadata.json.data.versions)).toEqual(['1', '2']);
      expect((await asRoot({ path: 'secret/data/kv/missing' })).json).toEqual({ errors: [] });
    });

    it('lists with LIST and ?list=true; soft delete, undelete, destroy and metadata delete', async () => {
      await asRoot({ method: 'POST', path: 'secret/data/kv/dir/inner', body: { data: { x: 1 } } });
      const listed = await asRoot({ method: 'LIST', path: 'secret/metadata/kv' });
      expect(listed.json.data.keys).toEqual(['app', 'dir/']);
      expect((await asRoot({ path: 'secret/metadata/kv/?list=true' })).json.data.keys).toEqual(['app', 'dir/']);
      expect((await asRoot({ method: 'LIST', path: 'secret/metadata/nothing' })).status).toBe(404);

      expect((await asRoot({ method: 'DELETE', path: 'secret/data/kv/app' })).status).toBe(204);
      const deleted = await asRoot({ path: 'secret/data/kv/app' });
      expect(deleted.status).toBe(404);
      expect(deleted.json.data.data).toBeNull();
      expect(deleted.json.data.metadata.deletion_time).not.toBe('');
      expect((await asRoot({ method: 'POST', path: 'secret/undelete/kv/app', body: { versions: [2] } })).status).toBe(204);
      expect((await asRoot({ path: 'secret/data/kv/app' })).json.data.data).toEqual({ n: 2 });
      expect((await asRoot({ method: 'PUT', path: 'secret/destroy/kv/app', body: { versions: [1] } })).status).toBe(204);
      expect((await asRoot({ path: 'secret/data/kv/app?version=1' })).json.data.metadata.destroyed).toBe(true);
      expect((await asRoot({ method: 'POST', path: 'secret/delete/kv/app', body: { versions: [2] } })).status).toBe(204);
      expect((await asRoot({ path: 'secret/data/kv/app' })).status).toBe(404);
      expect((await asRoot({ method: 'DELETE', path: 'secret/metadata/kv/app' })).status).toBe(204);
      expect((await asRoot({ path: 'secret/metadata/kv/app' })).status).toBe(404);
    });

    it('mount config can require cas for every write', async () => {
      expect((await asRoot({ method: 'POST', path: 'secret/config', body: { cas_required: true, max_versions: 5 } })).status).toBe(204);
      expect((await asRoot({ path: 'secret/config' })).json.data).toMatchObject({ cas_required: true, max_versions: 5 });
      const noCas = await asRoot({ method: 'POST', path: 'secret/data/kv/strict', body: { data: { a: 1 } } });
      expect(noCas.json.errors).toEqual(['check-and-set parameter required for this call']);
      expect((await asRoot({ method: 'POST', path: 'secret/data/kv/strict', body: { data: { a: 1 }, options: { cas: 0 } } })).status).toBe(200);
      await asRoot({ method: 'POST', path: 'secret/config', body: { cas_required: false, max_versions: 0 } });
    });
  });

  // A tiny HTTPS TokenReview endpoint (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/)
  // standing in for the cluster: it accepts only the reviewer JWT as bearer and knows a set of tokens.
  interface ServiceAccountToken {
    namespace: string;
    name: string;
    uid: string;
    audiences: string[];
    valid: boolean;
    /** iat and nbf (unix seconds); exp is an hour later. Default: now. */
    issuedAt?: number;
  }

  function fakeJwt(claims: Record<string, unknown>): string {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${encode({ alg: 'RS256', kid: 'lab' })}.${encode(claims)}.${randomBytes(32).toString('base64url')}`;
  }

  function projectedToken(account: ServiceAccountToken): string {
    return fakeJwt({
      aud: account.audiences,
      iss: 'https://kubernetes.default.svc.cluster.local',
      sub: `system:serviceaccount:${account.namespace}:${account.name}`,
      'kubernetes.io': { namespace: account.namespace, serviceaccount: { name: account.name, uid: account.uid } },
      // A projected token carries iat, nbf and exp (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-token-volume).
      iat: account.issuedAt ?? Math.floor(Date.now() / 1000),
      nbf: account.issuedAt ?? Math.floor(Date.now() / 1000),
      exp: (account.issuedAt ?? Math.floor(Date.now() / 1000)) + 3600,
    });
  }

  describe('Kubernetes auth (https://developer.hashicorp.com/vault/api-docs/auth/kubernetes)', () => {
    const AUDIENCE = 'https://kubernetes.default.svc.cluster.local';
    const reviewerJwt = fakeJwt({ sub: 'system:serviceaccount:kube-system:vault-reviewer' });
    const tokens = new Map<string, ServiceAccountToken>();
    const reviews: { authorization: string | undefined; body: any }[] = [];
    let responder: Server;
    let clusterTls: TlsMaterial;
    let host: string;

    const tokenFor = (account: Omit<ServiceAccountToken, 'uid' | 'valid'> & { valid?: boolean }): string => {
      const full = { uid: randomUUID(), valid: true, ...account };
      const jwt = projectedToken(full);
      tokens.set(jwt, full);
      return jwt;
    };

    beforeAll(async () => {
      clusterTls = await makeTlsMaterial(join(dir, 'cluster-tls'));
      responder = createServer({ cert: await readFile(clusterTls.certFile), key: await readFile(clusterTls.keyFile) }, (request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          reviews.push({ authorization: request.headers.authorization, body });
          response.setHeader('Content-Type', 'application/json');
          if (request.url !== '/apis/authentication.k8s.io/v1/tokenreviews' || request.headers.authorization !== `Bearer ${reviewerJwt}`) {
            response.writeHead(401).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
            return;
          }
          const account = tokens.get(body.spec.token);
          const wanted: string[] = body.spec.audiences ?? [];
          const audiences = account ? account.audiences.filter((a) => wanted.length === 0 || wanted.includes(a)) : [];
          const authenticated = Boolean(account?.valid) && audiences.length > 0;
          response.end(
            JSON.stringify({
              kind: 'TokenReview',
              apiVersion: 'authentication.k8s.io/v1',
              spec: body.spec,
              status: authenticated
                ? { authenticated: true, audiences, user: { username: `system:serviceaccount:${account!.namespace}:${account!.name}`, uid: account!.uid, groups: ['system:serviceaccounts'] } }
                : { authenticated: false, error: '[invalid bearer token, token lookup failed]' },
            }),
          );
        });
      });
      await new Promise<void>((resolve) => responder.listen(0, '127.0.0.1', resolve));
      host = `https://127.0.0.1:${(responder.address() as AddressInfo).port}`;

      expect((await asRoot({ method: 'POST', path: 'sys/auth/kubernetes', body: { type: 'kubernetes' } })).status).toBe(204);
      await writePolicy('eso', 'path "secret/data/eso/*" { capabilities = ["read"] }');
      await asRoot({ method: 'POST', path: 'secret/data/eso/db', body: { data: { password: 'p' } } });
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => responder?.close(() => resolve()));
    });

    it('config: 404 before the first write; write with reviewer JWT and CA; reads never return the JWT', async () => {
      const unset = await asRoot({ path: 'auth/kubernetes/config' });
      expect(unset.status).toBe(404);
      expect(unset.json).toEqual({ errors: [] });
      // Without kubernetes_ca_cert the plugin reads the CA of the pod it expects to run in.
      const noCa = await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: host } });
      expect(noCa.status).toBe(400);
      expect(noCa.json).toEqual({ errors: ['open /var/run/secrets/kubernetes.io/serviceaccount/ca.crt: no such file or directory'] });
      const noCaNoLocal = await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: host, disable_local_ca_jwt: true } });
      expect(noCaNoLocal.json).toEqual({ errors: ['kubernetes_ca_cert must be given when disable_local_ca_jwt is true'] });
      expect((await asRoot({ path: 'auth/kubernetes/config' })).status).toBe(404);
      const write = await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: host, kubernetes_ca_cert: clusterTls.caPem, token_reviewer_jwt: reviewerJwt } });
      expect(write.status).toBe(204);
      const read = await asRoot({ path: 'auth/kubernetes/config' });
      expect(read.json.data).toMatchObject({ kubernetes_host: host, kubernetes_ca_cert: clusterTls.caPem, token_reviewer_jwt_set: true, disable_iss_validation: true });
      expect(read.raw.toString()).not.toContain(reviewerJwt);
      expect(Object.keys(read.json.data).sort()).toEqual(facts.kubernetesConfigKeys);
      expect((await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: {} })).json.errors).toEqual(['no host provided']);
    });

    it('roles: write, read, list; empty bindings are refused', async () => {
      const write = await asRoot({
        method: 'POST',
        path: 'auth/kubernetes/role/eso',
        body: { bound_service_account_names: ['external-secrets'], bound_service_account_namespaces: 'external-secrets', policies: ['eso'], ttl: '1h', audience: AUDIENCE },
      });
      expect(write.status).toBe(204);
      const read = await asRoot({ path: 'auth/kubernetes/role/eso' });
      expect(read.json.data).toMatchObject({
        bound_service_account_names: ['external-secrets'],
        bound_service_account_namespaces: ['external-secrets'],
        token_policies: ['eso'],
        policies: ['eso'],
        token_ttl: 3600,
        ttl: 3600,
        audience: AUDIENCE,
      });
      expect((await asRoot({ method: 'LIST', path: 'auth/kubernetes/role' })).json.data.keys).toEqual(['eso']);
      const empty = await asRoot({ method: 'POST', path: 'auth/kubernetes/role/bad', body: { bound_service_account_namespaces: ['x'] } });
      expect(empty.json.errors).toEqual(['"bound_service_account_names" can not be empty']);
    });

    it('login: TokenReview with the reviewer bearer over verified TLS, token with role policies and metadata', async () => {
      const jwt = tokenFor({ namespace: 'external-secrets', name: 'external-secrets', audiences: [AUDIENCE] });
      const login = await call({ method: 'POST', path: 'auth/kubernetes/login', body: { role: 'eso', jwt } });
      expect(login.status).toBe(200);
      expect(login.json.auth).toMatchObject({
        policies: ['default', 'eso'],
        token_policies: ['default', 'eso'],
        lease_duration: 3600,
        renewable: true,
        orphan: true,
        metadata: { role: 'eso', service_account_name: 'external-secrets', service_account_namespace: 'external-secrets', service_account_uid: tokens.get(jwt)!.uid },
      });
      const review = reviews.at(-1)!;
      expect(review.authorization).toBe(`Bearer ${reviewerJwt}`);
      expect(review.body.spec).toEqual({ token: jwt, audiences: [AUDIENCE] });
      const token = login.json.auth.client_token;
      expect((await call({ path: 'secret/data/eso/db', token })).json.data.data).toEqual({ password: 'p' });
      expect((await call({ path: 'secret/data/shared/config', token })).status).toBe(403);
    });

    it('login: bound name, namespace and audience mismatches are refused like Vault', async () => {
      const login = (jwt: string, role = 'eso') => call({ method: 'POST', path: 'auth/kubernetes/login', body: { role, jwt } });
      const wrongName = await login(tokenFor({ namespace: 'external-secrets', name: 'intruder', audiences: [AUDIENCE] }));
      expect(wrongName.status).toBe(403);
      expect(wrongName.json).toEqual({ errors: ['service account name not authorized'] });
      const wrongNamespace = await login(tokenFor({ namespace: 'default', name: 'external-secrets', audiences: [AUDIENCE] }));
      expect(wrongNamespace.status).toBe(403);
      expect(wrongNamespace.json).toEqual({ errors: ['namespace not authorized'] });
      const wrongAudience = await login(tokenFor({ namespace: 'external-secrets', name: 'external-secrets', audiences: ['vault'] }));
      expect(wrongAudience.status).toBe(403);
      expect(wrongAudience.json.errors[0]).toMatch(/^invalid audience \(aud\) claim/);
      const revoked = await login(tokenFor({ namespace: 'external-secrets', name: 'external-secrets', audiences: [AUDIENCE], valid: false }));
      expect(revoked.status).toBe(403);
      expect(revoked.json).toEqual(INVALID_TOKEN);
      // hashicorp/cap jwt's time checks, with its one-minute leeway.
      const expired = await login(tokenFor({ namespace: 'external-secrets', name: 'external-secrets', audiences: [AUDIENCE], issuedAt: Math.floor(Date.now() / 1000) - 3800 }));
      expect(expired.status).toBe(403);
      expect(expired.json).toEqual({ errors: ['invalid expiration time (exp) claim: token is expired'] });
      const early = await login(tokenFor({ namespace: 'external-secrets', name: 'external-secrets', audiences: [AUDIENCE], issuedAt: Math.floor(Date.now() / 1000) + 600 }));
      expect(early.json).toEqual({ errors: ['invalid not before (nbf) claim: token not yet valid'] });
      const noRole = await login('a.b.c', 'nosuch');
      expect(noRole.status).toBe(400);
      expect(noRole.json.errors).toEqual(['invalid role name "nosuch"']);
    });

    it('login: wildcard bindings accept any name and namespace; an untrusted CA fails the review', async () => {
      await asRoot({ method: 'POST', path: 'auth/kubernetes/role/any', body: { bound_service_account_names: '*', bound_service_account_namespaces: '*', token_policies: 'eso' } });
      const jwt = tokenFor({ namespace: 'ns1', name: 'whoever', audiences: [AUDIENCE] });
      expect((await call({ method: 'POST', path: 'auth/kubernetes/login', body: { role: 'any', jwt } })).status).toBe(200);

      // Point the config at a CA that did not sign the responder's certificate: TLS must fail. (The
      // cluster is named by another host name here: the real plugin's HTTP client keeps its TLS
      // connections alive, and one opened under the old CA would carry the review regardless.)
      const strangerCa = (await makeTlsMaterial(join(dir, 'stranger-tls'))).caPem;
      const sameCluster = host.replace('127.0.0.1', 'localhost');
      await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: sameCluster, kubernetes_ca_cert: strangerCa, token_reviewer_jwt: reviewerJwt } });
      const reviewsBefore = reviews.length;
      const refused = await call({ method: 'POST', path: 'auth/kubernetes/login', body: { role: 'any', jwt } });
      expect(refused.status).toBe(403);
      expect(reviews.length).toBe(reviewsBefore);
      expect(refused.json).toEqual(INVALID_TOKEN);
      // The reason is logged at debug level only: nothing at the default level.
      expect(vault.stderr()).not.toContain('login unauthorized');

      // Every config write replaces the whole config: leaving token_reviewer_jwt out clears it, and
      // the review is then made with the client's own JWT as bearer, which this cluster refuses.
      await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: host, kubernetes_ca_cert: clusterTls.caPem } });
      expect((await asRoot({ path: 'auth/kubernetes/config' })).json.data.token_reviewer_jwt_set).toBe(false);
      const ownBearer = await call({ method: 'POST', path: 'auth/kubernetes/login', body: { role: 'any', jwt } });
      expect(ownBearer.status).toBe(403);
      expect(reviews.at(-1)!.authorization).toBe(`Bearer ${jwt}`);
      await asRoot({ method: 'POST', path: 'auth/kubernetes/config', body: { kubernetes_host: host, kubernetes_ca_cert: clusterTls.caPem, token_reviewer_jwt: reviewerJwt } });
      expect((await call({ method: 'POST', path: 'auth/kubernetes/login', body: { role: 'any', jwt } })).status).toBe(200);
    });
  });

  describe('curl as a client (https://developer.hashicorp.com/vault/api-docs#http-verbs)', () => {
    const curl = async (args: string[], stdin?: string): Promise<string> => {
      const child = execFile('curl', ['--silent', '--show-error', '--cacert', tls.caFile, ...args]);
      child.stdin!.end(stdin ?? '');
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      return stdout;
    };

    it('LIST, a chunked upload and GET on one keep-alive connection; token and body from stdin', async () => {
      // curl reuses one connection for the URLs of one invocation: the LIST after a chunked body
      // must still be recognised. The token goes in a header file, not on the command line.
      const tokenHeader = join(dir, 'token-header');
      await writeFile(tokenHeader, `X-Vault-Token: ${root}\n`, { mode: 0o600 });
      const output = await curl(
        [
          '--header', `@${tokenHeader}`, '--header', 'Transfer-Encoding: chunked', '--request', 'POST', '--data', '@-',
          `${vault.url}/v1/secret/data/curl/one`,
          '--next', '--cacert', tls.caFile, '--header', `@${tokenHeader}`, '--request', 'LIST', `${vault.url}/v1/secret/metadata/curl`,
          '--next', '--cacert', tls.caFile, '--header', `@${tokenHeader}`, `${vault.url}/v1/secret/data/curl/one`,
        ],
        JSON.stringify({ data: { via: 'curl' } }),
      );
      const documents = output.trim().split('\n').map((line) => JSON.parse(line));
      expect(documents[0].data.version).toBe(1);
      expect(documents[1].data.keys).toEqual(['one']);
      expect(documents[2].data.data).toEqual({ via: 'curl' });
    });

    it('health with query parameters and HEAD, as an unseal script polls it', async () => {
      const code = await curl(['--output', '/dev/null', '--write-out', '%{http_code}', '--head', `${vault.url}/v1/sys/health?standbyok=true`]);
      expect(code).toBe('200');
      const bad = await curl(['--write-out', ' %{http_code}', `${vault.url}/v1/sys/health?standbyok=maybe`]);
      expect(bad).toBe('{"errors":[]}\n 400');
      expect(vault.stderr()).toContain('[ERROR] core: error checking health: error="bad value for standbyok parameter');
    });
  });
});

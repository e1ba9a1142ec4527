// Root token generation from unseal key shares, against the lab's simulator (Vault's
// unauthenticated sys/generate-root) and the real OpenBao (sys/generate-root-token, behind a
// token): the procedure the product uses to prove that unseal keys open a running server without
// sealing it (source/steps/vault/key-proof.ts). Where the two servers differ the values come from
// conformance/differences.ts; the lifecycle is the same.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { FACTS } from './conformance/differences.js';
import { initUnsealed, prepareServers, SERVER_KINDS, type ConformanceServer, type InitResult, type RequestOptions } from './conformance/servers.js';

const servers = prepareServers((server) => initUnsealed(server, 3, 2), { name: 'root-generation' });

/** The answer's fields: at the top level (Vault) or in the envelope's data (OpenBao). */
function fields(json: any, enveloped: boolean): Record<string, unknown> {
  return enveloped ? json.data : json;
}

function decode(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  return String.fromCharCode(...[...bytes].map((byte, index) => byte ^ otp.charCodeAt(index)));
}

describe.each(SERVER_KINDS)('%s', (kind) => {
  const facts = FACTS[kind];
  const generation = facts.rootGeneration;
  let vault: ConformanceServer;
  let init: InitResult;

  const call = (options: RequestOptions & { auth?: boolean }) =>
    vault.call({ ...options, ...(generation.authenticated && options.auth !== false ? { token: init.root_token } : {}) });
  const attempt = (method = 'GET', body?: unknown) => call({ method, path: `${generation.path}/attempt`, ...(body === undefined ? {} : { body }) });
  const update = (key: string, nonce: string) => call({ method: 'POST', path: `${generation.path}/update`, body: { key, nonce } });

  beforeAll(async () => {
    ({ server: vault, value: init } = await servers.get(kind));
  });

  it('the endpoint is where this server serves it, and needs a token only where it says so', async () => {
    const status = await attempt();
    expect(status.status).toBe(200);
    expect(fields(status.json, generation.enveloped)).toMatchObject({ started: false, progress: 0, required: 2, complete: false, otp_length: generation.otpLength });
    const anonymous = await call({ path: `${generation.path}/attempt`, auth: false });
    expect(anonymous.status).toBe(generation.authenticated ? 403 : 200);
    if (kind === 'openbao') {
      // The unauthenticated endpoints are off by default since OpenBao 2.5.3.
      expect((await vault.call({ path: 'sys/generate-root/attempt' })).status).toBe(405);
    }
  });

  it('start returns a nonce and a base62 OTP once; a second start is refused; DELETE cancels', async () => {
    const started = await attempt('POST', {});
    expect(started.status).toBe(200);
    const first = fields(started.json, generation.enveloped);
    expect(first).toMatchObject({ started: true, progress: 0, required: 2 });
    expect(first['otp']).toMatch(new RegExp(`^[A-Za-z0-9]{${generation.otpLength}}$`));
    expect(first['nonce']).toMatch(/^[0-9a-f-]{36}$/);
    expect(fields((await attempt()).json, generation.enveloped)).toMatchObject({ started: true, nonce: first['nonce'], otp: '' });
    const again = await attempt('POST', {});
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(again.json.errors)).toMatch(/root generation already in progress/);
    expect((await attempt('DELETE')).status).toBe(204);
    expect(fields((await attempt()).json, generation.enveloped)).toMatchObject({ started: false });
    expect((await attempt('DELETE')).status).toBe(204); // cancelling nothing is fine
  });

  it('a wrong share aborts at the threshold: shares cleared, the attempt kept until cancelled', async () => {
    const { nonce } = fields((await attempt('POST', {})).json, generation.enveloped) as { nonce: string };
    expect(fields((await update(init.keys[0]!, nonce)).json, generation.enveloped)).toMatchObject({ progress: 1, complete: false });
    const wrong = await update(randomBytes(33).toString('hex'), nonce);
    expect(wrong.status).toBe(generation.failedUpdateStatus);
    expect(JSON.stringify(wrong.json.errors)).toMatch(/root generation aborted: unable to authenticate: .*message authentication failed/);
    expect(fields((await attempt()).json, generation.enveloped)).toMatchObject({ started: true, nonce, progress: 0 });
    // A wrong nonce is refused without counting the share.
    const badNonce = await update(init.keys[1]!, '00000000-0000-0000-0000-000000000000');
    expect(badNonce.status).toBe(generation.failedUpdateStatus);
    expect(JSON.stringify(badNonce.json.errors)).toMatch(/incorrect nonce supplied/);
    expect((await attempt('DELETE')).status).toBe(204);
  });

  it('threshold right shares complete it: the encoded token XOR the OTP is a new root token, which revokes itself', async () => {
    const { nonce, otp } = fields((await attempt('POST', {})).json, generation.enveloped) as { nonce: string; otp: string };
    await update(init.keys[2]!, nonce);
    const done = await update(init.keys_base64[0]!, nonce);
    expect(done.status).toBe(200);
    const answer = fields(done.json, generation.enveloped);
    expect(answer).toMatchObject({ complete: true, progress: 2 });
    const token = decode(String(answer['encoded_token']), otp);
    expect(token).toMatch(facts.tokenPattern);
    expect(token).not.toBe(init.root_token);
    const lookup = await vault.call({ path: 'auth/token/lookup-self', token });
    expect(lookup.status).toBe(200);
    expect(lookup.json.data.policies).toEqual(['root']);
    expect((await vault.call({ method: 'POST', path: 'auth/token/revoke-self', token })).status).toBe(204);
    expect((await vault.call({ path: 'auth/token/lookup-self', token })).status).toBe(403);
    expect(fields((await attempt()).json, generation.enveloped)).toMatchObject({ started: false, progress: 0 });
  });

  it('sealed: root generation is refused with 503', async () => {
    expect((await vault.call({ method: 'PUT', path: 'sys/seal', token: init.root_token })).status).toBe(204);
    const sealed = await vault.call({ path: `${generation.path}/attempt`, ...(generation.authenticated ? { token: init.root_token } : {}) });
    expect(sealed.status).toBe(503);
  });
});

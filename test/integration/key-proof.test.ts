// The proof that unseal keys open a running server (source/steps/vault/key-proof.ts), through the
// product's own client, against the lab's simulator and the real OpenBao: sealed (by unseal),
// unsealed (by root token generation: Vault's unauthenticated endpoint, OpenBao's behind a token),
// wrong keys, too few keys, and someone else's unseal or root generation left untouched.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPENBAO, VAULT } from '../../source/core/server.js';
import { connectVault, type VaultApi } from '../../source/services/vault.js';
import { decodeRootToken, proveKeysOpen, type KeyProofOptions } from '../../source/steps/vault/key-proof.js';
import { FACTS } from './conformance/differences.js';
import { initUnsealed, prepareServers, SERVER_KINDS, unsealWith, waitActive, type ConformanceServer, type InitResult } from './conformance/servers.js';

const servers = prepareServers((server) => initUnsealed(server, 5, 3), { name: 'key-proof' });

const wrongKeys = (count: number): string[] => Array.from({ length: count }, () => randomBytes(33).toString('hex'));

describe('decodeRootToken', () => {
  it('XORs the base64 bytes with the OTP; a length mismatch is an error, not a wrong token', () => {
    const otp = 'A'.repeat(28);
    const token = 'hvs.abcdefghijklmnopqrstuvwx';
    const encoded = Buffer.from([...token].map((c, i) => c.charCodeAt(0) ^ otp.charCodeAt(i))).toString('base64').replace(/=+$/, '');
    expect(decodeRootToken(encoded, otp)).toBe(token);
    expect(() => decodeRootToken(encoded, 'A'.repeat(26))).toThrow(/28 bytes for an OTP of 26/);
  });
});

describe.each(SERVER_KINDS)('%s', (kind) => {
  const facts = FACTS[kind];
  let server: ConformanceServer;
  let init: InitResult;
  let vault: VaultApi;
  let tokensAsked = 0;
  const secrets: string[] = [];
  const options = (): KeyProofOptions => ({
    server: kind === 'openbao' ? OPENBAO : VAULT,
    token: async () => {
      tokensAsked += 1;
      return init.root_token;
    },
    registerSecret: (value) => void secrets.push(value),
  });
  const attemptPath = `${facts.rootGeneration.path}/attempt`;
  const rootGenerationStatus = async () => {
    const response = await server.call({ path: attemptPath, ...(facts.rootGeneration.authenticated ? { token: init.root_token } : {}) });
    return facts.rootGeneration.enveloped ? response.json.data : response.json;
  };

  beforeAll(async () => {
    ({ server, value: init } = await servers.get(kind));
    vault = await connectVault({ address: server.url, caPem: server.tls.caPem, server: kind === 'openbao' ? OPENBAO : VAULT });
  });

  it('unsealed: the right keys are proven by a root token generation, whose token is revoked; a token is asked only where the server needs one', async () => {
    tokensAsked = 0;
    const before = (await server.call({ path: 'auth/token/accessors', method: 'LIST', token: init.root_token })).json.data.keys.length;
    const proof = await proveKeysOpen(vault, init.keys, options());
    expect(proof).toEqual({ outcome: 'opens', how: 'root-generation' });
    expect(tokensAsked).toBe(facts.rootGeneration.authenticated ? 1 : 0);
    // The OTP and the new root token went to the redactor; the token no longer exists.
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    const newToken = secrets.at(-1)!;
    expect(newToken).toMatch(facts.tokenPattern);
    expect((await server.call({ path: 'auth/token/lookup-self', token: newToken })).status).toBe(403);
    expect((await server.call({ path: 'auth/token/accessors', method: 'LIST', token: init.root_token })).json.data.keys.length).toBe(before);
    expect(await rootGenerationStatus()).toMatchObject({ started: false, progress: 0 });
    expect((await vault.sealStatus()).sealed).toBe(false);
  });

  it('unsealed: wrong keys are rejected with what the server said, and the aborted attempt is cancelled', async () => {
    const proof = await proveKeysOpen(vault, wrongKeys(5), options());
    expect(proof.outcome).toBe('rejected');
    expect(proof.outcome === 'rejected' && proof.reason).toMatch(/root generation aborted/);
    expect(await rootGenerationStatus()).toMatchObject({ started: false });
  });

  it('fewer keys than the threshold are rejected without a request that changes anything', async () => {
    expect(await proveKeysOpen(vault, init.keys.slice(0, 2), options())).toEqual({ outcome: 'rejected', reason: '2 key(s), fewer than the threshold of 3' });
  });

  it("someone else's root generation is left alone: cannot tell", async () => {
    const started = await server.call({ method: 'POST', path: attemptPath, body: {}, ...(facts.rootGeneration.authenticated ? { token: init.root_token } : {}) });
    expect(started.status).toBe(200);
    const nonce = (facts.rootGeneration.enveloped ? started.json.data : started.json).nonce as string;
    const proof = await proveKeysOpen(vault, init.keys, options());
    expect(proof).toEqual({ outcome: 'unknown', reason: expect.stringContaining(`a root token generation is under way on ${facts.name} (nonce ${nonce}), not started here`) });
    expect(await rootGenerationStatus()).toMatchObject({ started: true, nonce });
    await server.call({ method: 'DELETE', path: attemptPath, ...(facts.rootGeneration.authenticated ? { token: init.root_token } : {}) });
  });

  it('sealed: wrong keys are rejected and the progress is back to 0; the right keys unseal it', async () => {
    expect((await server.call({ method: 'PUT', path: 'sys/seal', token: init.root_token })).status).toBe(204);
    const wrong = await proveKeysOpen(vault, wrongKeys(5), options());
    expect(wrong.outcome).toBe('rejected');
    expect(await vault.sealStatus()).toMatchObject({ sealed: true, progress: 0 });
    expect(await proveKeysOpen(vault, init.keys_base64, options())).toEqual({ outcome: 'opens', how: 'unsealed' });
    expect((await vault.sealStatus()).sealed).toBe(false);
    await waitActive(server);
  });

  it("sealed with someone else's unseal under way: cannot tell, their progress kept", async () => {
    expect((await server.call({ method: 'PUT', path: 'sys/seal', token: init.root_token })).status).toBe(204);
    await server.call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } });
    const proof = await proveKeysOpen(vault, init.keys, options());
    expect(proof).toEqual({ outcome: 'unknown', reason: 'an unseal is under way (1 share(s) given by someone else); it is left alone' });
    expect(await vault.sealStatus()).toMatchObject({ sealed: true, progress: 1 });
    await server.call({ method: 'PUT', path: 'sys/unseal', body: { reset: true } });
  });

  it('stopped: cannot tell (nothing answers)', async () => {
    await server.stop();
    try {
      const proof = await proveKeysOpen(vault, init.keys, options());
      expect(proof.outcome).toBe('unknown');
    } finally {
      await server.start();
    }
  });
});

describe('openbao with a token that may not generate root tokens', () => {
  it('cannot tell, saying the server did not start one: a refusal is not taken for wrong keys', async () => {
    const { server, value: init } = await servers.get('openbao');
    const vault = await connectVault({ address: server.url, caPem: server.tls.caPem, server: OPENBAO });
    // The file's last case restarted it: it came back sealed.
    if ((await vault.sealStatus()).sealed) await unsealWith(server, init.keys.slice(0, 3));
    await waitActive(server);
    const proof = await proveKeysOpen(vault, init.keys, { server: OPENBAO, token: async () => 's.notatokenanyonehas00000', registerSecret: () => undefined });
    expect(proof).toEqual({ outcome: 'unknown', reason: expect.stringMatching(/^OpenBao did not start a root token generation: .*permission denied/) });
  });
});

// The product's Vault client (services/vault.ts) against the lab's Vault-compatible server running
// here: seal-status and health as documented at
// https://developer.hashicorp.com/vault/api-docs/system/seal-status and .../system/health,
// TLS verified with our CA whatever the environment says, and nothing logged by node-vault.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { connectVault } from '../../source/services/vault.js';
import { formatStatus } from '../../source/steps/host/verify.js';
import { freePort, makeTlsMaterial, startVault, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

let dir: string;
let tls: TlsMaterial;
let stranger: TlsMaterial;
let vault: VaultProcess;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-vault-api-'));
  const executable = await writeVaultExecutable(join(dir, 'bin'), '2.0.4');
  [tls, stranger] = await Promise.all([makeTlsMaterial(join(dir, 'tls')), makeTlsMaterial(join(dir, 'stranger'))]);
  vault = await startVault({ executable, dir: join(dir, 'node'), tls });
  // Everything node-vault would take from the environment, set to values that must have no effect.
  process.env['VAULT_SKIP_VERIFY'] = '1';
  process.env['VAULT_TOKEN'] = 'hvs.from-the-environment';
  process.env['VAULT_PREFIX'] = '/not-a-prefix';
  process.env['VAULT_ADDR'] = 'https://192.0.2.1:1';
  process.env['DEBUG'] = 'node-vault';
}, 60_000);

afterAll(async () => {
  process.env = savedEnv;
  await vault?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Vault API client', () => {
  it('reads seal status and health of a fresh server (not initialized, sealed), logging nothing even with DEBUG=node-vault', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const api = await connectVault({ address: vault.url, caPem: tls.caPem });
      expect(await api.sealStatus()).toEqual({ initialized: false, sealed: true, version: '2.0.4', storageType: 'raft', t: 0, n: 0, progress: 0 });
      // A sealed Vault reports itself as standby in /sys/health.
      expect(await api.health()).toEqual({ initialized: false, sealed: true, standby: true, version: '2.0.4' });
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).not.toMatch(/node-vault|sys\/seal-status/);
  });

  it('refuses a server its CA did not sign, even with VAULT_SKIP_VERIFY set', async () => {
    const api = await connectVault({ address: vault.url, caPem: stranger.caPem });
    const error = await api.sealStatus().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/not trusted/);
    expect((error as UserError).hint).toMatch(/subjectAltNames/);
  });

  it('refuses a name the certificate does not carry (the lab certificate has 127.0.0.1 and localhost only)', async () => {
    const api = await connectVault({ address: vault.url.replace('127.0.0.1', '127.0.0.2'), caPem: tls.caPem });
    await expect(api.sealStatus()).rejects.toThrow(/not trusted|cannot reach/);
  });

  it('says it cannot reach a closed port, with a hint', async () => {
    const api = await connectVault({ address: `https://127.0.0.1:${await freePort()}`, caPem: tls.caPem, timeoutMs: 3_000 });
    const error = (await api.health().catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^cannot reach Vault at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(error.hint).toMatch(/vault\.service/);
  });
});

describe('status lines', () => {
  it('look like `vault status`', () => {
    expect(formatStatus({ initialized: true, sealed: true, version: '2.0.4', storageType: 'raft', t: 3, n: 5, progress: 1 }, 'https://10.0.0.11:8200')).toEqual([
      'Address            https://10.0.0.11:8200',
      'Initialized        true',
      'Sealed             true',
      'Total Shares       5',
      'Threshold          3',
      'Unseal Progress    1/3',
      'Version            2.0.4',
      'Storage Type       raft',
    ]);
  });
});

// The TTL shown for a created token is the one Vault granted (auth.lease_duration of the
// auth/token/create answer, https://developer.hashicorp.com/vault/api-docs/auth/token#create-token),
// not the one asked for; a cap is said. Pure cases, then the product's client against the lab's
// Vault-compatible server, which caps a token's TTL at the system max (768h) as a stock Vault does.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../source/core/redact.js';
import { runPlan } from '../../source/core/runner.js';
import { OPENBAO, VAULT } from '../../source/core/server.js';
import type { LogLine, Prompter, Reveal, RunnerEvent } from '../../source/core/step.js';
import { custodyPath, writeCustody } from '../../source/profile/custody.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import { connectVault, type VaultApi } from '../../source/services/vault.js';
import { vaultSteps } from '../../source/steps/vault/index.js';
import { cappedTtlHint, durationSeconds, formatDurationSeconds, grantedTtl } from '../../source/steps/vault/token-ttl.js';
import { waitForActive } from '../support/wait-active.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';
import { makeTlsMaterial, startVault, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

describe('grantedTtl', () => {
  it('granted as asked: the TTL as the profile wrote it, nothing more', () => {
    expect(grantedTtl('768h', 768 * 3600)).toEqual({ ttl: '768h', seconds: 2764800, asked: '768h', capped: false, text: '768h' });
    expect(grantedTtl('30d', 30 * 86400).text).toBe('30d');
    expect(grantedTtl('10m', 600).text).toBe('10m');
  });

  it('granted less: what Vault granted, what was asked, and that Vault capped it', () => {
    const capped = grantedTtl('8760h', 2764800);
    expect(capped).toMatchObject({ ttl: '768h', seconds: 2764800, asked: '8760h', capped: true });
    expect(capped.text).toBe("768h (asked 8760h; capped by Vault's max TTL)");
    expect(grantedTtl('365d', 2764800, OPENBAO.name).text).toBe("768h (asked 365d; capped by OpenBao's max TTL)");
    // A parent with 59 min 30 s left: whole minutes are not assumed.
    expect(grantedTtl('1h', 3570).text).toBe("3570s (asked 1h; capped by Vault's max TTL)");
  });

  it('no TTL in the answer (0) is said as no expiry, never as the TTL asked', () => {
    expect(grantedTtl('768h', 0)).toMatchObject({ ttl: 'none', capped: false, text: 'no expiry (asked 768h; Vault gave the token no TTL)' });
    expect(grantedTtl('768h', Number.NaN).ttl).toBe('none');
  });

  it('the hint says how to fix a cap: ask for at most what is granted, or raise the token mount max TTL', () => {
    const hint = cappedTtlHint(grantedTtl('8760h', 2764800), VAULT);
    expect(hint).toContain('Vault granted 768h, less than the 8760h vault.accessTtl asks for');
    expect(hint).toContain('Set vault.accessTtl to at most 768h');
    expect(hint).toContain('`vault auth tune -max-lease-ttl=8760h token/`');
    expect(cappedTtlHint(grantedTtl('8760h', 2764800), OPENBAO)).toContain('`bao auth tune -max-lease-ttl=8760h token/`');
  });

  it('durations in and out', () => {
    expect(durationSeconds('768h')).toBe(2764800);
    expect(durationSeconds('30d')).toBe(2592000);
    expect(durationSeconds('3600s')).toBe(3600);
    expect(durationSeconds('1.5h')).toBeUndefined();
    expect(formatDurationSeconds(2764800)).toBe('768h');
    expect(formatDurationSeconds(90)).toBe('90s');
    expect(formatDurationSeconds(1800)).toBe('30m');
  });
});

describe('a token created on the lab Vault', () => {
  let dir: string;
  let tls: TlsMaterial;
  let vault: VaultProcess;
  let api: VaultApi;
  let rootToken: string;
  let xdg: TempXdg;

  beforeAll(async () => {
    xdg = useTempXdg();
    dir = await mkdtemp(join(tmpdir(), 'token-ttl-'));
    const executable = await writeVaultExecutable(join(dir, 'bin'), '2.0.4');
    tls = await makeTlsMaterial(join(dir, 'tls'));
    vault = await startVault({ executable, dir: join(dir, 'node'), tls, env: { VAULT_SIM_INIT_MS: '0' } });
    api = await connectVault({ address: vault.url, caPem: tls.caPem });
    const init = await api.init({ shares: 1, threshold: 1 });
    rootToken = init.root_token;
    await api.unseal(init.keys[0]!);
    await waitForActive(vault.url, tls.caPem);
    // Custody as the TLS and init steps leave it, for the tokens step below.
    await writeCustody('ttl', 'ca.crt', tls.caPem);
    const record = { version: 1, vaultAddress: vault.url, initializedAt: new Date().toISOString(), shares: 1, threshold: 1, ...init };
    await writeCustody('ttl', 'init.json', JSON.stringify(record));
  }, 60_000);

  afterAll(async () => {
    await vault?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    xdg?.restore();
  });

  it('asked 8760h, Vault grants its max (768h): the shown TTL is the granted one, said capped', { timeout: 30_000 }, async () => {
    const created = await api.withToken(rootToken).createToken({ policies: ['default'], ttl: '8760h', noParent: true });
    expect(created.leaseDuration).toBe(768 * 3600);
    expect(grantedTtl('8760h', created.leaseDuration).text).toBe("768h (asked 8760h; capped by Vault's max TTL)");
  });

  it('asked 1h, granted 1h: shown as asked', { timeout: 30_000 }, async () => {
    const created = await api.withToken(rootToken).createToken({ policies: ['default'], ttl: '1h', noParent: true });
    expect(created.leaseDuration).toBe(3600);
    expect(grantedTtl('1h', created.leaseDuration)).toMatchObject({ ttl: '1h', capped: false, text: '1h' });
  });

  it('vault.tokens with vault.accessTtl=8760h: the reveal, the log and tokens.json carry the 768h Vault granted, said capped, with the fix', { timeout: 30_000 }, async () => {
    const profile = ProfileSchema.parse({ host: { transport: 'local' }, vault: { apiAddress: vault.url, keyShares: 1, keyThreshold: 1, accessTtl: '8760h' } });
    const steps = vaultSteps(profile).filter((step) => step.id === 'vault.tokens');
    const revealed: Reveal[] = [];
    const prompt: Prompter = {
      confirm: async (question) => {
        throw new Error(`unexpected confirm: ${question}`);
      },
      secret: async (question) => {
        throw new Error(`unexpected secret prompt: ${question}`);
      },
      text: async (question) => {
        throw new Error(`unexpected text prompt: ${question}`);
      },
      revealOnce: async (reveal) => void revealed.push(reveal),
    };
    const events: RunnerEvent[] = [];
    const done = await runPlan(
      { steps },
      { profile, profileName: 'ttl', services: { host: async () => Promise.reject(new Error('no host needed')) }, prompt, redactor: new Redactor() },
      { mode: 'apply', onEvent: (event) => events.push(event) },
    );
    expect(done.result, JSON.stringify(events.filter((event) => event.type === 'step-failed'))).toBe('ok');
    expect(revealed).toHaveLength(1);
    expect(revealed[0]!.title).toBe("Vault tokens issued, TTL 768h (asked 8760h; capped by Vault's max TTL)");
    expect(revealed[0]!.note).toContain("They expire after 768h, the TTL Vault granted");
    expect(revealed[0]!.note).not.toContain('8760h');
    const logs = events.flatMap((event) => (event.type === 'log' ? [event.line] : [])) as LogLine[];
    expect(logs.filter((line) => line.level === 'info' && /^issued a \w+ token/.test(line.text)).map((line) => line.text.replace(/accessor [^)]+/, 'accessor A'))).toEqual([
      "issued a readonly token (accessor A), TTL 768h (asked 8760h; capped by Vault's max TTL)",
      "issued a readwrite token (accessor A), TTL 768h (asked 8760h; capped by Vault's max TTL)",
    ]);
    expect(logs.find((line) => line.level === 'warn')?.text).toMatch(/^Vault granted 768h, less than the 8760h vault\.accessTtl asks for: .*Set vault\.accessTtl to at most 768h/);
    const tokens = JSON.parse(await readFile(custodyPath('ttl', 'tokens.json'), 'utf8')) as { tokens: Record<string, { ttl: string; askedTtl?: string }> };
    expect(tokens.tokens['readonly']).toMatchObject({ ttl: '768h', askedTtl: '8760h' });
    expect(tokens.tokens['readwrite']).toMatchObject({ ttl: '768h', askedTtl: '8760h' });
  });
});

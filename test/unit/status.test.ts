// The status collection (source/services/status.ts) against the lab's Vault simulator started here,
// over TLS verified with a throwaway CA: each state Vault can be in gives its exit code
// (uninitialized 3, sealed 2, unsealed 0, unreachable 1), and every report matches the documented
// JSON Schema (source/cli/status.schema.json).
// API: https://developer.hashicorp.com/vault/api-docs/system/seal-status,
//      https://developer.hashicorp.com/vault/api-docs/system/leader
import { waitForActive } from '../support/wait-active.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CERT_WARN_DAYS,
  certificateStatus,
  collectStatus,
  describeHa,
  nodeRole,
  parseUnitStates,
  statusExitCode,
  statusWarnings,
  unitStateCommand,
  emptyVaultStatus,
  type StatusReport,
} from '../../source/services/status.js';
import { statusSchemaValidator } from './status-schema.js';
import { freePort, makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

const VERSION = '2.0.4';

let dir: string;
let tls: TlsMaterial;
let vault: VaultProcess;
let validate: ValidateFunction;
let init: { keys: string[]; root_token: string };

function expectValid(report: StatusReport): void {
  const ok = validate(report);
  expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
}

const read = (overrides: Partial<Parameters<typeof collectStatus>[0]> = {}): Promise<StatusReport> =>
  collectStatus({ profileName: 'lab', address: vault.url, caPem: async () => tls.caPem, ...overrides });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pvt-status-'));
  validate = await statusSchemaValidator();
  tls = await makeTlsMaterial(join(dir, 'tls'));
  const executable = await writeVaultExecutable(join(dir, 'bin'), VERSION);
  // A standby period after each unseal (default 300 ms) long enough for a read to surely fall in it.
  vault = await startVault({ executable, dir: join(dir, 'node'), tls, env: { VAULT_SIM_STANDBY_MS: '2000' } });
});

afterAll(async () => {
  await vault?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('status of a Vault simulator over verified TLS', () => {
  it('not initialized: state uninitialized, exit 3, no unseal progress, certificate read from the handshake', async () => {
    const report = await read();
    expectValid(report);
    expect(report).toMatchObject({ schemaVersion: 1, profile: 'lab', state: 'uninitialized', exitCode: 3, host: null, cluster: null });
    expect(report.vault).toMatchObject({ address: vault.url, reachable: true, error: null, initialized: false, sealed: true, unseal: null, version: VERSION, storageType: 'raft', sealType: 'shamir', ha: null });
    // makeTlsMaterial signs for 2 days: 1 whole day left, which is within the warning window.
    expect(report.vault.certificate).toMatchObject({ daysLeft: 1, subject: 'CN=vault', issuer: 'CN=Lab Test CA' });
    expect(report.warnings).toContain('the server certificate expires in 1 day(s)');
  });

  it('sealed after init: exit 2, unseal progress k/t with the shares, HA unknown while sealed', async () => {
    const answer = await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 5, secret_threshold: 3 } });
    expect(answer.status).toBe(200);
    init = answer.json;
    let report = await read();
    expectValid(report);
    expect(report).toMatchObject({ state: 'sealed', exitCode: 2 });
    expect(report.vault).toMatchObject({ initialized: true, sealed: true, unseal: { progress: 0, threshold: 3, shares: 5 }, ha: null });

    await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/unseal', body: { key: init.keys[0] } });
    report = await read();
    expectValid(report);
    expect(report.vault.unseal).toEqual({ progress: 1, threshold: 3, shares: 5 });
    expect(report.exitCode).toBe(2);
  });

  it('just unsealed, a standby with no active node yet: unsealed (exit 0), role waiting-for-leader, said in a warning', async () => {
    for (const key of init.keys.slice(1, 3)) await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/unseal', body: { key } });
    const report = await read();
    expectValid(report);
    expect(report).toMatchObject({ state: 'unsealed', exitCode: 0 });
    expect(report.vault).toMatchObject({ sealed: false, role: 'waiting-for-leader', ha: { enabled: true, isSelf: false, leaderAddress: null } });
    expect(describeHa(report.vault)).toBe('enabled, standby waiting for leadership (no active node yet)');
    expect(report.warnings.some((warning) => warning.startsWith('unsealed, waiting for leadership: Vault is a standby until raft makes it the active node'))).toBe(true);
    expect(report.warnings.join('\n')).not.toContain('the active node is unknown');
  });

  it('unsealed: exit 0, HA from sys/leader (enabled, this node active)', async () => {
    await waitForActive(vault.url, tls.caPem);
    const report = await read();
    expectValid(report);
    expect(report).toMatchObject({ state: 'unsealed', exitCode: 0 });
    expect(report.vault.role).toBe('active');
    expect(report.warnings.join('\n')).not.toContain('waiting for leadership');
    expect(report.vault).toMatchObject({ initialized: true, sealed: false, unseal: { progress: 0, threshold: 3, shares: 5 }, ha: { enabled: true, isSelf: true } });
    expect(report.vault.ha?.leaderAddress).toBe(vault.url);
  });

  it('unreachable (nothing listens): exit 1 with the reason, nothing else known', async () => {
    const port = await freePort();
    const report = await read({ address: `https://127.0.0.1:${port}` });
    expectValid(report);
    expect(report).toMatchObject({ state: 'unreachable', exitCode: 1 });
    expect(report.vault).toMatchObject({ reachable: false, initialized: null, sealed: null, certificate: null });
    expect(report.vault.error).toBe(`connection refused by https://127.0.0.1:${port} (is vault.service running?)`);
  });

  it('a server certificate from another CA is refused, never read: exit 1', async () => {
    const other = await makeTlsMaterial(join(dir, 'other-ca'));
    const report = await read({ caPem: async () => other.caPem });
    expectValid(report);
    expect(report).toMatchObject({ state: 'unreachable', exitCode: 1 });
    expect(report.vault.error).toMatch(/is not signed by the profile's CA/);
    expect(report.vault.certificate).toBeNull();
  });

  it("the certificate must name the address: localhost is in the SANs, the machine's other names are not", async () => {
    const report = await read({ address: `https://localhost:${vault.port}` });
    expect(report.exitCode).toBe(0);
  });

  it('no CA or no address: state error, exit 1, nothing sent', async () => {
    const noCa = await read({ caPem: () => Promise.reject(new Error('no ca.crt in custody')) });
    expectValid(noCa);
    expect(noCa).toMatchObject({ state: 'error', exitCode: 1 });
    expect(noCa.vault.error).toBe("no CA certificate to verify Vault's TLS with: no ca.crt in custody");
    const noAddress = await read({ address: undefined });
    expectValid(noAddress);
    expect(noAddress).toMatchObject({ state: 'error', exitCode: 1 });
    expect(noAddress.vault.address).toBeNull();
  });

  it('a host that cannot be opened is a reading (host.reachable false), not a failure of the status', async () => {
    const report = await read({ host: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) });
    expectValid(report);
    expect(report.exitCode).toBe(0);
    expect(report.host).toEqual({ transport: null, reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:1', services: { vault: null, vaultUnseal: null } });
  });
});

describe('exit codes and the pure parts', () => {
  it("a node's role: sys/health's standby first, sys/leader's view when health did not answer", () => {
    const self = 'https://10.0.0.5:8200';
    const ha = (isSelf: boolean, leaderAddress: string | null) => ({ enabled: true, isSelf, leaderAddress });
    expect(nodeRole(false, ha(true, self), self)).toBe('active');
    // Health says standby while sys/leader already says is_self (seen on the real OpenBao): not active yet.
    expect(nodeRole(true, ha(true, self), self)).toBe('waiting-for-leader');
    expect(nodeRole(true, ha(false, null), self)).toBe('waiting-for-leader');
    // Raft may still hold this node's own advertisement from before the restart.
    expect(nodeRole(true, ha(false, `${self}/`), self)).toBe('waiting-for-leader');
    expect(nodeRole(true, ha(false, 'https://10.0.0.6:8200'), self)).toBe('standby');
    expect(nodeRole(true, null, self)).toBe('waiting-for-leader');
    expect(nodeRole(null, ha(false, null), self)).toBe('waiting-for-leader');
    expect(nodeRole(null, ha(false, 'https://10.0.0.6:8200'), self)).toBe('standby');
    expect(nodeRole(null, ha(true, self), self)).toBe('active');
    expect(nodeRole(null, { enabled: false, isSelf: false, leaderAddress: null }, self)).toBe('active');
    expect(nodeRole(null, null, self)).toBeNull();
  });

  it('the HA line says a node waiting for leadership before what sys/leader says', () => {
    const base = { ...emptyVaultStatus('https://x:8200'), reachable: true, initialized: true, sealed: false };
    expect(describeHa({ ...base, ha: { enabled: true, isSelf: true, leaderAddress: 'https://x:8200' }, role: 'active' })).toBe('enabled, active node');
    expect(describeHa({ ...base, ha: { enabled: true, isSelf: true, leaderAddress: 'https://x:8200' }, role: 'waiting-for-leader' })).toBe('enabled, standby waiting for leadership (no active node yet)');
    expect(describeHa({ ...base, ha: { enabled: true, isSelf: false, leaderAddress: 'https://y:8200' }, role: 'standby' })).toBe('enabled, standby (active: https://y:8200)');
    expect(describeHa({ ...base, ha: { enabled: false, isSelf: false, leaderAddress: null }, role: 'active' })).toBe('disabled');
    expect(describeHa({ ...base, sealed: true })).toBe('unknown while sealed');
    expect(statusWarnings({ ...base, ha: { enabled: true, isSelf: false, leaderAddress: 'https://y:8200' }, role: 'standby' }, null, true)).toEqual([
      'this node is a standby; the active node is https://y:8200',
    ]);
  });

  it('each state maps to its exit code', () => {
    expect(statusExitCode('unsealed')).toBe(0);
    expect(statusExitCode('sealed')).toBe(2);
    expect(statusExitCode('uninitialized')).toBe(3);
    expect(statusExitCode('unreachable')).toBe(1);
    expect(statusExitCode('error')).toBe(1);
  });

  it('reads `UNIT ACTIVE ENABLED` lines; a unit systemd does not know is not-found', () => {
    const states = parseUnitStates('vault.service active enabled\nvault-unseal.service inactive \n');
    expect(states.get('vault.service')).toEqual({ unit: 'vault.service', active: 'active', enabled: 'enabled' });
    expect(states.get('vault-unseal.service')).toEqual({ unit: 'vault-unseal.service', active: 'inactive', enabled: 'not-found' });
  });

  it('quotes every unit name in the one command it runs on the host', () => {
    expect(unitStateCommand(['vault.service'])).toBe(
      `printf '%s %s %s\\n' 'vault.service' "$(systemctl is-active 'vault.service')" "$(systemctl is-enabled 'vault.service' 2>/dev/null)"`,
    );
  });

  it('days left are whole days, negative once expired', () => {
    const now = new Date('2026-11-28T12:00:00Z');
    const peer = { subject: { CN: 'vault' }, issuer: { CN: 'ca' } } as never;
    expect(certificateStatus({ ...(peer as object), valid_to: 'Dec 28 12:00:00 2026 GMT' } as never, now).daysLeft).toBe(30);
    expect(certificateStatus({ ...(peer as object), valid_to: 'Nov 27 11:00:00 2026 GMT' } as never, now).daysLeft).toBe(-2);
  });

  it('warns about an expiring certificate, a disabled auto-unseal unit, a failed one, a stopped vault', () => {
    const vaultStatus = { ...emptyVaultStatus('https://x:8200'), certificate: { notAfter: '', daysLeft: CERT_WARN_DAYS, subject: '', issuer: '' } };
    const host = {
      transport: 'local',
      reachable: true,
      error: null,
      services: {
        vault: { unit: 'vault.service', active: 'inactive', enabled: 'enabled' },
        vaultUnseal: { unit: 'vault-unseal.service', active: 'failed', enabled: 'disabled' },
      },
    };
    expect(statusWarnings(vaultStatus, host, true)).toEqual([
      'the server certificate expires in 30 day(s)',
      'vault.service is inactive on the host',
      'vault-unseal.service is disabled: Vault stays sealed after a restart until `unseal`',
      'the last run of vault-unseal.service failed (journalctl -u vault-unseal.service)',
    ]);
    // Auto-unseal off in the profile: a disabled unit is what the user chose.
    expect(statusWarnings(vaultStatus, host, false)).not.toContain('vault-unseal.service is disabled: Vault stays sealed after a restart until `unseal`');
  });
});

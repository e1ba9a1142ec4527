/**
 * The pure parts of the day-2 commands: the renewal threshold shared by the TLS step and `status`,
 * the certificate fields `status` adds (renewalDue, fingerprint, serial) and how the plain output
 * says a renewal is due (with the hint that fits the TLS mode), and `logs -n` parsing.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { parseLineCount } from '../../source/cli/logs.js';
import type { Output } from '../../source/cli/output.js';
import { printStatus } from '../../source/cli/status.js';
import { certificateStatus, emptyVaultStatus, STATUS_SCHEMA_VERSION, type StatusReport } from '../../source/services/status.js';
import { RENEW_WITHIN_DAYS, renewalDue } from '../../source/steps/host/tls.js';
import { statusSchemaValidator } from './status-schema.js';

const plain = { bold: (t: string) => t, dim: (t: string) => t, red: (t: string) => t, green: (t: string) => t, yellow: (t: string) => t };

function capture(): { output: Output; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (t) => out.push(t), err: (t) => err.push(t), json: (v) => out.push(JSON.stringify(v)), outStyle: plain as never, errStyle: plain as never } };
}

function reportWith(daysLeft: number): StatusReport {
  const now = new Date('2026-11-28T12:00:00Z');
  const notAfter = new Date(now.getTime() + daysLeft * 86_400_000 + 3_600_000);
  const certificate = certificateStatus(
    { valid_to: notAfter.toUTCString(), subject: { CN: 'pi-lab' }, issuer: { CN: 'picluster-vault-tui CA default' }, fingerprint256: `${'AB:'.repeat(31)}CD`, serialNumber: '0a1b2c' } as never,
    now,
  );
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    profile: 'default',
    checkedAt: now.toISOString(),
    state: 'unsealed',
    exitCode: 0,
    server: { kind: 'vault', name: 'Vault' },
    vault: { ...emptyVaultStatus('https://10.0.0.11:8200'), reachable: true, initialized: true, sealed: false, certificate },
    host: null,
    cluster: null,
    warnings: [],
  };
}

describe('renewal threshold', () => {
  it('30 whole days left or fewer is due, 31 is not (the TLS step and status agree)', () => {
    expect(RENEW_WITHIN_DAYS).toBe(30);
    expect(renewalDue(31)).toBe(false);
    expect(renewalDue(30)).toBe(true);
    expect(renewalDue(0)).toBe(true);
    expect(renewalDue(-3)).toBe(true);
    expect(reportWith(31).vault.certificate?.renewalDue).toBe(false);
    expect(reportWith(30).vault.certificate?.renewalDue).toBe(true);
  });

  it('status carries the fingerprint and the serial in upper-case hex, and still validates against the schema', async () => {
    const report = reportWith(10);
    expect(report.vault.certificate).toMatchObject({ daysLeft: 10, renewalDue: true, fingerprint256: `${'AB:'.repeat(31)}CD`, serialNumber: '0A1B2C' });
    const validate = await statusSchemaValidator();
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    // A report of an older version (no renewalDue, fingerprint or serial) is still valid.
    const older = JSON.parse(JSON.stringify(report));
    delete older.vault.certificate.renewalDue;
    delete older.vault.certificate.fingerprint256;
    delete older.vault.certificate.serialNumber;
    expect(validate(older)).toBe(true);
  });

  it('plain status: "renewal due" on the certificate row and the renew-cert hint (generate), the certbot hint (provided)', () => {
    const generated = capture();
    printStatus(generated.output, reportWith(10), { tlsMode: 'generate' });
    expect(generated.out.find((line) => line.startsWith('Certificate'))).toMatch(/^Certificate +\d{4}-\d\d-\d\d \(10 day\(s\) left\), renewal due$/);
    expect(generated.err).toContain('hint: renew it with `picluster-vault-tui renew-cert`');

    const provided = capture();
    printStatus(provided.output, reportWith(10), { tlsMode: 'provided' });
    expect(provided.err.join('\n')).toContain('the certificate is yours (vault.tls.mode provided): renew it where it came from (e.g. `certbot renew`)');

    const fresh = capture();
    printStatus(fresh.output, reportWith(400), { tlsMode: 'generate' });
    expect(fresh.out.find((line) => line.startsWith('Certificate'))).not.toContain('renewal due');
    expect(fresh.err.join('\n')).not.toContain('renew');
  });
});

describe('logs -n', () => {
  it('a whole number from 0 to 100000; 50 when not given; anything else is an InputError', () => {
    expect(parseLineCount(undefined)).toBe(50);
    expect(parseLineCount('0')).toBe(0);
    expect(parseLineCount('200')).toBe(200);
    for (const bad of ['-1', 'x', '1.5', '100001', '']) expect(() => parseLineCount(bad)).toThrow(InputError);
  });
});

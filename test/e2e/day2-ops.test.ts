/**
 * The day-2 operations commands on a lab host of this file's own (support/labs.ts), after
 * `setup --phase host,vault --yes` through the built CLI, checked from outside (Vault's API with the
 * CA from custody, the host over OpenSSH):
 *  - `snapshot`: a file in custody (0600 in a 0700 directory) whose bytes and sha256 are what it
 *    says, and that Vault's restore endpoint accepts (POST sys/storage/raft/snapshot);
 *  - `logs -n N` prints vault.service's journal; `logs -f` shows the lines of a restart as they come
 *    and, on SIGINT, exits 0 and leaves no journalctl on the host;
 *  - `seal` refuses without a terminal (exit 2) unless --yes; sealed → `status` 2 → `unseal` → 0;
 *  - certificate renewal: not due → nothing done; a certificate made to expire soon (validityDays=10
 *    with `renew-cert --force`, the same code path) → `status` says renewal due → `renew-cert`
 *    renews it: same CA, same key, same SANs, new serial and fingerprint served over TLS verified
 *    with the CA, Vault unsealed again and answering;
 *  - no key or token in anything the CLI printed.
 * API: https://developer.hashicorp.com/vault/api-docs/system/storage/raft, .../system/seal
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import type { StatusReport } from '../../source/services/status.js';
import { vaultRequest } from '../lab/vault-sim/testing.js';
import { statusSchemaValidator } from '../unit/status-schema.js';
import { CliSession, describeResult, type CliInfo, type CliResult } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { hasTmux, TuiTerminal } from './support/terminal.js';
import { VaultHttp, type InitAnswer } from './support/vault-api.js';
import { CERT_FILE, KEY_FILE, healthStatus } from './support/vault-host.js';

const RUN_TIMEOUT_MS = 120_000;
const run = promisify(execFile);

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;
let info: CliInfo;
let vault: VaultHttp;
let caPem: string;
let init: InitAnswer & { threshold: number; shares: number };
let validate: ValidateFunction;
const figures: string[] = [];

interface RenewJson {
  outcome: 'renewed' | 'restarted' | 'uploaded' | 'not-due';
  mode: string;
  reason: string;
  before: CertificateJson | null;
  served: CertificateJson;
  sealed: boolean | null;
}

interface CertificateJson {
  serialNumber: string;
  fingerprint256: string;
  notAfter: string;
  daysLeft: number;
}

async function status(args: string[] = []): Promise<StatusReport> {
  const { result, data } = await session.json<StatusReport>(['status', ...args], RUN_TIMEOUT_MS);
  expect(validate(data), `${JSON.stringify(validate.errors, null, 2)}\n${describeResult(['status', ...args, '--json'], result)}`).toBe(true);
  expect(result.code, describeResult(['status', ...args, '--json'], result)).toBe(data.exitCode);
  return data;
}

async function renew(args: string[]): Promise<{ result: CliResult; data: RenewJson }> {
  const begin = Date.now();
  const { result, data } = await session.json<RenewJson>(['renew-cert', ...args], RUN_TIMEOUT_MS);
  expect(result.code, describeResult(['renew-cert', ...args, '--json'], result)).toBe(0);
  figures.push(`renew-cert ${args.join(' ')} (${data.outcome}): ${((Date.now() - begin) / 1000).toFixed(1)} s`);
  return { result, data };
}

/** The host's certificate and key as openssl sees them there, and the SANs. */
async function hostCertificate(): Promise<{ fingerprint: string; serial: string; sans: string; keySha256: string }> {
  const fingerprint = (await lab.host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -fingerprint -sha256`)).trim().replace(/^sha256 Fingerprint=/i, '');
  const serial = (await lab.host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -serial`)).trim().replace(/^serial=/, '');
  const sans = (await lab.host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -ext subjectAltName`)).trim();
  const keySha256 = (await lab.host.sha256([KEY_FILE])).get(KEY_FILE) ?? '';
  return { fingerprint, serial, sans, keySha256 };
}

/** Our `journalctl -u vault.service` processes on the host. */
async function journalctls(): Promise<string[]> {
  const out = await lab.host.run(sh`ps -eo pid=,user=,args= | grep -F -- 'journalctl -u vault.service' | grep -v grep || true`);
  return out.split('\n').filter((line) => line.trim().length > 0);
}

async function until(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  validate = await statusSchemaValidator();
  lab = await labs.get('day2-ops');
  session = await CliSession.create('day2-ops');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  const begin = Date.now();
  await session.ok(['setup', '--phase', 'host,vault', '--yes'], 300_000);
  figures.push(`lab up ${(lab.upMs / 1000).toFixed(1)} s, then setup --phase host,vault --yes: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
  info = await session.info();
  caPem = await readFile(path.join(info.custodyDir, 'ca.crt'), 'utf8');
  vault = new VaultHttp(`https://127.0.0.1:${lab.state.vaultApiPort}`, caPem);
  init = JSON.parse(await readFile(path.join(info.custodyDir, 'init.json'), 'utf8'));
}, 420_000);

afterAll(async () => {
  await session?.dispose();
  await labs.downAll();
  console.log(`day 2 ops e2e figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

describe('snapshot', () => {
  it('writes custody/snapshots/vault-<UTC>.snap (0600, dir 0700) that Vault restore accepts; --json says its size and sha256', { timeout: 120_000 }, async () => {
    const { result, data } = await session.json<{ file: string; bytes: number; sha256: string; address: string; takenAt: string }>(['snapshot'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['snapshot', '--json'], result)).toBe(0);
    expect(path.dirname(data.file)).toBe(path.join(info.custodyDir, 'snapshots'));
    expect(path.basename(data.file)).toMatch(/^vault-\d{8}T\d{6}Z(-\d+)?\.snap$/);
    const content = await readFile(data.file);
    expect(data.bytes).toBe(content.length);
    expect(data.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect((await stat(data.file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(data.file))).mode & 0o777).toBe(0o700);
    expect(result.stderr).toContain(`snapshot written: ${data.file}`);

    const restored = await vaultRequest(vault.baseUrl, caPem, { method: 'POST', path: 'sys/storage/raft/snapshot', token: init.root_token, raw: content });
    expect(restored.status, restored.raw.toString('utf8')).toBe(204);
    expect(await vault.health()).toBe(200);

    const plain = await session.run(['snapshot']);
    expect(plain.code, describeResult(['snapshot'], plain)).toBe(0);
    expect(plain.stdout.trim()).toMatch(new RegExp(`^${path.join(info.custodyDir, 'snapshots').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/vault-\\d{8}T\\d{6}Z(-\\d+)?\\.snap$`));
  });
});

describe('logs', () => {
  it('logs -n 5 prints the last lines of the journal of vault.service in short-iso form', { timeout: 60_000 }, async () => {
    const result = await session.run(['logs', '-n', '5']);
    expect(result.code, describeResult(['logs', '-n', '5'], result)).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line.length > 0);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(5);
    for (const line of lines) expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d{4} ${lab.state.host.hostname} `));
  });

  it('logs -n x is bad input: exit 2', async () => {
    const result = await session.run(['logs', '-n', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('-n must be a whole number');
  });

  it('logs -f shows a restart of vault.service as it happens; SIGINT ends it with exit 0 and no journalctl left on the host', { timeout: 120_000 }, async () => {
    const running = session.start(['logs', '-f', '-n', '0']);
    await running.waitForStderrLine(/^following vault\.service and vault-unseal\.service on ssh /, 30_000);
    await until('journalctl running on the host', 20_000, async () => (await journalctls()).length > 0);
    const offset = running.stdout.length;
    await lab.host.sudo(sh`systemctl restart vault.service`);
    // systemd's own lines about the unit, then the server's start-up banner, then the unseal unit.
    await until('the restart in the followed journal', 30_000, () => /Started vault\.service|Started .*HashiCorp Vault/.test(running.stdout.slice(offset)));
    await until('the unseal unit in the followed journal', 60_000, () => /vault-unseal/.test(running.stdout.slice(offset)));
    process.kill(running.pid, 'SIGINT');
    const result = await running.exited;
    expect(result.code, describeResult(['logs', '-f', '-n', '0'], result)).toBe(0);
    await until('no journalctl left on the host', 10_000, async () => (await journalctls()).length === 0);
    await vault.waitForHealth(200, 60_000);
  });
});

describe('seal', () => {
  it('refuses without a terminal unless --yes (exit 2, Vault untouched); --yes seals (status 2), a second --yes says already sealed, unseal brings it back', { timeout: 120_000 }, async () => {
    await vault.waitForHealth(200, 60_000);
    const refused = await session.run(['seal']);
    expect(refused.code, describeResult(['seal'], refused)).toBe(2);
    expect(refused.stderr).toContain('seal asks for confirmation and there is no terminal to ask it on');
    expect(refused.stderr).toContain('seal --yes');
    expect((await vault.sealStatus()).sealed).toBe(false);

    const sealed = await session.run(['seal', '--yes']);
    expect(sealed.code, describeResult(['seal', '--yes'], sealed)).toBe(0);
    expect(sealed.stderr).toMatch(/Vault at https:\/\/127\.0\.0\.1:\d+ is sealed/);
    expect((await vault.sealStatus()).sealed).toBe(true);
    expect((await status(['--no-host'])).exitCode).toBe(2);

    const again = await session.run(['seal', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('is already sealed');

    const unsealed = await session.run(['unseal'], RUN_TIMEOUT_MS);
    expect(unsealed.code, describeResult(['unseal'], unsealed)).toBe(0);
    expect((await status(['--no-host'])).exitCode).toBe(0);
  });
});

describe('seal in a terminal', () => {
  it.skipIf(!hasTmux)('asks first: "n" leaves Vault unsealed (exit 1), "y" seals it (exit 0); unseal brings it back', { timeout: 120_000 }, async () => {
    await vault.waitForHealth(200, 60_000);
    const question = /Seal Vault at https:\/\/127\.0\.0\.1:\d+\? \[y\/N\]/;
    const declined = TuiTerminal.start(session, ['seal']);
    try {
      const screen = await declined.waitForScreen((text) => question.test(text), 'the seal question');
      // Compared without white space: the terminal wraps the long line at its width.
      const squeeze = (text: string): string => text.replace(/\s+/g, '');
      expect(squeeze(screen)).toContain(squeeze(`Every client (External Secrets, apps, the Vault CLI) loses access until it is unsealed again with ${init.threshold} of the ${init.shares} unseal keys.`));
      await declined.answer('n');
      const after = await declined.waitForScreen((text) => /exited with status \d+/.test(text), 'the end of seal');
      expect(after).toContain('not sealed');
      expect(after).toContain('exited with status 1');
      expect((await vault.sealStatus()).sealed).toBe(false);
    } finally {
      declined.dispose();
    }
    const accepted = TuiTerminal.start(session, ['seal']);
    try {
      await accepted.waitForScreen((text) => question.test(text), 'the seal question');
      await accepted.answer('y');
      const after = await accepted.waitForScreen((text) => /exited with status \d+/.test(text), 'the end of seal');
      expect(after).toMatch(/Vault at https:\/\/127\.0\.0\.1:\d+ is sealed/);
      expect(after).toContain('exited with status 0');
      expect((await vault.sealStatus()).sealed).toBe(true);
    } finally {
      accepted.dispose();
    }
    const unsealed = await session.run(['unseal'], RUN_TIMEOUT_MS);
    expect(unsealed.code, describeResult(['unseal'], unsealed)).toBe(0);
  });
});

describe('certificate renewal', () => {
  it('not due: renew-cert does nothing; status says no renewal is due', { timeout: 120_000 }, async () => {
    const report = await status();
    expect(report.vault.certificate).toMatchObject({ renewalDue: false });
    expect(report.vault.certificate!.daysLeft).toBeGreaterThanOrEqual(823);
    const before = await hostCertificate();
    const { data } = await renew([]);
    expect(data).toMatchObject({ outcome: 'not-due', mode: 'generate', sealed: false });
    expect(data.served.fingerprint256).toBe(report.vault.certificate!.fingerprint256);
    expect((await hostCertificate()).fingerprint).toBe(before.fingerprint);
  });

  it('a certificate made to expire soon is renewed: same CA, key and SANs, new serial served over verified TLS, Vault unsealed and answering', { timeout: 300_000 }, async () => {
    const original = await hostCertificate();
    const custodyCa = await readFile(path.join(info.custodyDir, 'ca.crt'), 'utf8');

    // A short-lived certificate through the product's own code path: validity 10 days, forced.
    await session.ok(['profile', 'set', 'vault.tls.validityDays=10']);
    const short = (await renew(['--force'])).data;
    expect(short).toMatchObject({ outcome: 'renewed', mode: 'generate', sealed: false });
    expect(short.served.daysLeft).toBeGreaterThanOrEqual(9);
    expect(short.served.daysLeft).toBeLessThanOrEqual(10);
    const shortOnHost = await hostCertificate();
    expect(shortOnHost.fingerprint).toBe(short.served.fingerprint256);

    const due = await status();
    expect(due.exitCode).toBe(0);
    expect(due.vault.certificate).toMatchObject({ renewalDue: true, fingerprint256: short.served.fingerprint256 });
    const plain = await session.run(['status', '--no-host']);
    expect(plain.stdout).toMatch(/^Certificate +\d{4}-\d\d-\d\d \(\d+ day\(s\) left\), renewal due$/m);
    expect(plain.stderr).toContain('hint: renew it with `picluster-vault-tui renew-cert`');

    // Back to the normal validity: the short certificate is now due, so a plain renew-cert renews it.
    await session.ok(['profile', 'set', 'vault.tls.validityDays=825']);
    const renewed = (await renew([])).data;
    expect(renewed).toMatchObject({ outcome: 'renewed', mode: 'generate', sealed: false });
    expect(renewed.reason).toMatch(/expires in \d+ days/);
    expect(renewed.before?.fingerprint256).toBe(short.served.fingerprint256);
    expect(renewed.served.serialNumber).not.toBe(short.served.serialNumber);
    expect(renewed.served.fingerprint256).not.toBe(short.served.fingerprint256);
    expect(renewed.served.daysLeft).toBeGreaterThanOrEqual(824);

    const after = await hostCertificate();
    expect(after.fingerprint).toBe(renewed.served.fingerprint256);
    // Same CA (custody untouched), same server key on the host, same names.
    expect(await readFile(path.join(info.custodyDir, 'ca.crt'), 'utf8')).toBe(custodyCa);
    expect(after.keySha256).toBe(original.keySha256);
    expect(after.sans).toBe(original.sans);

    // From outside: TLS verified with the custody CA alone, and Vault unsealed and answering.
    expect(await healthStatus(lab.state.vaultApiPort, custodyCa)).toBe(200);
    const final = await status();
    expect(final).toMatchObject({ state: 'unsealed', exitCode: 0 });
    expect(final.vault.certificate).toMatchObject({ renewalDue: false, fingerprint256: renewed.served.fingerprint256 });
    const read = await vault.request({ path: 'sys/mounts', token: init.root_token });
    expect(read.status).toBe(200);
  });

  it('after the renewal the host phase checks clean (TLS and service steps done)', { timeout: 120_000 }, async () => {
    const { result, data } = await session.json<{ steps: { id: string; state: string; detail?: string }[] }>(['plan', '--phase', 'host'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['plan', '--phase', 'host', '--json'], result)).toBe(0);
    const states = Object.fromEntries(data.steps.map((step) => [step.id, `${step.state}: ${step.detail ?? ''}`]));
    expect(states['host.tls']).toMatch(/^done: /);
    expect(states['host.service']).toMatch(/^done: /);
  });
});

describe('certificate renewal right after other restarts', () => {
  it("renew-cert --force after vault.service used up its start limit (3 a minute): the counter is reset once and the new certificate is served", { timeout: 180_000 }, async () => {
    // Three starts within the unit's StartLimitIntervalSec (60 s) use up StartLimitBurst (3); Vault
    // is unsealed again by vault-unseal.service after the last one. Both counters start from zero
    // here (vault-unseal.service has systemd's default limit, 5 starts in 10 s, and the tests above
    // restarted Vault moments ago).
    await lab.host.sudo(sh`systemctl reset-failed vault.service vault-unseal.service; for i in 1 2 3; do systemctl restart vault.service; done`);
    expect((await vault.waitForHealth(200, 50_000)).status).toBe(200);

    const begin = Date.now();
    const { result, data } = await session.json<RenewJson>(['renew-cert', '--force'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['renew-cert', '--force', '--json'], result)).toBe(0);
    figures.push(`renew-cert --force past the start limit: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    expect(result.stderr).toMatch(/vault\.service hit its start limit \(.*\): resetting it \(systemctl reset-failed\) and restarting once more/);
    expect(data).toMatchObject({ outcome: 'renewed', sealed: false });
    expect((await hostCertificate()).fingerprint).toBe(data.served.fingerprint256);
    expect((await status(['--no-host'])).exitCode).toBe(0);
  });
});

/** A CA and a server certificate for 127.0.0.1/localhost made with openssl, as a user's own PKI would make them. */
async function userCertificates(dir: string, caDays: number, leafDays: number, reuseCa = false): Promise<{ cert: string; key: string; ca: string }> {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => path.join(path.dirname(dir), name);
  if (!reuseCa) {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('user-ca.key'), '-out', file('user-ca.crt'), '-days', String(caDays), '-subj', '/CN=User Home CA']);
  }
  const leaf = (name: string): string => path.join(dir, name);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', leaf('privkey.pem'), '-out', leaf('req.csr'), '-subj', '/CN=vault.home']);
  await writeFile(leaf('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:vault.home\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', leaf('req.csr'), '-CA', file('user-ca.crt'), '-CAkey', file('user-ca.key'), '-CAcreateserial', '-out', leaf('cert.pem'), '-days', String(leafDays), '-extfile', leaf('ext.cnf')]);
  return { cert: leaf('cert.pem'), key: leaf('privkey.pem'), ca: file('user-ca.crt') };
}

describe('certificate renewal, provided mode', () => {
  it('a provided certificate due soon is the user\'s to renew (exit 1, certbot hint); renewed files are uploaded, served and Vault unsealed again', { timeout: 300_000 }, async () => {
    const base = path.join(session.home, 'user-pki');
    const soon = await userCertificates(path.join(base, 'soon'), 365, 20);
    await session.ok(['profile', 'set', 'vault.tls.mode=provided', `vault.tls.certFile=${soon.cert}`, `vault.tls.keyFile=${soon.key}`, `vault.tls.caFile=${soon.ca}`]);

    const refused = await session.run(['renew-cert']);
    expect(refused.code, describeResult(['renew-cert'], refused)).toBe(1);
    expect(refused.stderr).toMatch(/error: .*cert\.pem expires in 19 days/);
    expect(refused.stderr).toContain('hint: the certificate is yours (vault.tls.mode provided): renew it where it came from (e.g. `certbot renew`)');
    const forced = await session.run(['renew-cert', '--force']);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain('--force re-issues certificates this tool generates');

    // The user renewed it (same CA, 90 days): renew-cert uploads it and restarts Vault.
    const renewedFiles = await userCertificates(path.join(base, 'renewed'), 365, 90, true);
    await session.ok(['profile', 'set', `vault.tls.certFile=${renewedFiles.cert}`, `vault.tls.keyFile=${renewedFiles.key}`]);
    const { data } = await renew([]);
    expect(data).toMatchObject({ outcome: 'uploaded', mode: 'provided', sealed: false });
    expect(data.served.daysLeft).toBeGreaterThanOrEqual(89);
    const fingerprint = (await run('openssl', ['x509', '-in', renewedFiles.cert, '-noout', '-fingerprint', '-sha256'])).stdout.trim().replace(/^sha256 Fingerprint=/i, '');
    expect(data.served.fingerprint256).toBe(fingerprint);
    expect((await hostCertificate()).fingerprint).toBe(fingerprint);
    expect(await healthStatus(lab.state.vaultApiPort, await readFile(renewedFiles.ca, 'utf8'))).toBe(200);
    const report = await status();
    expect(report).toMatchObject({ state: 'unsealed', exitCode: 0 });
    expect(report.vault.certificate).toMatchObject({ renewalDue: false, fingerprint256: fingerprint });

    // Nothing left to do now.
    expect((await renew([])).data).toMatchObject({ outcome: 'not-due', mode: 'provided' });
  });
});

describe('secret hygiene', () => {
  it('no key or token in anything the CLI printed', () => {
    const secrets = [...init.keys, ...init.keys_base64, init.root_token];
    expect(session.transcript.length).toBeGreaterThan(10);
    for (const { args, result } of session.transcript) {
      for (const secret of secrets) expect(result.stdout.includes(secret) || result.stderr.includes(secret), `a secret in the output of ${args.join(' ')}`).toBe(false);
    }
  });
});

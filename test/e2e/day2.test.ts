/**
 * Day 2 on a lab host of this file's own (support/labs.ts): Phase 1 and the vault phase through the
 * built CLI (`profile import`, `setup --phase host,vault --yes`), then what a user does after a power
 * cut, checked from outside (Vault's API with the CA from custody, the host over OpenSSH):
 *  - `status` with the host: exit 0, the units' states, HA, the certificate's days left, JSON valid;
 *  - the power-cut drill: stop vault, disable vault-unseal, start vault → `status` exit 2 →
 *    `unseal` (keys from custody) → `status` exit 0;
 *  - sealed again with custody init.json and the host keys file moved aside: `unseal` with the keys
 *    piped on stdin → exit 0 (both files restored afterwards);
 *  - `status --no-host` opens no SSH connection to the host (sshd's journal counts the logins; a
 *    `status` with the host, as a control, adds exactly one);
 *  - wall time of `status --no-host` against `node -e 0` and `curl --cacert` of sys/seal-status;
 *  - no key or token in anything the CLI printed.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal-status, .../system/unseal
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import type { StatusReport } from '../../source/services/status.js';
import { statusSchemaValidator } from '../unit/status-schema.js';
import { CLI_BIN, CliSession, describeResult, type CliInfo, type CliResult } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { VaultHttp, type InitAnswer } from './support/vault-api.js';

const run = promisify(execFile);
const KEYS_FILE = '/etc/vault/unseal.json';
const RUN_TIMEOUT_MS = 120_000;

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;
let info: CliInfo;
let vault: VaultHttp;
let caFile: string;
let init: InitAnswer & { threshold: number; shares: number };
let validate: ValidateFunction;
const piped: { args: readonly string[]; result: CliResult }[] = [];
const figures: string[] = [];

function runWithStdin(args: readonly string[], stdin: string): Promise<CliResult> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: session.home, env: session.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr, ms: Date.now() - startedAt };
      piped.push({ args, result });
      resolve(result);
    });
  });
}

async function status(args: string[] = []): Promise<{ result: CliResult; report: StatusReport }> {
  const { result, data } = await session.json<StatusReport>(['status', ...args], RUN_TIMEOUT_MS);
  expect(validate(data), `${JSON.stringify(validate.errors, null, 2)}\n${describeResult(['status', ...args, '--json'], result)}`).toBe(true);
  expect(result.code, describeResult(['status', ...args, '--json'], result)).toBe(data.exitCode);
  return { result, report: data };
}

/** Waits until Vault's API answers again after a (re)start, sealed (sys/health 503). */
async function waitSealed(): Promise<void> {
  const seen = await vault.waitForHealth(503, 30_000);
  expect(seen.status, 'Vault did not come back sealed').toBe(503);
}

/**
 * sshd's successful logins so far, from the journal (as root: pi may not read the system journal),
 * by sshd's syslog identifier whatever its unit is called. The half second lets the journal take
 * this very login's line, so each call counts itself.
 */
async function sshLogins(): Promise<number> {
  const out = await lab.host.sudo(sh`sleep 0.5; journalctl -t sshd -o cat --no-pager | grep -c '^Accepted ' || true`);
  return Number(out.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function wallTimes(label: string, times: number, command: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const begin = performance.now();
    await command();
    samples.push(performance.now() - begin);
  }
  const value = median(samples);
  figures.push(`${label}: median ${value.toFixed(0)} ms of ${times} (${samples.map((ms) => ms.toFixed(0)).join(', ')})`);
  return value;
}

beforeAll(async () => {
  validate = await statusSchemaValidator();
  lab = await labs.get('day2');
  session = await CliSession.create('day2');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  const begin = Date.now();
  await session.ok(['setup', '--phase', 'host,vault', '--yes'], 300_000);
  figures.push(`lab up ${(lab.upMs / 1000).toFixed(1)} s, then setup --phase host,vault --yes: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
  info = await session.info();
  caFile = path.join(info.custodyDir, 'ca.crt');
  vault = new VaultHttp(`https://127.0.0.1:${lab.state.vaultApiPort}`, await readFile(caFile, 'utf8'));
  init = JSON.parse(await readFile(path.join(info.custodyDir, 'init.json'), 'utf8'));
}, 420_000);

afterAll(async () => {
  await session?.dispose();
  await labs.downAll();
  console.log(`day 2 e2e figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

describe('day 2 on a lab host after setup', () => {
  it('status with the host: exit 0, units active/enabled, HA active node, certificate days left, JSON valid', { timeout: 60_000 }, async () => {
    const { report } = await status();
    expect(report).toMatchObject({ state: 'unsealed', exitCode: 0, cluster: null });
    expect(report.vault).toMatchObject({
      address: vault.baseUrl,
      reachable: true,
      initialized: true,
      sealed: false,
      unseal: { progress: 0, threshold: init.threshold, shares: init.shares },
      version: lab.state.vault.latest,
      storageType: 'raft',
      ha: { enabled: true, isSelf: true },
    });
    // The product's certificate: 825 days by default, signed by the CA in custody.
    expect(report.vault.certificate?.daysLeft).toBeGreaterThanOrEqual(823);
    expect(report.host).toMatchObject({
      reachable: true,
      services: {
        vault: { unit: 'vault.service', active: 'active', enabled: 'enabled' },
        // A oneshot without RemainAfterExit: inactive once it has unsealed Vault.
        vaultUnseal: { unit: 'vault-unseal.service', active: 'inactive', enabled: 'enabled' },
      },
    });
    expect(report.host?.transport).toMatch(/^ssh /);
    expect(report.warnings).toEqual([]);

    const plain = await session.run(['status']);
    expect(plain.code, describeResult(['status'], plain)).toBe(0);
    expect(plain.stdout).toMatch(/^Vault +unsealed +https:\/\/127\.0\.0\.1:\d+$/m);
    expect(plain.stdout).toMatch(/^Services +vault\.service active, enabled; vault-unseal\.service inactive, enabled$/m);
  });

  it('power-cut drill: stop vault, disable vault-unseal, start vault → status exit 2 → unseal (custody) → status exit 0', { timeout: 180_000 }, async () => {
    await lab.host.sudo(sh`systemctl stop vault.service && systemctl disable vault-unseal.service && systemctl start vault.service`);
    await waitSealed();

    const sealed = await status();
    expect(sealed.report).toMatchObject({ state: 'sealed', exitCode: 2, vault: { sealed: true, unseal: { progress: 0, threshold: init.threshold } } });
    expect(sealed.report.host?.services.vaultUnseal).toMatchObject({ enabled: 'disabled' });
    expect(sealed.report.warnings).toContain('vault-unseal.service is disabled: Vault stays sealed after a restart until `unseal`');
    const plain = await session.run(['status', '--no-host']);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toMatch(/^Vault +SEALED /m);
    expect(plain.stderr).toContain('hint: unseal it with `picluster-vault-tui unseal`');

    const unsealed = await session.run(['unseal'], RUN_TIMEOUT_MS);
    expect(unsealed.code, describeResult(['unseal'], unsealed)).toBe(0);
    expect(unsealed.stderr).toContain(`Vault unsealed with ${init.threshold} of ${init.shares} keys from ${path.join(info.custodyDir, 'init.json')}`);
    expect(unsealed.stdout).toBe('');

    const after = await status();
    expect(after.report).toMatchObject({ state: 'unsealed', exitCode: 0 });
  });

  it('typed keys on stdin: with custody init.json and the host keys file moved aside, `unseal` reads them from stdin → exit 0', { timeout: 180_000 }, async () => {
    await lab.host.sudo(sh`systemctl restart vault.service`);
    await waitSealed();
    const custodyInit = path.join(info.custodyDir, 'init.json');
    const aside = path.join(await mkdtemp(path.join(session.home, 'aside-')), 'init.json');
    await rename(custodyInit, aside);
    await lab.host.sudo(sh`mv ${KEYS_FILE} ${`${KEYS_FILE}.aside`}`);
    try {
      const keys = init.keys.slice(0, init.threshold);
      const result = await runWithStdin(['unseal'], `${keys.join('\n')}\n`);
      expect(result.code, describeResult(['unseal'], result)).toBe(0);
      expect(result.stderr).toContain('no unseal keys in custody or on the host');
      expect(result.stderr).toContain(`reading unseal keys from stdin, one per line (${init.threshold} needed)`);
      expect(result.stderr).toMatch(new RegExp(`unseal progress 1/${init.threshold}`));
      expect(result.stderr).toMatch(/is unsealed$/m);
      expect((await status(['--no-host'])).report.exitCode).toBe(0);
    } finally {
      await rename(aside, custodyInit);
      await lab.host.sudo(sh`mv ${`${KEYS_FILE}.aside`} ${KEYS_FILE}`);
      await rm(path.dirname(aside), { recursive: true, force: true });
    }
    expect(await lab.host.exists(KEYS_FILE)).toBe(true);
  });

  it('status --no-host opens no SSH connection to the host; status with the host opens exactly one', { timeout: 60_000 }, async () => {
    const before = await sshLogins();
    const noHost = await session.run(['status', '--no-host']);
    expect(noHost.code, describeResult(['status', '--no-host'], noHost)).toBe(0);
    const afterNoHost = await sshLogins();
    // The one login is the count's own.
    expect(afterNoHost - before).toBe(1);
    const withHost = await session.run(['status']);
    expect(withHost.code, describeResult(['status'], withHost)).toBe(0);
    const afterWithHost = await sshLogins();
    expect(afterWithHost - afterNoHost).toBe(2);
  });

  it('wall time: status --no-host against node -e 0 and curl --cacert of sys/seal-status', { timeout: 120_000 }, async () => {
    const url = `${vault.baseUrl}/v1/sys/seal-status`;
    const node = await wallTimes('node -e 0', 7, () => run(process.execPath, ['-e', '0']));
    const curl = await wallTimes('curl --cacert (sys/seal-status)', 7, () => run('curl', ['--silent', '--fail', '--cacert', caFile, url]));
    const cli = await wallTimes('status --no-host', 7, async () => {
      const result = await session.run(['status', '--no-host']);
      expect(result.code).toBe(0);
    });
    figures.push(`ratios: status --no-host / node -e 0 = ${(cli / node).toFixed(2)}, / curl = ${(cli / curl).toFixed(2)}`);
    // A generous bound on a shared machine: the point is the order of magnitude (no SSH, no Ink).
    expect(cli).toBeLessThan(node * 6 + 500);
  });

  it('no key or token in anything the CLI printed', () => {
    const secrets = [...init.keys, ...init.keys_base64, init.root_token];
    const runs = [...session.transcript, ...piped];
    expect(runs.length).toBeGreaterThan(8);
    for (const { args, result } of runs) {
      for (const secret of secrets) expect(result.stdout.includes(secret) || result.stderr.includes(secret), `a secret in the output of ${args.join(' ')}`).toBe(false);
    }
  });
});

// `status` and `unseal` through the built command line (dist/, `npm run build`) against the lab's
// Vault simulator started here, with a profile that names its address and our CA (tls.mode provided)
// and a host nothing answers on: exit codes 3/2/0/1 with the JSON validated against
// source/cli/status.schema.json; unseal from stdin (wrong keys, no keys, right keys, with the host out
// of reach) and from custody; `status --no-host` loads no SSH, Ink/React, node-vault, Kubernetes or
// conf code (a module hook records every module the process resolves); no key is ever printed.
// API: https://developer.hashicorp.com/vault/api-docs/system/seal-status, .../system/unseal
// Hooks: https://nodejs.org/api/module.html#customization-hooks
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCustody } from '../../source/profile/custody.js';
import type { StatusReport } from '../../source/services/status.js';
import { CLI_BIN, CliSession, describeResult, REPO_ROOT, type CliResult } from '../e2e/support/cli.js';
import { freePort, makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';
import { statusSchemaValidator } from './status-schema.js';

const VERSION = '2.0.4';

let session: CliSession;
let tls: TlsMaterial;
let vault: VaultProcess;
let validate: ValidateFunction;
let init: { keys: string[]; keys_base64: string[]; root_token: string };
const secrets: string[] = [];
const piped: { args: readonly string[]; result: CliResult }[] = [];

/** Runs the CLI with `stdin` piped in (CliSession's runs have no stdin at all). */
function runWithStdin(args: readonly string[], stdin: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: session.home, env: { ...session.env, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
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

async function statusJson(args: string[] = ['--no-host'], profile?: string): Promise<{ result: CliResult; report: StatusReport }> {
  const full = [...(profile ? ['--profile', profile] : []), 'status', ...args];
  const { result, data } = await session.json<StatusReport>(full, 30_000);
  const ok = validate(data);
  expect(ok, `${JSON.stringify(validate.errors, null, 2)}\n${describeResult(full, result)}`).toBe(true);
  expect(result.code, describeResult(full, result)).toBe(data.exitCode);
  return { result, report: data };
}

async function sealStatus(): Promise<{ sealed: boolean; progress: number; t: number }> {
  return (await vaultRequest(vault.url, tls.caPem, { path: 'sys/seal-status' })).json;
}

async function importProfile(name: string, profile: object): Promise<void> {
  const file = path.join(session.home, `${name}.profile.json`);
  await writeFile(file, JSON.stringify(profile));
  await session.ok(['--profile', name, 'profile', 'import', file]);
}

beforeAll(async () => {
  validate = await statusSchemaValidator();
  session = await CliSession.create('status-cli');
  const dir = path.join(session.home, 'lab');
  tls = await makeTlsMaterial(path.join(dir, 'tls'));
  vault = await startVault({ executable: await writeVaultExecutable(path.join(dir, 'bin'), VERSION), dir: path.join(dir, 'node'), tls });
  // Nothing listens on the host's SSH port: every use of the host fails at once.
  const noSsh = await freePort();
  await importProfile('default', { host: { address: '127.0.0.1', port: noSsh }, vault: { apiAddress: vault.url, tls: { mode: 'provided', caFile: tls.caFile } } });
  await importProfile('down', { host: { address: '127.0.0.1', port: noSsh }, vault: { apiAddress: `https://127.0.0.1:${await freePort()}`, tls: { mode: 'provided', caFile: tls.caFile } } });
});

afterAll(async () => {
  await vault?.stop();
  await session?.dispose();
});

describe('status through the CLI: exit codes and JSON', () => {
  it('not initialized: exit 3, and the plain text says so with a hint on stderr', async () => {
    const { report } = await statusJson();
    expect(report).toMatchObject({ state: 'uninitialized', exitCode: 3, host: null, cluster: null });
    const plain = await session.run(['status', '--no-host']);
    expect(plain.code, describeResult(['status', '--no-host'], plain)).toBe(3);
    expect(plain.stdout).toMatch(/^Vault +not initialized +https:\/\/127\.0\.0\.1:\d+$/m);
    expect(plain.stdout).toMatch(/^Host +not checked \(--no-host\)$/m);
    expect(plain.stdout).toMatch(/^Cluster +not checked \(--no-host\)$/m);
    expect(plain.stderr).toContain('hint: initialize it with `picluster-vault-tui setup --phase vault`');
  });

  it('unseal refuses a Vault that is not initialized: exit 1', async () => {
    const result = await runWithStdin(['unseal', '--from', 'typed'], '');
    expect(result.code, describeResult(['unseal'], result)).toBe(1);
    expect(result.stderr).toMatch(/is not initialized: there is nothing to unseal/);
  });

  it('sealed after init: exit 2 with unseal progress 0/3; with the host checked, an unreachable host is reported, the exit code is still 2', async () => {
    const answer = await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 5, secret_threshold: 3 } });
    expect(answer.status).toBe(200);
    init = answer.json;
    secrets.push(...init.keys, ...init.keys_base64, init.root_token);
    const { report } = await statusJson();
    expect(report).toMatchObject({ state: 'sealed', exitCode: 2, vault: { unseal: { progress: 0, threshold: 3, shares: 5 } } });
    const withHost = await statusJson([]);
    expect(withHost.report.exitCode).toBe(2);
    expect(withHost.report.host).toMatchObject({ reachable: false, services: { vault: null, vaultUnseal: null } });
    expect(withHost.report.host?.error).toBeTruthy();
  });

  it('unreachable API: exit 1; a missing profile: exit 1 (2 would read as "sealed"), both as valid JSON', async () => {
    const down = await statusJson(['--no-host'], 'down');
    expect(down.report).toMatchObject({ state: 'unreachable', exitCode: 1 });
    expect(down.report.vault.error).toMatch(/^connection refused by https:\/\/127\.0\.0\.1:\d+/);
    const missing = await statusJson(['--no-host'], 'nosuch');
    expect(missing.report).toMatchObject({ state: 'error', exitCode: 1, profile: 'nosuch' });
    expect(missing.report.vault.error).toMatch(/profile "nosuch" does not exist/);
  });
});

describe('unseal through the CLI', () => {
  it('no keys on stdin (nothing in custody, host out of reach): exit 2, and says the host could not be read', async () => {
    const result = await runWithStdin(['unseal'], '\n');
    expect(result.code, describeResult(['unseal'], result)).toBe(2);
    expect(result.stderr).toContain("could not read the host's keys file");
    expect(result.stderr).toContain('error: no unseal keys on stdin');
    expect((await sealStatus()).sealed).toBe(true);
  });

  it('keys of another Vault: refused, exit 1 with the progress and a hint; Vault stays sealed', async () => {
    // 32 random bytes and a distinct share index each (Vault's shares end with their x coordinate).
    const wrong = [1, 2, 3].map((x) => Buffer.concat([randomBytes(32), Buffer.from([x])]).toString('hex'));
    secrets.push(...wrong);
    const result = await runWithStdin(['unseal', '--from', 'typed'], `${wrong.join('\n')}\n`);
    expect(result.code, describeResult(['unseal', '--from', 'typed'], result)).toBe(1);
    expect(result.stderr).toMatch(/unseal progress 1\/3/);
    expect(result.stderr).toMatch(/Vault refused the keys/);
    expect(result.stderr).toMatch(/error: the 3 key\(s\) read from stdin did not unseal Vault .* \(unseal progress 0\/3\)/);
    expect(result.stderr).toMatch(/^hint: /m);
    expect((await sealStatus()).sealed).toBe(true);
  });

  it('too few keys: exit 1, progress kept at 2/3', async () => {
    const result = await runWithStdin(['unseal', '--from', 'typed'], `${init.keys[0]}\n${init.keys[1]}\n`);
    expect(result.code, describeResult(['unseal', '--from', 'typed'], result)).toBe(1);
    expect(result.stderr).toMatch(/did not unseal Vault .* \(unseal progress 2\/3\)/);
    expect(await sealStatus()).toMatchObject({ sealed: true, progress: 2 });
  });

  it('right keys on stdin, one per line (the host out of reach is only a warning): exit 0, progress k/t on stderr, then status exit 0', async () => {
    // A blank line and surrounding spaces are tolerated; base64 shares work like hex ones.
    const stdin = `\n  ${init.keys_base64[2]}  \n${init.keys[3]}\n${init.keys[4]}\nnot-read\n`;
    const result = await runWithStdin(['unseal'], stdin);
    expect(result.code, describeResult(['unseal'], result)).toBe(0);
    expect(result.stdout).toBe('');
    // Typed keys add to the shares Vault already holds (2/3 here), as `vault operator unseal` does.
    expect(result.stderr).toMatch(/Vault at https:\/\/127\.0\.0\.1:\d+ is sealed \(unseal progress 2\/3, 5 key shares\)/);
    expect(result.stderr).toMatch(/Vault unsealed/);
    expect(result.stderr).toMatch(/is unsealed$/m);
    const { report } = await statusJson();
    expect(report).toMatchObject({ state: 'unsealed', exitCode: 0, vault: { ha: { enabled: true, isSelf: true }, version: VERSION, storageType: 'raft' } });
  });

  it('already unsealed: exit 0 at once', async () => {
    const result = await runWithStdin(['unseal'], '');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/is already unsealed/);
  });

  it('from custody init.json: submits exactly the threshold, exit 0, stdin never read', async () => {
    const sealed = await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/seal', token: init.root_token });
    expect(sealed.status).toBe(204);
    const saved = process.env['XDG_DATA_HOME'];
    process.env['XDG_DATA_HOME'] = session.env['XDG_DATA_HOME'];
    try {
      const record = { version: 1, vaultAddress: vault.url, initializedAt: new Date().toISOString(), shares: 5, threshold: 3, ...init };
      await writeCustody('default', 'init.json', `${JSON.stringify(record, null, 2)}\n`);
    } finally {
      if (saved === undefined) delete process.env['XDG_DATA_HOME'];
      else process.env['XDG_DATA_HOME'] = saved;
    }
    const result = await runWithStdin(['unseal'], 'this line is not a key\n');
    expect(result.code, describeResult(['unseal'], result)).toBe(0);
    expect(result.stderr).toMatch(/unseal progress 1\/3/);
    expect(result.stderr).toMatch(/unseal progress 2\/3/);
    expect(result.stderr).toMatch(/Vault unsealed with 3 of 5 keys from .*custody\/default\/init\.json/);
    expect(result.stderr).not.toMatch(/could not read the host/);
  });

  it('an unknown --from is bad input: exit 2', async () => {
    const result = await runWithStdin(['unseal', '--from', 'argv'], '');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown key source "argv"');
  });
});

describe('status --no-host loads only what it needs', () => {
  /** Text that only the named library's code contains (string literals survive minification). */
  const SIGNATURES: Record<string, string> = {
    ssh2: 'SSH-2.0-',
    ink: 'Raw mode is not supported',
    react: 'react.transitional.element',
    'node-vault': 'request-promise',
    // The profile store's writer: a read-only command reads the profile without it (source/profile/read.ts).
    // (ajv, which conf would bring, is not in the bundle at all: scripts/conf-unused-stubs.mjs.)
    conf: 'Config schema violation',
  };
  /** The Kubernetes client (its in-cluster config reads this variable); not in the bundle until the cluster phase uses it. */
  const KUBERNETES_SIGNATURE = 'KUBERNETES_SERVICE_HOST';

  it('resolves nothing but node built-ins and dist/ chunks, and none of those holds ssh2, Ink, React, node-vault or conf', async () => {
    const dir = path.join(session.home, 'hooks');
    await mkdir(dir, { recursive: true });
    const record = path.join(dir, 'resolved.txt');
    await writeFile(
      path.join(dir, 'hooks.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        'let file;',
        'export function initialize(data) { file = data.file; }',
        'export async function resolve(specifier, context, next) {',
        '  const result = await next(specifier, context);',
        "  appendFileSync(file, result.url + '\\n');",
        '  return result;',
        '}',
      ].join('\n'),
    );
    await writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${path.join(dir, 'hooks.mjs')}`).href)}, { data: { file: ${JSON.stringify(record)} } });\n`,
    );
    const result = await session.run(['status', '--no-host'], 30_000, { NODE_OPTIONS: `--import=${path.join(dir, 'register.mjs')}` });
    expect(result.code, describeResult(['status', '--no-host'], result)).toBe(0);
    const resolved = [...new Set((await readFile(record, 'utf8')).split('\n').filter(Boolean))];
    const distUrl = new URL(`file://${path.join(REPO_ROOT, 'dist')}/`).href;
    const outside = resolved.filter((url) => !url.startsWith('node:') && !url.startsWith(distUrl) && !url.endsWith('/bin/picluster-vault-tui.js'));
    expect(outside).toEqual([]);
    const loaded = resolved.filter((url) => url.startsWith(distUrl)).map((url) => url.slice(distUrl.length));
    expect(loaded).toContain('cli.js');

    const chunks = (await readdir(path.join(REPO_ROOT, 'dist'))).filter((file) => file.endsWith('.js'));
    const texts = new Map(await Promise.all(chunks.map(async (file) => [file, await readFile(path.join(REPO_ROOT, 'dist', file), 'utf8')] as const)));
    for (const [library, signature] of Object.entries(SIGNATURES)) {
      const holders = chunks.filter((file) => texts.get(file)!.includes(signature));
      // The signature must find the library somewhere in the bundle, or its absence proves nothing.
      expect(holders.length, `${library} (${signature}) is in no chunk of dist/`).toBeGreaterThan(0);
      expect(loaded.filter((file) => holders.includes(file)), `${library} was loaded`).toEqual([]);
    }
    // Whether or not the Kubernetes client is in the bundle yet, no chunk status loads may hold it.
    expect(loaded.filter((file) => texts.get(file)!.includes(KUBERNETES_SIGNATURE)), '@kubernetes/client-node was loaded').toEqual([]);
  });
});

describe('secret hygiene', () => {
  it('no key or token appears in anything the CLI printed', () => {
    const runs = [...session.transcript, ...piped];
    expect(runs.length).toBeGreaterThan(10);
    for (const { args, result } of runs) {
      for (const secret of secrets) {
        expect(result.stdout.includes(secret) || result.stderr.includes(secret), `a secret in the output of ${args.join(' ')}`).toBe(false);
      }
    }
  });
});

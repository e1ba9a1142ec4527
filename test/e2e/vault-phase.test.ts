/**
 * Phase 2 (vault) end to end: the built CLI (`setup --phase vault --yes`, `plan --phase vault`, the
 * TUI in tmux for typed keys) on lab hosts that ran Phase 1 through the same CLI, then everything
 * checked from outside as an administrator would: Vault's HTTP API from this machine with TLS verified
 * against the CA in custody and the tokens in custody, the host over OpenSSH (stat, systemctl,
 * journalctl, `ps -eo args` samples), the custody files and the CLI's own log and profile.
 *
 * Each scenario that needs a Vault of its own runs on a fresh lab instance (support/labs.ts), all
 * brought up and through Phase 1 in parallel before the first test:
 *   main       the full run, restart → auto-unseal, second run, policy drift, refusals that need custody
 *   killed     SIGKILL right after Vault answered init (the test-only pause after custody is written)
 *   elsewhere  a Vault initialized over the API by the test, with no keys in custody; typed keys
 *   showkeys   --show-keys prints the keys (the only run that may)
 * Secret hygiene over every run is checked last.
 */
import { existsSync } from 'node:fs';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import { CliSession, describeResult, type CliInfo, type CliResult, type PlanSummary, type SetupSummary, type StepSummary } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { hasTmux, PtyCli, TuiTerminal } from './support/terminal.js';
import { policyRules, VaultHttp, type InitAnswer } from './support/vault-api.js';

const VAULT_SETUP = ['setup', '--phase', 'vault', '--yes'];
const VAULT_PLAN = ['plan', '--phase', 'vault'];
const STEP_IDS = ['vault.init', 'vault.unseal', 'vault.autounseal', 'vault.kv', 'vault.policies', 'vault.tokens', 'vault.selftest'];
const KEYS_FILE = '/etc/vault/unseal.json';
const POLICY_DIR = '/etc/vault/policy';
const UNSEAL_UNIT = 'vault-unseal.service';
/** The acceptance: unsealed again this soon after `systemctl restart vault`, without the CLI. */
const UNSEAL_DEADLINE_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;
/** The test-only hook of the init step: it waits after custody is written until this file exists. */
const PAUSE_AFTER_INIT_ENV = 'PICLUSTER_VAULT_TUI_TEST_PAUSE_AFTER_INIT';

/**
 * The rules the issue asks for, written from the KV v2 ACL documentation
 * (https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2#acl-rules), not read from the product:
 * readonly reads and lists data and metadata; readwrite adds create, update, delete, patch.
 */
const EXPECTED_RULES = {
  readonly: { 'secret/data/*': ['list', 'read'], 'secret/metadata/*': ['list', 'read'] },
  readwrite: {
    'secret/data/*': ['create', 'delete', 'list', 'patch', 'read', 'update'],
    'secret/metadata/*': ['create', 'delete', 'list', 'patch', 'read', 'update'],
  },
};

interface InitRecord extends InitAnswer {
  version: number;
  vaultAddress: string;
  initializedAt: string;
  shares: number;
  threshold: number;
}

interface TokensRecord {
  version: number;
  tokens: Record<string, { token: string; accessor: string; policies: string[]; ttl: string }>;
}

/** One lab instance after Phase 1, with the CLI user that set it up. */
interface Setup {
  lab: FreshLab;
  session: CliSession;
  info: CliInfo;
  vault: VaultHttp;
}

const labs = new FreshLabs();
const sessions: CliSession[] = [];
const timings: string[] = [];
const setups = new Map<string, Promise<Setup>>();
/** Secret values the tests learned other than through custody (an init done by the test, typed keys). */
const knownSecrets = new Set<string>();
/** What terminals showed while keys were typed (TUI screens, the `unseal` command's pty), by where. */
const capturedScreens: [string, string][] = [];
/** The init answer of the 'elsewhere' Vault, which only the test has. */
let elsewhereInit: InitAnswer | undefined;
/** Runs whose output may show the keys (--show-keys): excluded from the stdout/stderr hygiene check. */
const showKeysRuns = new Set<CliResult>();

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const begin = Date.now();
  try {
    return await work();
  } finally {
    timings.push(`${label}: ${((Date.now() - begin) / 1000).toFixed(1)}s`);
  }
}

/** A fresh lab instance, its profile imported by a new CLI user, and Phase 1 run by the CLI. */
function setupFor(name: string): Promise<Setup> {
  let ready = setups.get(name);
  if (!ready) {
    ready = (async () => {
      const lab = await labs.get(name);
      const session = await CliSession.create(`vault-${name}`);
      sessions.push(session);
      await session.ok(['profile', 'import', lab.state.profileFile]);
      await timed(`${name}: lab up ${(lab.upMs / 1000).toFixed(1)}s, then phase 1 (setup --phase host --yes)`, () => session.ok(['setup', '--phase', 'host', '--yes'], RUN_TIMEOUT_MS));
      const info = await session.info();
      const caPem = await readFile(path.join(info.custodyDir, 'ca.crt'), 'utf8');
      const vault = new VaultHttp(`https://127.0.0.1:${lab.state.vaultApiPort}`, caPem);
      return { lab, session, info, vault };
    })();
    ready.catch(() => undefined);
    setups.set(name, ready);
  }
  return ready;
}

async function setupJson(session: CliSession, extra: readonly string[] = []): Promise<{ result: CliResult; summary: SetupSummary }> {
  const { result, data } = await session.json<SetupSummary>([...VAULT_SETUP, ...extra], RUN_TIMEOUT_MS);
  return { result, summary: data };
}

function stepsLine(steps: readonly StepSummary[]): string {
  return steps.map((step) => `${step.id}=${step.state}${step.outcome ? `/${step.outcome}` : ''}${step.error ? ` (${step.error})` : ''}`).join(', ');
}

function step(steps: readonly StepSummary[], id: string): StepSummary {
  const found = steps.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no step ${id} in ${stepsLine(steps)}`);
  return found;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

const initFile = (setup: Setup): string => path.join(setup.info.custodyDir, 'init.json');
const tokensFile = (setup: Setup): string => path.join(setup.info.custodyDir, 'tokens.json');

/** name → content of every file in a custody directory (empty when there is none). */
async function custodySnapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) files[name] = await readFile(path.join(dir, name), 'utf8');
  return files;
}

async function modeOf(file: string): Promise<string> {
  return ((await stat(file)).mode & 0o777).toString(8).padStart(4, '0');
}

/** Every regular file under a local directory, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/** An error of the CLI: a message and a hint on stderr, no stack trace. */
function expectMessageAndHint(result: CliResult, message: RegExp, args: readonly string[]): void {
  const described = describeResult(args, result);
  expect(result.code, described).not.toBe(0);
  expect(result.code, described).not.toBeNull();
  expect(result.stderr, described).toMatch(message);
  expect(result.stderr, described).toMatch(/hint: \S/);
  expect(result.stderr, described).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  // Four lab instances, each through Phase 1, in parallel (each scenario starts from there).
  const begin = Date.now();
  const all = ['main', 'killed', 'elsewhere', 'showkeys'].map((name) => setupFor(name));
  await Promise.allSettled(all);
  timings.push(`four lab instances up and through phase 1, in parallel: ${((Date.now() - begin) / 1000).toFixed(1)}s`);
  await setupFor('main');
}, 300_000);

afterAll(async () => {
  const begin = Date.now();
  await Promise.all(sessions.map((session) => session.dispose()));
  await labs.downAll();
  timings.push(`lab instances down: ${((Date.now() - begin) / 1000).toFixed(1)}s`);
  console.log(`vault phase e2e timings:\n  ${timings.join('\n  ')}`);
}, 120_000);

describe('vault phase on a host after phase 1 (main)', () => {
  it('threshold > shares: `profile set` refuses it, and setup refuses a hand-edited profile with it; Vault stays uninitialized, custody untouched', { timeout: 60_000 }, async () => {
    const { session, info, vault } = await setupFor('main');
    const original = await readFile(info.profileFile, 'utf8');
    const custodyBefore = await custodySnapshot(info.custodyDir);

    const set = ['profile', 'set', 'vault.keyShares=2', 'vault.keyThreshold=3'];
    const refused = await session.run(set);
    expectMessageAndHint(refused, /key threshold \(3\) cannot be larger than key shares \(2\)/, set);
    expect(await readFile(info.profileFile, 'utf8')).toBe(original);

    const edited = JSON.parse(original) as { vault: Record<string, unknown> };
    edited.vault['keyShares'] = 2;
    edited.vault['keyThreshold'] = 3;
    const editedText = `${JSON.stringify(edited, null, 2)}\n`;
    await writeFile(info.profileFile, editedText);
    try {
      const run = await session.run([...VAULT_SETUP, '--json'], RUN_TIMEOUT_MS);
      expectMessageAndHint(run, /key threshold \(3\) cannot be larger than key shares \(2\)/, [...VAULT_SETUP, '--json']);
      expect(await readFile(info.profileFile, 'utf8'), 'the hand-edited file is left as it was').toBe(editedText);
    } finally {
      await writeFile(info.profileFile, original);
    }
    expect(await vault.sealStatus()).toMatchObject({ initialized: false });
    expect(await custodySnapshot(info.custodyDir)).toEqual(custodyBefore);
  });

  it('setup --phase vault --yes --json: initialized and unsealed, keys in custody (0600 in 0700) and on the host (0600 root:root), auto-unseal enabled, KV v2, policies, tokens, self-test', { timeout: 120_000 }, async () => {
    const setup = await setupFor('main');
    const { session, info, vault, lab } = setup;
    const { result, summary } = await timed('main: setup --phase vault --yes (first run)', () => setupJson(session));
    expect(result.code, describeResult([...VAULT_SETUP, '--json'], result)).toBe(0);
    expect(summary.result).toBe('ok');
    expect(summary.steps.map((s) => s.id)).toEqual(STEP_IDS);
    expect(stepsLine(summary.steps)).toBe(STEP_IDS.map((id) => `${id}=done/applied`).join(', '));

    // Seal status from this machine, TLS verified with our CA from custody.
    expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: false, n: 5, t: 3 });

    // Custody: 0700 directory, 0600 init.json holding the profile's shares and threshold.
    const profile = await readJson<{ vault: { keyShares: number; keyThreshold: number } }>(info.profileFile);
    expect([profile.vault.keyShares, profile.vault.keyThreshold]).toEqual([5, 3]);
    expect(await modeOf(info.custodyDir)).toBe('0700');
    expect(await modeOf(initFile(setup))).toBe('0600');
    const record = await readJson<InitRecord>(initFile(setup));
    expect(record).toMatchObject({ version: 1, vaultAddress: vault.baseUrl, shares: 5, threshold: 3 });
    expect(Number.isNaN(Date.parse(record.initializedAt))).toBe(false);
    expect(record.keys).toHaveLength(5);
    expect(record.threshold).toBeLessThanOrEqual(record.shares);
    for (const [index, key] of record.keys.entries()) {
      expect(key).toMatch(/^[0-9a-f]{2,}$/);
      expect(Buffer.from(record.keys_base64[index]!, 'base64').toString('hex'), 'keys_base64 are the same keys').toBe(key);
    }
    expect(record.root_token.length).toBeGreaterThan(8);

    // The host keys file: the one documented shape, 0600 root:root.
    const [keysEntry] = await lab.host.list([KEYS_FILE]);
    expect(keysEntry && `${keysEntry.type} ${keysEntry.owner}:${keysEntry.group} ${keysEntry.mode}`).toBe('f root:root 600');
    expect(JSON.parse(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: record.keys, threshold: 3 });
    expect((await lab.host.unitState(UNSEAL_UNIT)).enabled).toBe('enabled');

    // KV v2 at secret/ (read with the root token from custody).
    const mounts = await vault.request({ path: 'sys/mounts', token: record.root_token });
    expect(mounts.status).toBe(200);
    const secretMount = (mounts.json as { data?: Record<string, { type: string; options?: { version?: string } }> }).data?.['secret/'];
    expect(secretMount).toMatchObject({ type: 'kv', options: { version: '2' } });

    // Policies in Vault with the expected rules, and the same text under /etc/vault/policy.
    for (const name of ['readonly', 'readwrite'] as const) {
      const text = await vault.policy(name, record.root_token);
      expect(text, `policy ${name} in Vault`).toBeDefined();
      expect(policyRules(text!), `rules of ${name}`).toEqual(EXPECTED_RULES[name]);
      const file = `${POLICY_DIR}/${name}.hcl`;
      expect((await lab.host.readFile(file)).trim(), `${file} holds what Vault enforces`).toBe(text!.trim());
      const [entry] = await lab.host.list([file]);
      expect(entry && `${entry.owner}:${entry.group} ${entry.mode}`).toBe('root:vault 640');
    }

    // The self-test table on stderr, every row passing.
    const table = result.stderr.slice(result.stderr.indexOf('Policy self-test'));
    expect(table, result.stderr).toMatch(/^ *token +action +expected +got +result$/m);
    const rows = table.split('\n').filter((line) => /^ +(readonly|readwrite) +\S/.test(line));
    expect(rows.map((row) => row.trim().split(/\s{2,}/).slice(0, 2).join(' ')), table).toEqual([
      'readwrite write secret/picluster-vault-tui/selftest',
      'readwrite read secret/picluster-vault-tui/selftest',
      'readonly read secret/picluster-vault-tui/selftest',
      'readonly write secret/picluster-vault-tui/selftest',
      'readwrite delete secret/picluster-vault-tui/selftest (all versions)',
    ]);
    for (const row of rows) expect(row, table).toMatch(/ pass$/);
    expect(step(summary.steps, 'vault.selftest').detail).toMatch(/^passed /);

    // The tokens in custody (0600) work as their policies say.
    expect(await modeOf(tokensFile(setup))).toBe('0600');
    const tokens = await readJson<TokensRecord>(tokensFile(setup));
    const readonly = tokens.tokens['readonly']!.token;
    const readwrite = tokens.tokens['readwrite']!.token;
    const probe = 'e2e/probe';
    const written = await vault.request({ method: 'POST', path: `secret/data/${probe}`, token: readwrite, body: { data: { color: 'green' } } });
    expect(written.status, written.raw.toString()).toBe(200);
    const read = await vault.request({ path: `secret/data/${probe}`, token: readonly });
    expect(read.status).toBe(200);
    expect((read.json as { data: { data: unknown } }).data.data).toEqual({ color: 'green' });
    const denied = await vault.request({ method: 'POST', path: `secret/data/${probe}`, token: readonly, body: { data: { color: 'red' } } });
    expect(denied.status).toBe(403);
    expect(denied.json).toEqual({ errors: ['1 error occurred:\n\t* permission denied\n\n'] });
    for (const [name, token] of [['readonly', readonly], ['readwrite', readwrite]] as const) {
      const self = await vault.request({ path: 'auth/token/lookup-self', token });
      expect((self.json as { data: { policies: string[] } }).data.policies.sort()).toEqual(['default', name]);
    }
    await vault.request({ method: 'DELETE', path: `secret/metadata/${probe}`, token: readwrite });

    // Without --show-keys the keys are not printed: the custody path is.
    expect(result.stderr).toContain(`They are kept in ${initFile(setup)}`);
    for (const secret of [...record.keys, ...record.keys_base64, record.root_token]) expect(result.stderr.includes(secret) || result.stdout.includes(secret)).toBe(false);
  });

  it('`systemctl restart vault` on the host: unsealed again within 30 s without the CLI; no key in `ps -eo args` samples nor the journal', { timeout: 120_000 }, async () => {
    const setup = await setupFor('main');
    const { lab, vault } = setup;
    const record = await readJson<InitRecord>(initFile(setup));
    const secrets = [...record.keys, ...record.keys_base64, record.root_token];
    expect(await vault.health()).toBe(200);

    const { InvocationID: unitRunBefore } = await lab.host.unitProperties(UNSEAL_UNIT, ['InvocationID']);
    const sampler = lab.host.sampleProcessArgs(0.05);
    await sampler.ready;
    const begin = Date.now();
    await lab.host.sudo(sh`systemctl restart vault.service`);
    const unsealed = await vault.waitForHealth(200, UNSEAL_DEADLINE_MS);
    const unsealedAfterMs = Date.now() - begin;
    // Let the unit finish (it exits after the last key) before the sampler stops.
    const deadline = Date.now() + 10_000;
    while ((await lab.host.unitState(UNSEAL_UNIT)).active === 'activating' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const samples = await sampler.stop();
    timings.push(`main: restart -> unsealed by ${UNSEAL_UNIT} after ${(unsealedAfterMs / 1000).toFixed(1)}s (${samples.length} ps samples)`);

    expect(unsealed.status, 'Vault was not unsealed in time').toBe(200);
    expect(unsealedAfterMs).toBeLessThan(UNSEAL_DEADLINE_MS);
    // Vault comes back sealed after a restart: it was the unit, started again by this restart, that unsealed it.
    const unitRun = await lab.host.unitProperties(UNSEAL_UNIT, ['InvocationID', 'Result', 'ExecMainStatus']);
    expect(unitRun.InvocationID, `${UNSEAL_UNIT} ran again after the restart`).not.toBe(unitRunBefore);
    expect(unitRun).toMatchObject({ Result: 'success', ExecMainStatus: '0' });
    expect(samples.length).toBeGreaterThan(5);
    expect(samples.some((sample) => sample.includes('vault-unseal')), 'the samples caught the unseal script running').toBe(true);
    for (const secret of secrets) expect(samples.some((sample) => sample.includes(secret)), 'an unseal key or the root token in ps -eo args').toBe(false);
    expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: false });

    const units = await lab.host.sudo(sh`journalctl -u ${UNSEAL_UNIT} -u vault.service --no-pager -o cat`, { timeoutMs: 60_000 });
    expect(units).toMatch(/unseal/i);
    const journal = await lab.host.sudo('journalctl --no-pager -o cat', { timeoutMs: 60_000 });
    for (const secret of secrets) {
      expect(units.includes(secret), 'a key in the journal of vault / vault-unseal').toBe(false);
      expect(journal.includes(secret), 'a key in the journal').toBe(false);
    }
  });

  it('a second run: every step already done, nothing re-shown or rewritten; a policy edited by hand is drift in `plan` and restored by setup', { timeout: 120_000 }, async () => {
    const setup = await setupFor('main');
    const { session, vault } = setup;
    const custodyBefore = await custodySnapshot(setup.info.custodyDir);
    const record = await readJson<InitRecord>(initFile(setup));

    const again = await timed('main: setup --phase vault --yes (second run)', () => setupJson(session));
    expect(again.result.code, describeResult(VAULT_SETUP, again.result)).toBe(0);
    expect(stepsLine(again.summary.steps)).toBe(STEP_IDS.map((id) => `${id}=done/already-done`).join(', '));
    expect(again.result.stderr).not.toContain('Vault initialized');
    expect(again.result.stderr).not.toContain('tokens issued');
    expect(again.result.stderr).not.toMatch(/^\[\d+\/\d+\] .* \.\.\.$/m);
    expect(await custodySnapshot(setup.info.custodyDir), 'custody is not rewritten').toEqual(custodyBefore);

    const readonly = (await readJson<TokensRecord>(tokensFile(setup))).tokens['readonly']!.token;
    const handEdited = 'path "secret/data/*" {\n  capabilities = ["create", "read", "update", "list"]\n}\n';
    const put = await vault.request({ method: 'PUT', path: 'sys/policies/acl/readonly', token: record.root_token, body: { policy: handEdited } });
    expect(put.status).toBe(204);
    const loosened = await vault.request({ method: 'POST', path: 'secret/data/e2e/drift', token: readonly, body: { data: { by: 'readonly' } } });
    expect(loosened.status, 'the hand-edited policy lets the readonly token write').toBe(200);

    const { result: planned, data: plan } = await session.json<PlanSummary>(VAULT_PLAN, RUN_TIMEOUT_MS);
    expect(planned.code, describeResult([...VAULT_PLAN, '--json'], planned)).toBe(0);
    const policies = step(plan.steps, 'vault.policies');
    expect(policies.state, stepsLine(plan.steps)).toBe('drift');
    expect(policies.detail).toMatch(/readonly/);
    expect(policies.detail).not.toMatch(/readwrite/);
    expect(step(plan.steps, 'vault.init').state).toBe('done');
    expect(step(plan.steps, 'vault.unseal').state).toBe('done');

    const fixed = await setupJson(session);
    expect(fixed.result.code, describeResult(VAULT_SETUP, fixed.result)).toBe(0);
    expect(step(fixed.summary.steps, 'vault.policies').outcome).toBe('applied');
    expect(step(fixed.summary.steps, 'vault.init').outcome).toBe('already-done');
    expect(policyRules((await vault.policy('readonly', record.root_token))!)).toEqual(EXPECTED_RULES.readonly);
    const deniedAgain = await vault.request({ method: 'POST', path: 'secret/data/e2e/drift', token: readonly, body: { data: { by: 'readonly' } } });
    expect(deniedAgain.status, 'the restored policy denies the readonly token a write again').toBe(403);
    expect(await readFile(initFile(setup), 'utf8')).toBe(custodyBefore['init.json']);
    await vault.request({ method: 'DELETE', path: 'secret/metadata/e2e/drift', token: record.root_token });
  });

  it('custody init.json readable by others (0644): setup refuses with a message and a hint; the file is left as it is', { timeout: 60_000 }, async () => {
    const setup = await setupFor('main');
    const file = initFile(setup);
    const before = await readFile(file, 'utf8');
    await chmod(file, 0o644);
    try {
      const run = await setup.session.run([...VAULT_SETUP, '--json'], RUN_TIMEOUT_MS);
      expectMessageAndHint(run, /init\.json has mode 0644: others can read it/, [...VAULT_SETUP, '--json']);
      expect(run.stderr).toContain(`chmod 600 ${file}`);
      expect(await modeOf(file)).toBe('0644');
      expect(await readFile(file, 'utf8')).toBe(before);
    } finally {
      await chmod(file, 0o600);
    }
    expect(await setup.vault.sealStatus()).toMatchObject({ initialized: true, sealed: false, n: 5, t: 3 });
  });
});

describe('SIGKILL of the CLI right after Vault answered init (killed)', () => {
  it('the keys are in custody; a plain re-run unseals with them and completes; custody keys unchanged', { timeout: 180_000 }, async () => {
    const setup = await setupFor('killed');
    const { session, vault } = setup;
    const release = path.join(session.home, 'release-after-init');
    const running = session.start([...VAULT_SETUP, '--json'], { [PAUSE_AFTER_INIT_ENV]: release });
    try {
      await running.waitForStderrLine(/^ +initializing Vault at /, RUN_TIMEOUT_MS);
      const deadline = Date.now() + 30_000;
      while (!existsSync(initFile(setup)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(existsSync(initFile(setup)), `custody init.json after init; stderr:\n${running.stderr}`).toBe(true);
      // The step now waits for `release`; give it a moment to be surely there, past the custody write.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } catch (error) {
      await running.kill();
      throw error;
    }
    const killed = await running.kill();
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr, 'killed before the keys were announced').not.toContain('saved in');
    expect(killed.stderr).not.toContain('Vault initialized');

    const kept = await readFile(initFile(setup), 'utf8');
    expect(await modeOf(initFile(setup))).toBe('0600');
    const record = JSON.parse(kept) as InitRecord;
    expect(record).toMatchObject({ version: 1, shares: 5, threshold: 3 });
    expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: true, n: 5, t: 3 });

    const rerun = await timed('killed: re-run after SIGKILL', () => setupJson(session));
    expect(rerun.result.code, describeResult(VAULT_SETUP, rerun.result)).toBe(0);
    expect(step(rerun.summary.steps, 'vault.init').outcome).toBe('already-done');
    expect(step(rerun.summary.steps, 'vault.unseal').outcome).toBe('applied');
    expect(rerun.result.stderr).toContain(`Vault unsealed with 3 of 5 keys from ${initFile(setup)}`);
    expect(rerun.summary.steps.every((s) => s.state === 'done'), stepsLine(rerun.summary.steps)).toBe(true);
    expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: false });
    expect(await readFile(initFile(setup), 'utf8'), 'custody keys unchanged').toBe(kept);
  });
});

describe('a Vault initialized elsewhere, no keys in custody (elsewhere)', () => {
  it('setup says so with a hint, never re-initializes, writes nothing to custody', { timeout: 120_000 }, async () => {
    const setup = await setupFor('elsewhere');
    const { session, info, vault } = setup;
    const answer = await vault.init(3, 2);
    elsewhereInit = answer;
    for (const secret of [...answer.keys, ...answer.keys_base64, answer.root_token]) knownSecrets.add(secret);
    const custodyBefore = await custodySnapshot(info.custodyDir);
    expect(Object.keys(custodyBefore)).not.toContain('init.json');

    const run = await session.run([...VAULT_SETUP, '--json'], RUN_TIMEOUT_MS);
    expectMessageAndHint(run, /initialized elsewhere; this profile has no keys for it/, [...VAULT_SETUP, '--json']);
    const summary = JSON.parse(run.stdout) as SetupSummary;
    expect(summary.result).toBe('failed');
    expect(step(summary.steps, 'vault.init')).toMatchObject({ state: 'failed' });
    expect(step(summary.steps, 'vault.init').hint).toMatch(/never initialized again/);
    expect(await vault.sealStatus(), 'not re-initialized: the original shares and threshold').toMatchObject({ initialized: true, sealed: true, n: 3, t: 2 });
    expect(await custodySnapshot(info.custodyDir)).toEqual(custodyBefore);

    const { data: plan } = await session.json<PlanSummary>(VAULT_PLAN, RUN_TIMEOUT_MS);
    expect(step(plan.steps, 'vault.init')).toMatchObject({ state: 'drift' });
    expect(step(plan.steps, 'vault.init').detail).toMatch(/initialized but this profile has no keys for it/);
    expect(await custodySnapshot(info.custodyDir)).toEqual(custodyBefore);
  });
});

describe.skipIf(!hasTmux)('typed unseal keys in the TUI, no keys in custody or on the host (elsewhere)', () => {
  it('u runs the unseal step alone: a wrong key is refused with a clear message and progress back to 0/t; the right keys (hex or base64) unseal; nothing is saved', { timeout: 120_000 }, async () => {
    const setup = await setupFor('elsewhere');
    const { session, info, vault } = setup;
    const answer = elsewhereInit;
    if (!answer) throw new Error('the Vault of the previous test was not initialized');
    const custodyBefore = await custodySnapshot(info.custodyDir);
    // keys[1] with its last byte changed: a well-formed share that does not combine with keys[0].
    const good = answer.keys[1]!;
    const wrong = `${good.slice(0, -2)}${good.endsWith('00') ? '01' : '00'}`;

    const terminal = TuiTerminal.start(session);
    try {
      await terminal.waitForScreen((screen) => screen.includes('[Setup]') && /State +sealed, unseal progress 0\/2/.test(screen), 'the setup screen with Vault sealed');
      terminal.keys('u');
      await terminal.waitForScreen((screen) => screen.includes('Unseal key 1 of 2') && screen.includes('0/2'), 'the unseal dialog asking for key 1 of 2');
      await terminal.answer(answer.keys[0]!);
      await terminal.waitForScreen((screen) => screen.includes('Unseal key 2 of 2') && screen.includes('1/2'), 'key 1 accepted, progress 1/2');
      await terminal.answer(wrong);
      const refused = await terminal.waitForScreen((screen) => screen.includes('Unseal key 1 of 2') && screen.includes('0/2'), 'the dialog asking again from key 1 after the refusal');
      expect(await vault.sealStatus()).toMatchObject({ sealed: true, progress: 0 });
      // The user must see why they are asked again, on the screen they are typing in.
      expect.soft(refused, 'the refusal is explained on screen while the dialog asks again').toMatch(/refused/);

      await terminal.answer(answer.keys[0]!);
      await terminal.waitForScreen((screen) => screen.includes('Unseal key 2 of 2'), 'key 1 accepted again');
      await terminal.answer(answer.keys_base64[1]!);
      await terminal.waitForScreen((screen) => /State +unsealed/.test(screen) && !screen.includes('Unseal key'), 'Vault unsealed and the dialog closed');
      expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: false, n: 3, t: 2 });
      terminal.keys('q');
      await terminal.waitForScreen((screen) => /exited with status 0/.test(screen), 'the TUI to quit');
    } finally {
      terminal.screens.forEach((screen, index) => capturedScreens.push([`TUI screen ${index + 1}`, screen]));
      terminal.dispose();
    }
    const log = await readFile(info.logFile, 'utf8');
    expect(log).toMatch(/Vault refused the keys \(unable to retrieve stored keys: invalid key: [^)]*\): one of the 2 keys typed is wrong or belongs to another Vault\. Progress is back to 0\/2/);
    expect(log).toContain('Vault unsealed (2 keys)');
    expect(await custodySnapshot(info.custodyDir), 'typed keys are never saved').toEqual(custodyBefore);
    knownSecrets.add(wrong);
  });
});

describe('typed unseal keys with the `unseal` command in a terminal (elsewhere)', () => {
  it('`unseal --from typed` under `script`: masked prompts with k/t, a wrong key refused with a clear message, the right keys unseal; no key echoed, nothing saved', { timeout: 120_000 }, async () => {
    const setup = await setupFor('elsewhere');
    const { session, info, vault, lab } = setup;
    const answer = elsewhereInit;
    if (!answer) throw new Error('the Vault of the earlier test was not initialized');
    // Sealed again by a restart (this host has no auto-unseal: its setup stopped at init).
    await lab.host.sudo(sh`systemctl restart vault.service`);
    expect((await vault.waitForHealth(503, 30_000)).status).toBe(503);
    const custodyBefore = await custodySnapshot(info.custodyDir);
    const good = answer.keys[1]!;
    const wrong = `${good.slice(0, -2)}${good.endsWith('ff') ? '01' : 'ff'}`;
    knownSecrets.add(wrong);

    const pty = new PtyCli(session, ['unseal', '--from', 'typed']);
    let shown = '';
    try {
      let at = await pty.waitFor(/Unseal key 1 of 2 for \S+: /);
      pty.typeLine(answer.keys[0]!);
      at = await pty.waitFor(/Unseal key 2 of 2 for \S+: /, at);
      pty.typeLine(wrong);
      at = await pty.waitFor(/Vault refused the keys \(unable to retrieve stored keys: invalid key: [^)]*\): one of the 2 keys typed is wrong or belongs to another Vault\. Progress is back to 0\/2/, at);
      at = await pty.waitFor(/Unseal key 1 of 2 for \S+: /, at);
      expect(await vault.sealStatus()).toMatchObject({ sealed: true, progress: 0 });
      pty.typeLine(answer.keys_base64[0]!);
      at = await pty.waitFor(/Unseal key 2 of 2 for \S+: /, at);
      pty.typeLine(answer.keys[1]!);
      const ended = await Promise.race([pty.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000))]);
      expect(ended?.code, `the terminal showed:\n${pty.output}`).toBe(0);
    } finally {
      shown = (await pty.stop()).output;
      capturedScreens.push(['the terminal of `unseal --from typed`', shown]);
    }
    expect(await vault.sealStatus()).toMatchObject({ initialized: true, sealed: false, n: 3, t: 2 });
    // Each key is typed the moment its prompt shows (as a paste from a password manager would be): the
    // terminal must already have echo off by then, on a loaded Pi too.
    for (const secret of [...answer.keys, ...answer.keys_base64, wrong]) expect(shown.includes(secret), `a typed key was echoed:\n${shown}`).toBe(false);
    expect(await custodySnapshot(info.custodyDir), 'typed keys are never saved').toEqual(custodyBefore);
  });
});

describe('--show-keys (showkeys)', () => {
  it('prints the unseal keys and root token once on stderr (and nothing on stdout, log or profile); custody holds the same', { timeout: 120_000 }, async () => {
    const setup = await setupFor('showkeys');
    const { result } = await setupJson(setup.session, ['--show-keys']);
    showKeysRuns.add(result);
    expect(result.code, describeResult([...VAULT_SETUP, '--show-keys'], result)).toBe(0);
    const record = await readJson<InitRecord>(initFile(setup));
    for (const [index, key] of record.keys_base64.entries()) expect(result.stderr).toContain(`Unseal Key ${index + 1}: ${key}`);
    expect(result.stderr).toContain(`Initial Root Token: ${record.root_token}`);
    expect(result.stderr.split(record.root_token).length - 1, 'the root token is shown once').toBe(1);
    for (const secret of [...record.keys, ...record.keys_base64, record.root_token]) expect(result.stdout.includes(secret)).toBe(false);
  });
});

describe('secret hygiene after every run above', () => {
  it('no unseal key (hex or base64), root token or issued token in any log file, profile or CLI output', { timeout: 60_000 }, async () => {
    const problems: string[] = [];
    let checkedSecrets = 0;
    let checkedTexts = 0;
    for (const name of ['main', 'killed', 'elsewhere', 'showkeys']) {
      const setup = await setupFor(name).catch(() => undefined);
      if (!setup) continue;
      const secrets = new Map<string, string>();
      for (const secret of knownSecrets) secrets.set(secret, 'a value the test learned');
      const record = existsSync(initFile(setup)) ? await readJson<InitRecord>(initFile(setup)) : undefined;
      record?.keys.forEach((key, index) => secrets.set(key, `unseal key ${index + 1} (hex)`));
      record?.keys_base64.forEach((key, index) => secrets.set(key, `unseal key ${index + 1} (base64)`));
      if (record) secrets.set(record.root_token, 'root token');
      const tokens = existsSync(tokensFile(setup)) ? await readJson<TokensRecord>(tokensFile(setup)) : undefined;
      for (const [policy, issued] of Object.entries(tokens?.tokens ?? {})) secrets.set(issued.token, `${policy} token`);
      checkedSecrets += secrets.size;

      const texts: [string, string][] = [];
      const stateAndConfig = [...(await filesUnder(setup.session.env['XDG_STATE_HOME']!)), ...(await filesUnder(setup.session.env['XDG_CONFIG_HOME']!))];
      expect(stateAndConfig, `${name}: the log file is among the files checked`).toContain(setup.info.logFile);
      expect(stateAndConfig).toContain(setup.info.profileFile);
      for (const file of stateAndConfig) texts.push([file, await readFile(file, 'utf8')]);
      for (const { args, result } of setup.session.transcript) {
        texts.push([`stdout of \`${args.join(' ')}\``, result.stdout]);
        if (!showKeysRuns.has(result)) texts.push([`stderr of \`${args.join(' ')}\``, result.stderr]);
      }
      if (name === 'elsewhere') texts.push(...capturedScreens);
      checkedTexts += texts.length;
      for (const [where, text] of texts) {
        for (const [secret, what] of secrets) if (text.includes(secret)) problems.push(`${name}: ${what} in ${where}`);
      }
    }
    timings.push(`hygiene: ${checkedSecrets} secret values against ${checkedTexts} files and outputs`);
    expect(checkedSecrets).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });
});

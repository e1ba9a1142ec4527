/**
 * Auto-unseal end to end on a lab host of this file's own (test/e2e/support/labs.ts, own LAB_DIR):
 * Phase 1 through the built CLI (`profile import`, `setup --phase host --yes`, temp XDG dirs), Vault
 * initialized over its API by the test with our CA from custody and the answer written to custody
 * in the vault phase's shape, then the vault.autounseal step through the runner over SSH. Then
 * `systemctl restart vault` on the host: Vault must be unsealed again within 30 s without the CLI,
 * by vault-unseal.service, with the script's lines in its journal and no key in the journal nor in
 * `ps -eo args` samples taken on the host while it ran. Finally, with vault.autoUnseal off, the step
 * removes everything and a restart leaves Vault sealed.
 */
import { waitForActive } from '../support/wait-active.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { Prompter, RunnerEvent } from '../../source/core/step.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { custodyPath, readCustody, writeCustody } from '../../source/profile/custody.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { createTransport } from '../../source/services/host/factory.js';
import { sh } from '../../source/services/host/shell-quote.js';
import type { Transport } from '../../source/services/host/transport.js';
import {
  autoUnsealStep,
  HOST_KEYS_BACKUP_PREFIX,
  parseHostKeys,
  UNSEAL_SCRIPT_FILE,
  UNSEAL_UNIT,
  UNSEAL_UNIT_FILE,
} from '../../source/steps/vault/autounseal.js';
import { sshArgs } from '../lab/host/ssh.js';
import { labProfile, sshTargetOf } from '../lab/lab.js';
import { vaultRequest, type VaultResponse } from '../lab/vault-sim/testing.js';
import { scriptedPrompter } from '../support/test-steps.js';
import { CliSession } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { INIT_CUSTODY_NAME } from '../../source/steps/vault/session.js';

const KEYS_FILE = '/etc/vault/unseal.json';
const WANTS_LINK = '/etc/systemd/system/vault.service.wants/vault-unseal.service';
/** The acceptance: unsealed again this soon after `systemctl restart vault`, without the CLI. */
const UNSEAL_DEADLINE_MS = 30_000;

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;
let profileName: string;
let profile: Profile;
let transport: Transport;
let caPem: string;
let apiUrl: string;
let init: { keys: string[]; keys_base64: string[]; root_token: string };
let secrets: string[];
const savedXdg = process.env['XDG_DATA_HOME'];

interface StepRun {
  done: PlanDoneEvent;
  events: RunnerEvent[];
  logText: string;
}

async function runStep(mode: 'apply' | 'check', stepProfile: Profile = profile, name = profileName, prompt: Prompter = scriptedPrompter()): Promise<StepRun> {
  const events: RunnerEvent[] = [];
  const done = await runPlan(
    { steps: [autoUnsealStep] },
    { profile: stepProfile, profileName: name, services: { host: async () => transport }, prompt, redactor: new Redactor() },
    { mode, onEvent: (event) => events.push(event) },
  );
  const logText = events.flatMap((event) => (event.type === 'log' ? [event.line.text] : [])).join('\n');
  // Nothing the step emitted (log lines, checks, failures) may carry a key or the root token.
  const everything = JSON.stringify(events);
  for (const secret of secrets) expect(everything.includes(secret), 'a secret reached a runner event').toBe(false);
  return { done, events, logText };
}

function outcome(run: StepRun): string | undefined {
  return run.events.flatMap((e) => (e.type === 'step-done' ? [e.outcome] : e.type === 'step-failed' ? [`failed: ${e.message}`] : [])).at(-1);
}

const api = (options: Parameters<typeof vaultRequest>[2]): Promise<VaultResponse> => vaultRequest(apiUrl, caPem, options);

/** The dated copies of the host keys file in a profile's custody, oldest first, with their content. */
async function hostKeyBackups(name: string): Promise<{ name: string; content: string }[]> {
  const dir = path.dirname(custodyPath(name, INIT_CUSTODY_NAME));
  const names = (await readdir(dir).catch(() => [] as string[])).filter((file) => file.startsWith(HOST_KEYS_BACKUP_PREFIX)).sort();
  return Promise.all(names.map(async (file) => ({ name: file, content: (await readCustody(name, file)).toString('utf8') })));
}

/** An init answer of the right shape whose keys open nothing (custody from before a rekey elsewhere). */
function staleInitAnswer(): string {
  const keys = Array.from({ length: 5 }, () => randomBytes(33));
  return `${JSON.stringify({
    version: 1,
    vaultAddress: apiUrl,
    initializedAt: new Date().toISOString(),
    shares: 5,
    threshold: 3,
    keys: keys.map((key) => key.toString('hex')),
    keys_base64: keys.map((key) => key.toString('base64')),
    root_token: `hvs.${randomBytes(12).toString('hex')}`,
  })}\n`;
}

/** Root token accessors: a proof by root generation must leave no token behind. */
async function rootAccessorCount(): Promise<number> {
  return ((await api({ method: 'LIST', path: 'auth/token/accessors', token: init.root_token })).json.data.keys as string[]).length;
}

/** sys/health status, or 0 while nothing answers (Vault restarting). */
async function health(): Promise<number> {
  return api({ path: 'sys/health' }).then(
    (response) => response.status,
    () => 0,
  );
}

/**
 * `ps -eo args` on the host every ~20 ms until stopped, over its own SSH session as `pi` (who sees
 * every process's arguments, as any user on the Pi would).
 */
function sampleHostProcesses(): { ready: Promise<void>; stop: () => Promise<string[]> } {
  const stopFile = `/tmp/pvt-stop-sampler-${randomBytes(6).toString('hex')}`;
  const loop = sh`echo started; while [ ! -e ${stopFile} ]; do ps -eo args; echo '--- sample'; sleep 0.02; done; rm -f ${stopFile}`;
  const child = spawn('ssh', [...sshArgs(sshTargetOf(lab.state)), '--', loop], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.startsWith('started\n')) markReady();
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    ready,
    stop: async () => {
      await lab.host.run(sh`touch ${stopFile}`);
      await closed;
      return out.split('--- sample\n').slice(0, -1);
    },
  };
}

beforeAll(async () => {
  lab = await labs.get('autounseal');
  session = await CliSession.create('autounseal');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  const begin = Date.now();
  await session.ok(['setup', '--phase', 'host', '--yes'], 240_000);
  console.log(`phase 1 (setup --phase host --yes) on the lab host: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
  profileName = (await session.info()).profile;
  // Custody (the CA, and the init answer written below) is read from the CLI user's data dir.
  process.env['XDG_DATA_HOME'] = session.env['XDG_DATA_HOME'];
  caPem = (await readCustody(profileName, 'ca.crt')).toString('utf8');
  profile = ProfileSchema.parse(labProfile(lab.state));
  apiUrl = `https://127.0.0.1:${lab.state.vaultApiPort}`;
  transport = await createTransport(profile.host, { knownHostsFile: lab.state.host.knownHostsFile });

  // What vault.init and vault.unseal do, done here over the API: init, custody first, then unseal.
  expect(await health()).toBe(501);
  const answer = await api({ method: 'PUT', path: 'sys/init', body: { secret_shares: profile.vault.keyShares, secret_threshold: profile.vault.keyThreshold } });
  expect(answer.status).toBe(200);
  init = answer.json;
  secrets = [...init.keys, ...init.keys_base64, init.root_token];
  const custody = {
    version: 1,
    vaultAddress: apiUrl,
    initializedAt: new Date().toISOString(),
    shares: profile.vault.keyShares,
    threshold: profile.vault.keyThreshold,
    keys: init.keys,
    keys_base64: init.keys_base64,
    root_token: init.root_token,
  };
  await writeCustody(profileName, INIT_CUSTODY_NAME, `${JSON.stringify(custody, null, 2)}\n`);
  for (const key of init.keys.slice(0, profile.vault.keyThreshold)) await api({ method: 'PUT', path: 'sys/unseal', body: { key } });
  // A standby for a moment after the unseal (raft), then active.
  await waitForActive(apiUrl, caPem);
  expect(await health()).toBe(200);
}, 300_000);

afterAll(async () => {
  await transport?.close();
  await labs.downAll();
  await session?.dispose();
  if (savedXdg === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = savedXdg;
}, 120_000);

describe('vault.autounseal on a lab host after phase 1', () => {
  it('installs the keys file, script and unit with the right owners and modes, enabled and wanted by vault.service', { timeout: 120_000 }, async () => {
    const before = await runStep('check');
    expect(before.done.checks['vault.autounseal']?.state).toBe('todo');
    // Without the init answer in custody there is nothing to write the keys file from: said, nothing written.
    const noCustody = await runStep('apply', profile, 'no-init-answer');
    expect(outcome(noCustody)).toMatch(/^failed: there is no init answer in custody \(\S+no-init-answer\/init\.json\): the host keys file is written from it$/);
    expect(await lab.host.exists(KEYS_FILE)).toBe(false);

    const run = await runStep('apply');
    expect(run.done.result, run.logText).toBe('ok');
    expect(outcome(run)).toBe('applied');
    expect(run.logText).toContain('anyone with root on the Pi can unseal Vault');
    expect(run.logText).toContain(`wrote ${KEYS_FILE} (0600 root:root): 5 keys, threshold 3`);
    // The apply ran the unit once, sandboxed, against the already unsealed Vault.
    expect(run.logText).toContain(`\nVault is already unsealed (HTTP 200 from sys/health): nothing to do`);

    const entries = new Map((await lab.host.list([KEYS_FILE, UNSEAL_SCRIPT_FILE, UNSEAL_UNIT_FILE])).map((entry) => [entry.path, `${entry.type} ${entry.owner}:${entry.group} ${entry.mode}`]));
    expect(Object.fromEntries(entries)).toEqual({
      [KEYS_FILE]: 'f root:root 600',
      [UNSEAL_SCRIPT_FILE]: 'f root:root 750',
      [UNSEAL_UNIT_FILE]: 'f root:root 644',
    });
    expect(parseHostKeys(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: init.keys, threshold: 3 });
    expect((await lab.host.unitState(UNSEAL_UNIT)).enabled).toBe('enabled');
    expect(await lab.host.exists(WANTS_LINK)).toBe(true);
    // systemd read the sandbox paths as single words.
    expect((await lab.host.unitProperties(UNSEAL_UNIT, ['InaccessiblePaths'])).InaccessiblePaths).toBe('-/var/lib/vault -/etc/vault/tls/vault.key');
  });

  it('a second run changes nothing', { timeout: 60_000 }, async () => {
    const check = await runStep('check');
    expect(check.done.checks['vault.autounseal']).toEqual({ state: 'done', detail: `${UNSEAL_UNIT} enabled: Vault unseals itself after every start` });
    const again = await runStep('apply');
    expect(outcome(again)).toBe('already-done');
  });

  it('hand-made drift (keys file readable by all and edited, unit edited) is reported and restored', { timeout: 60_000 }, async () => {
    await lab.host.sudo(sh`chmod 0644 ${KEYS_FILE} && printf '{"keys":["00"],"threshold":1}' > ${KEYS_FILE} && echo '# edited by hand' >> ${UNSEAL_UNIT_FILE} && systemctl daemon-reload`);
    const check = await runStep('check');
    expect(check.done.checks['vault.autounseal']).toEqual({
      state: 'drift',
      detail: `${KEYS_FILE} differs from the init answer in custody; ${KEYS_FILE} is 0644 root:root, want 0600 root:root; ${UNSEAL_UNIT_FILE} differs from assets/vault-unseal.service`,
    });
    const backupsBefore = await hostKeyBackups(profileName);
    const accessors = await rootAccessorCount();
    const fixed = await runStep('apply');
    expect(outcome(fixed), fixed.logText).toBe('applied');
    // Other keys were there: custody's are proven to open Vault first, the old content kept.
    expect(fixed.logText).toContain(`the init answer in custody opens Vault (Vault made a root token from them (revoked at once)): replacing ${KEYS_FILE}`);
    const backups = await hostKeyBackups(profileName);
    expect(backups.length).toBe(backupsBefore.length + 1);
    expect(backups.at(-1)?.content).toBe('{"keys":["00"],"threshold":1}');
    expect(await rootAccessorCount()).toBe(accessors);
    expect(fixed.logText).toContain('systemctl daemon-reload');
    expect(fixed.logText).not.toContain(`wrote ${UNSEAL_SCRIPT_FILE}`);
    expect(parseHostKeys(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: init.keys, threshold: 3 });
    expect((await lab.host.list([KEYS_FILE]))[0]?.mode).toBe('600');
    expect(fixed.done.checks['vault.autounseal']?.state).toBe('done');
  });

  it('passphrase-protected custody: check never asks (keys not compared); a missing keys file is rewritten after asking once', { timeout: 60_000 }, async () => {
    const locked = 'locked-custody';
    const passphrase = `pass-${randomBytes(8).toString('hex')}`;
    secrets.push(passphrase);
    const plain = await readCustody(profileName, INIT_CUSTODY_NAME);
    await writeCustody(locked, INIT_CUSTODY_NAME, plain, { passphrase });
    const check = await runStep('check', profile, locked);
    expect(check.done.checks['vault.autounseal']).toEqual({
      state: 'done',
      detail: `${UNSEAL_UNIT} enabled: Vault unseals itself after every start (keys not compared: custody has no readable init answer)`,
    });

    await lab.host.sudo(sh`rm -f ${KEYS_FILE}`);
    const asked: string[] = [];
    const prompt: Prompter = {
      ...scriptedPrompter(),
      secret: async (question) => {
        asked.push(question);
        return passphrase;
      },
    };
    const run = await runStep('apply', profile, locked, prompt);
    expect(outcome(run), run.logText).toBe('applied');
    expect(asked).toEqual([expect.stringMatching(/^Passphrase of \S+locked-custody\/init\.json:$/)]);
    expect(parseHostKeys(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: init.keys, threshold: 3 });
  });

  it('`systemctl restart vault`: unsealed again within 30 s by vault-unseal.service; no key in ps samples or the journal', { timeout: 120_000 }, async () => {
    const since = (await lab.host.run('date +%s')).trim();
    const sampler = sampleHostProcesses();
    await sampler.ready;
    const begin = Date.now();
    await lab.host.sudo(sh`systemctl restart vault.service`);
    let status = await health();
    let sawSealed = status === 503 || status === 0;
    while (status !== 200 && Date.now() - begin < UNSEAL_DEADLINE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await health();
      if (status === 503) sawSealed = true;
    }
    const unsealedAfterMs = Date.now() - begin;
    // Let the unit finish (it exits right after the last key) before the sampler stops.
    const deadline = Date.now() + 10_000;
    while ((await lab.host.unitState(UNSEAL_UNIT)).active === 'activating' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const samples = await sampler.stop();
    console.log(`restart -> unsealed by ${UNSEAL_UNIT} in ${unsealedAfterMs} ms; ${samples.length} ps samples on the host, ${samples.filter((s) => s.includes(UNSEAL_SCRIPT_FILE)).length} with the script running, ${samples.filter((s) => /curl .*sys\/unseal/.test(s)).length} with curl sending a key`);

    expect(status, 'Vault was not unsealed in time').toBe(200);
    expect(unsealedAfterMs).toBeLessThan(UNSEAL_DEADLINE_MS);
    expect(sawSealed, 'Vault came back sealed, so the unit had work to do').toBe(true);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.includes(UNSEAL_SCRIPT_FILE)), 'the samples caught the script running').toBe(true);
    for (const secret of secrets) expect(samples.some((sample) => sample.includes(secret)), 'a key in ps -eo args').toBe(false);

    const properties = await lab.host.unitProperties(UNSEAL_UNIT, ['Result', 'ExecMainStatus', 'ActiveState']);
    expect(properties).toEqual({ Result: 'success', ExecMainStatus: '0', ActiveState: 'inactive' });
    const journal = await lab.host.sudo(sh`journalctl -u ${UNSEAL_UNIT} --since ${`@${since}`} --no-pager -o cat`);
    expect(journal).toMatch(/Vault is sealed \(HTTP 503 from sys\/health\)/);
    expect(journal).toContain(`read ${KEYS_FILE}: 5 key(s), threshold 3`);
    expect(journal).toMatch(/key 1 accepted \(progress 1\/3\)\nkey 2 accepted \(progress 2\/3\)\nVault is unsealed \(3 key\(s\) submitted\)/);
    const wholeJournal = await lab.host.sudo('journalctl --no-pager -o cat', { timeoutMs: 60_000 });
    for (const secret of secrets) expect(wholeJournal.includes(secret), 'a key in the journal').toBe(false);
  });

  it('Vault killed and restarted by systemd (Restart=on-failure): unsealed again by the unit', { timeout: 120_000 }, async () => {
    const before = await lab.host.unitProperties('vault.service', ['NRestarts']);
    await lab.host.sudo(sh`systemctl kill --kill-who=main --signal=SIGKILL vault.service`);
    const begin = Date.now();
    let restarted = false;
    let status = 0;
    while (Date.now() - begin < 60_000) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      restarted ||= (await lab.host.unitProperties('vault.service', ['NRestarts'])).NRestarts !== before.NRestarts;
      status = await health();
      if (restarted && status === 200) break;
    }
    console.log(`SIGKILL -> restarted by systemd and unsealed after ${Date.now() - begin} ms (RestartSec=5 included)`);
    expect(restarted).toBe(true);
    expect(status).toBe(200);
  });

  it('custody from before a rekey elsewhere: the host file, whose keys work, is not replaced with custody\'s; the step says which copy opens Vault', { timeout: 60_000 }, async () => {
    const stale = 'stale-custody';
    await writeCustody(stale, INIT_CUSTODY_NAME, staleInitAnswer());
    const before = await lab.host.readFile(KEYS_FILE);
    const run = await runStep('apply', profile, stale);
    expect(run.done.result).toBe('failed');
    const failure = outcome(run) ?? '';
    expect(failure).toContain(`failed: ${KEYS_FILE} holds other keys than the init answer in custody, and the custody keys are not proven to open Vault: ${KEYS_FILE} is left as it is`);
    expect(failure).toMatch(/custody \(\S+stale-custody\/init\.json\): Vault refused them: .*root generation aborted/);
    expect(failure).toContain(`${KEYS_FILE}: Vault made a root token from them (revoked at once)`);
    const failed = run.events.find((event) => event.type === 'step-failed');
    expect(failed?.type === 'step-failed' && failed.hint).toMatch(/^the host file holds the working keys \(Vault was re-keyed or re-initialized since custody was written\)/);
    expect(await lab.host.readFile(KEYS_FILE)).toBe(before);
    expect((await api({ path: 'sys/health' })).status).toBe(200);
  });

  it('custody lost and auto-unseal turned off: the host file is copied into custody, its keys proven to open Vault, then removed', { timeout: 120_000 }, async () => {
    const lost = 'lost-custody';
    const off = ProfileSchema.parse({ ...labProfile(lab.state), vault: { ...labProfile(lab.state).vault, autoUnseal: false } });
    const run = await runStep('apply', off, lost);
    expect(outcome(run), run.logText).toBe('applied');
    const [backup, ...more] = await hostKeyBackups(lost);
    expect(more).toEqual([]);
    expect(parseHostKeys(backup!.content)).toEqual({ keys: init.keys, threshold: 3 });
    expect(run.logText).toContain(`the keys of ${KEYS_FILE} open Vault (Vault made a root token from them (revoked at once)); their copy in custody (${custodyPath(lost, backup!.name)}) is the one to keep: removing ${KEYS_FILE}`);
    expect(await lab.host.exists(KEYS_FILE)).toBe(false);
    // Back as it was, from the profile's own custody.
    expect(outcome(await runStep('apply'))).toBe('applied');
    expect(parseHostKeys(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: init.keys, threshold: 3 });
  });

  it('custody lost and a host file whose keys open nothing: removal refused, the file left on the host, its copy kept', { timeout: 120_000 }, async () => {
    const lost = 'lost-custody-2';
    const bad = JSON.stringify({ keys: JSON.parse(staleInitAnswer()).keys, threshold: 3 });
    await lab.host.sudo(sh`printf '%s' ${bad} > ${KEYS_FILE}`);
    const off = ProfileSchema.parse({ ...labProfile(lab.state), vault: { ...labProfile(lab.state).vault, autoUnseal: false } });
    const run = await runStep('apply', off, lost);
    expect(run.done.result).toBe('failed');
    const failure = outcome(run) ?? '';
    expect(failure).toContain(`failed: auto-unseal is off, but no copy of the keys is proven to open Vault: ${KEYS_FILE} is left on the host`);
    expect(failure).toMatch(/custody \(\S+lost-custody-2\/init\.json\): no init answer/);
    expect(failure).toMatch(/\(copied to \S+host-unseal\.json-\S+\): Vault refused them: .*root generation aborted/);
    expect(await lab.host.readFile(KEYS_FILE)).toBe(bad);
    expect((await hostKeyBackups(lost)).map((backup) => backup.content)).toEqual([bad]);
    expect(await lab.host.exists(UNSEAL_UNIT_FILE)).toBe(true); // nothing was removed: the refusal comes first
    // The profile's own custody opens Vault: the bad file is replaced (and kept).
    const restored = await runStep('apply');
    expect(outcome(restored), restored.logText).toBe('applied');
    expect(parseHostKeys(await lab.host.readFile(KEYS_FILE))).toEqual({ keys: init.keys, threshold: 3 });
    expect((await hostKeyBackups(profileName)).at(-1)?.content).toBe(bad);
  });

  it('with vault.autoUnseal off: drift, then everything removed, and a restart leaves Vault sealed', { timeout: 120_000 }, async () => {
    const off = ProfileSchema.parse({ ...labProfile(lab.state), vault: { ...labProfile(lab.state).vault, autoUnseal: false } });
    const check = await runStep('check', off);
    expect(check.done.checks['vault.autounseal']).toEqual({
      state: 'drift',
      detail: `auto-unseal is off but the host still has: ${KEYS_FILE}, ${UNSEAL_SCRIPT_FILE}, ${UNSEAL_UNIT_FILE}`,
    });
    const run = await runStep('apply', off);
    expect(outcome(run), run.logText).toBe('applied');
    expect(run.logText).toContain(`the init answer in custody opens Vault (Vault made a root token from them (revoked at once)): removing ${KEYS_FILE}`);
    expect(parseHostKeys((await hostKeyBackups(profileName)).at(-1)!.content)).toEqual({ keys: init.keys, threshold: 3 });
    expect(run.done.checks['vault.autounseal']).toEqual({ state: 'done', detail: 'auto-unseal is off and nothing of it is on the host' });
    for (const file of [KEYS_FILE, UNSEAL_SCRIPT_FILE, UNSEAL_UNIT_FILE, WANTS_LINK]) expect(await lab.host.exists(file), file).toBe(false);

    await lab.host.sudo(sh`systemctl restart vault.service`);
    const begin = Date.now();
    let status = await health();
    while (status !== 503 && Date.now() - begin < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await health();
    }
    // Give an (absent) unseal unit time it would have needed, then look again.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await health()).toBe(503);
  });
});

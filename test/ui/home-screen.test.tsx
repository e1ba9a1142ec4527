/**
 * The Home screen with the real engine: the product's status reader (services/status.ts collectStatus
 * over TLS with the CA from custody) against the lab's Vault simulator started here as a child
 * process, the real runner (re-check, fix), the real unseal step, seal (sys/seal with the root token
 * from custody) and snapshot (services/snapshot.ts into custody). This machine stands in for the
 * host (LocalTransport). Every frame must fit 80x24 (at most 23 rows, 80 columns).
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal-status, .../system/seal,
 *      .../system/storage/raft#take-a-snapshot-of-the-raft-cluster
 */
import { waitForActive } from '../support/wait-active.js';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Plan, Step } from '../../source/core/step.js';
import { writeCustody } from '../../source/profile/custody.js';
import { defaultProfile, type Profile } from '../../source/profile/schema.js';
import { LocalTransport } from '../../source/services/host/local.js';
import { vaultSteps } from '../../source/steps/vault/index.js';
import { App } from '../../source/ui/App.js';
import type { AppDependencies } from '../../source/ui/deps.js';
import { createTheme } from '../../source/ui/theme.js';
import { homeStatusReader, vaultStatusReader, vaultUnsealResetter } from '../../source/ui/vault-status.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';
import { KEYS, press, renderSized, tallestFrame, tempXdgHome, testDependencies, testStep, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';


vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const ascii = createTheme({ unicode: false, color: false });
const PROFILE = 'lab';
const ROOT_OWNER = { user: 'root', group: 'root' };

let work: string;
let executable: string;
let tls: TlsMaterial;
let vault: VaultProcess | undefined;
let home: TempHome;
let app: Rendered | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pvt-ui-home-'));
  executable = await writeVaultExecutable(path.join(work, 'bin'), '2.0.4');
  tls = await makeTlsMaterial(path.join(work, 'tls'));
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  home = tempXdgHome();
  vault = await startVault({ executable, dir: await mkdtemp(path.join(work, 'node-')), tls });
});

afterEach(async () => {
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  await vault?.stop();
  vault = undefined;
  home.restore();
});

/** A profile for the simulator (API at 127.0.0.1:<port>, its CA in custody as the TLS step leaves it), this machine as the host. */
async function simulatorProfile(): Promise<Profile> {
  const configDir = path.join(home.dir, 'etc-vault');
  await mkdir(path.join(configDir, 'policy'), { recursive: true });
  await writeCustody(PROFILE, 'ca.crt', tls.caPem);
  const profile = defaultProfile();
  profile.host.transport = 'local';
  profile.vault.nodeIp = '127.0.0.1';
  profile.vault.apiPort = vault!.port;
  profile.vault.configDir = configDir;
  profile.vault.keyShares = 3;
  profile.vault.keyThreshold = 2;
  return profile;
}

/** The saved progress of a finished setup: every step of `plan` done, the last run ok. */
function completed(profile: Profile, plan: Plan): Profile {
  const at = new Date().toISOString();
  return {
    ...profile,
    progress: Object.fromEntries(plan.steps.map((step) => [step.id, { state: 'done' as const, at, durationMs: 10 }])),
    lastRun: { mode: 'apply', startedAt: at, endedAt: at, result: 'ok' },
  };
}

/** Initializes the simulator through its API and keeps the answer in custody as the init step does; unsealed unless told otherwise. */
async function initVault(options: { unseal: boolean }): Promise<{ keys: string[]; rootToken: string }> {
  const init = await vaultRequest(vault!.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 3, secret_threshold: 2 } });
  const keys = init.json.keys as string[];
  const rootToken = init.json.root_token as string;
  const record = {
    version: 1,
    vaultAddress: vault!.url,
    initializedAt: new Date().toISOString(),
    shares: 3,
    threshold: 2,
    keys,
    keys_base64: init.json.keys_base64 as string[],
    root_token: rootToken,
  };
  await writeCustody(PROFILE, 'init.json', `${JSON.stringify(record, null, 2)}\n`);
  if (options.unseal) {
    for (const key of keys.slice(0, 2)) await vaultRequest(vault!.url, tls.caPem, { method: 'PUT', path: 'sys/unseal', body: { key } });
    await waitForActive(vault!.url, tls.caPem);
  }
  return { keys, rootToken };
}

async function sealed(): Promise<boolean> {
  const answer = await vaultRequest(vault!.url, tls.caPem, { path: 'sys/seal-status' });
  return answer.json.sealed as boolean;
}

function unsealStep(profile: Profile): Step {
  const step = vaultSteps(profile, { fileOwner: ROOT_OWNER }).find((candidate) => candidate.id === 'vault.unseal');
  if (!step) throw new Error('the vault phase has no unseal step');
  return step;
}

function dependencies(profile: Profile, plan: Plan): AppDependencies {
  const transport = new LocalTransport();
  return {
    ...testDependencies({ profileName: PROFILE, profile }),
    createPlan: () => plan,
    openServices: () => ({ host: async () => transport, close: async () => undefined }),
    vaultStatus: vaultStatusReader(),
    homeStatus: homeStatusReader(),
    vaultUnsealReset: vaultUnsealResetter(),
  };
}

function expectFramesFit(rendered: Rendered, columns = 80, rows = 24): void {
  expect(tallestFrame(rendered)).toBeLessThanOrEqual(rows - 1);
  for (const frame of rendered.frames) {
    for (const line of stripVTControlCharacters(frame).split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(columns);
  }
}

/** The row of the frame that starts with `prefix` (after the selection marker column). */
function rowWith(frame: string, text: string): string | undefined {
  return frame.split('\n').find((line) => line.includes(text));
}

describe('Home screen (real status reader, runner and Vault simulator)', () => {
  it('opens first when the saved progress says the setup is complete: UNSEALED, the status fields, every key in the footer', { timeout: 30_000 }, async () => {
    await initVault({ unseal: true });
    const base = await simulatorProfile();
    const plan = { steps: [testStep('host.config', 'host', 'Write the Vault configuration', { checkState: 'done' }), unsealStep(base)] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);

    const frame = await waitForFrame(app, (f) => f.includes('[Home]') && f.includes('UNSEALED') && f.includes('Version'), 'the home screen, unsealed');
    expect(frame).toContain(`API ${vault!.url}`);
    expect(frame).toContain('serving secrets');
    expect(frame).toMatch(/Initialised\s+yes/);
    expect(frame).toMatch(/Sealed\s+no/);
    expect(frame).toMatch(/Unseal\s+0\/2 \(3 key shares\)/);
    expect(frame).toMatch(/Version\s+2\.0\.4/);
    expect(frame).toMatch(/Storage\s+raft/);
    expect(frame).toMatch(/HA mode\s+(disabled|enabled, active node)/);
    // The test CA's certificate lives two days: renewal is due, and a warning says so.
    expect(frame).toMatch(/Certificate\s+[12] days? left, renewal due/);
    expect(frame).toMatch(/warning: the server certificate expires in [12] day/);
    // The host (this machine, local): its units as systemctl reports them.
    expect(frame).toMatch(/Host\s+local/);
    expect(frame).toMatch(/^Storage .* vault-unseal +\S+/m);
    expect(frame).toMatch(/^u unseal {2}r check {2}enter fix {2}F all {2}s seal {2}l logs {2}b snapshot {2}\? help {2}q quit$/m);
    expectFramesFit(app);
  });

  it('s asks first, then seals with the root token from custody; u unseals again with the keys from custody', { timeout: 40_000 }, async () => {
    await initVault({ unseal: true });
    const base = await simulatorProfile();
    const plan = { steps: [unsealStep(base)] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);
    await waitForFrame(app, (f) => f.includes('UNSEALED'), 'unsealed');
    await waitForInput(app);

    await press(app, 's');
    const question = await waitForFrame(app, (f) => f.includes('Seal Vault?'), 'the seal question');
    expect(question).toContain('y seal  n/esc/enter keep it unsealed');
    expect(question).toMatch(/^y yes {2}n no/m);
    await press(app, 'n');
    await waitForFrame(app, (f) => !f.includes('Seal Vault?') && f.includes('UNSEALED'), 'the question gone, still unsealed');
    expect(await sealed()).toBe(false);

    await press(app, 's');
    await waitForFrame(app, (f) => f.includes('Seal Vault?'), 'the seal question again');
    await press(app, 'y');
    const after = await waitForFrame(app, (f) => f.includes('Vault is sealed: u unseals it') && /\|\s+SEALED\s+\|/.test(f), 'sealed', 15_000);
    expect(after).toMatch(/Sealed\s+yes/);
    expect(after).toContain('press u to unseal');
    expect(await sealed()).toBe(true);

    await press(app, 'u');
    await waitForFrame(app, (f) => f.includes('UNSEALED') && f.includes('serving secrets'), 'unsealed by the unseal step', 15_000);
    expect(await sealed()).toBe(false);
    expectFramesFit(app);
  });

  it('an OpenBao profile: the real reader names OpenBao and reads its units; s seals OpenBao, saying so; u unseals it', { timeout: 40_000 }, async () => {
    await initVault({ unseal: true });
    // The simulator speaks the API both servers share.
    const base = await simulatorProfile();
    base.vault.server = 'openbao';
    const plan = { steps: [unsealStep(base)] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);

    const frame = await waitForFrame(app, (f) => f.includes('UNSEALED') && f.includes('Version'), 'the home screen, unsealed');
    expect(frame).toContain(`OpenBao API ${vault!.url}`);
    // The units the reader asked this machine about are OpenBao's.
    expect(frame).toMatch(/^Version .* openbao +\S+/m);
    expect(frame).toMatch(/^Storage .* openbao-unseal +\S+/m);
    expect(frame).toMatch(/profile: lab \(OpenBao\)\s*$/m);
    await waitForInput(app);

    await press(app, 's');
    const question = await waitForFrame(app, (f) => f.includes('Seal OpenBao?'), 'the seal question');
    expect(question.replace(/\s+/g, ' ')).toContain(`OpenBao at ${vault!.url} stops serving secrets`);
    await press(app, 'y');
    const after = await waitForFrame(app, (f) => f.includes('OpenBao is sealed: u unseals it') && /\|\s+SEALED\s+\|/.test(f), 'sealed', 15_000);
    expect(after).toMatch(/Sealed\s+yes/);
    expect(await sealed()).toBe(true);

    await press(app, 'u');
    await waitForFrame(app, (f) => f.includes('UNSEALED') && f.includes('serving secrets'), 'unsealed by the unseal step', 15_000);
    expect(await sealed()).toBe(false);
    // Not once did Home call it Vault (the product's own name aside).
    for (const shown of app.frames) expect(stripVTControlCharacters(shown).replaceAll('picluster-vault-tui', '')).not.toMatch(/vault/i);
    expectFramesFit(app);
  });

  it('b takes a raft snapshot into custody (0600) and shows its path and size', { timeout: 30_000 }, async () => {
    await initVault({ unseal: true });
    const base = await simulatorProfile();
    const plan = { steps: [unsealStep(base)] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />, { columns: 160, rows: 30 });
    await waitForFrame(app, (f) => f.includes('UNSEALED'), 'unsealed');
    await waitForInput(app);

    await press(app, 'b');
    const done = await waitForFrame(app, (f) => /snapshot vault-\S+\.snap \(\d/.test(f), 'the snapshot line', 15_000);
    const [, name, size, dir] = /snapshot (vault-\d{8}T\d{6}Z\.snap) \(([^)]+)\) in (\S+)/.exec(done) ?? [];
    expect(dir).toBe(path.join(home.dir, 'xdg_data_home', 'picluster-vault-tui', 'custody', PROFILE, 'snapshots'));
    const file = path.join(dir!, name!);
    const info = await stat(file!);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.size).toBeGreaterThan(0);
    expect(size).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
    // Vault writes raft snapshots as gzip archives.
    expect((await readFile(file!)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expectFramesFit(app, 160, 30);
  });

  it('r re-checks: a drift table of step, state, detail; arrows select; enter fixes the selected step; F the rest; r again: no drift', { timeout: 30_000 }, async () => {
    await initVault({ unseal: true });
    const base = await simulatorProfile();
    const steps = [
        testStep('host.account', 'host', 'Create the vault account', { checkState: 'done' }),
        testStep('host.config', 'host', 'Write the Vault configuration', { checkState: 'drift', checkDetail: 'vault_main.hcl differs from the profile' }),
        testStep('host.service', 'host', 'Install the vault service', { checkState: 'todo', checkDetail: 'vault.service is not enabled' }),
        testStep('vault.policies', 'vault', 'Write the policies', { checkState: 'drift', checkDetail: 'policy readonly differs' }),
    ];
    const plan = { steps };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);
    const first = await waitForFrame(app, (f) => f.includes('UNSEALED'), 'the home screen');
    expect(first).toContain('Press r to re-check every step');
    await waitForInput(app);

    await press(app, 'r');
    const table = await waitForFrame(app, (f) => f.includes('re-checked in'), 'the drift table', 10_000);
    expect(table).toContain('re-checked in');
    expect(table).toMatch(/1 done, 1 todo, 2 drift/);
    expect(table).toMatch(/^\s+Step\s+State\s+Detail/m);
    expect(rowWith(table, 'Write the Vault configuration')).toMatch(/^> Write the Vault configuration\s+drift\s+vault_main\.hcl differs from the profile/);
    expect(rowWith(table, 'Install the vault service')).toMatch(/^ {2}Install the vault service\s+todo\s+vault\.service is not enabled/);
    expect(rowWith(table, 'Write the policies')).toMatch(/drift\s+policy readonly differs/);
    expect(table).not.toContain('Create the vault account');
    expect(table).toContain('3 of 4 steps');

    await press(app, KEYS.down);
    const moved = await waitForFrame(app, (f) => /^> Install the vault service/m.test(f), 'the second row selected');
    expect(rowWith(moved, 'Write the Vault configuration')).toMatch(/^ {2}Write/);
    await press(app, KEYS.enter);
    const fixed = await waitForFrame(app, (f) => f.includes('fixed in') && !f.includes('Install the vault service'), 'the selected step fixed', 10_000);
    expect(steps.map((step) => step.applied)).toEqual([false, false, true, false]);
    expect(fixed).toContain('Write the Vault configuration');
    expect(fixed).toContain('Write the policies');

    await press(app, 'F');
    await waitForFrame(app, (f) => f.includes('fixed in') && f.includes('No drift'), 'every step fixed', 10_000);
    // The step found done was left alone.
    expect(steps.map((step) => step.applied)).toEqual([false, true, true, true]);
    await press(app, 'r');
    const clean = await waitForFrame(app, (f) => f.includes('re-checked in') && f.includes('4 done, 0 todo, 0 drift'), 'a clean re-check', 10_000);
    expect(clean).toContain('No drift: every step checked is done.');
    expectFramesFit(app);
  });

  it('NOT INITIALISED on the first read sends the user to Setup; then SEALED once initialized, UNREACHABLE once Vault stops', { timeout: 40_000 }, async () => {
    const base = await simulatorProfile();
    const plan = { steps: [testStep('host.config', 'host', 'Write the Vault configuration', { checkState: 'done' })] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);
    // The saved progress says complete, so Home opens; the live read says otherwise.
    await waitForFrame(app, (f) => f.includes('[Setup]'), 'the setup screen after the first read');
    expect(app.frames.some((frame) => stripVTControlCharacters(frame).includes('[Home]'))).toBe(true);
    await waitForInput(app);
    await press(app, KEYS.shiftTab);
    const uninitialized = await waitForFrame(app, (f) => f.includes('[Home]') && f.includes('NOT INITIALISED'), 'not initialised on Home');
    expect(uninitialized).toContain('not initialised: run the setup');
    expect(uninitialized).toMatch(/Initialised\s+no/);

    await initVault({ unseal: false });
    await press(app, 'r');
    const sealedFrame = await waitForFrame(app, (f) => /\|\s+SEALED\s+\|/.test(f), 'sealed', 10_000);
    expect(sealedFrame).toContain('sealed, unseal progress 0/2: press u to unseal');
    expect(sealedFrame).toMatch(/HA mode\s+unknown while sealed/);

    await vault!.stop();
    vault = undefined;
    await press(app, 'r');
    const unreachable = await waitForFrame(app, (f) => f.includes('UNREACHABLE'), 'unreachable', 10_000);
    expect(unreachable).toContain('connection refused');
    expectFramesFit(app);
  });

  it('l opens the log pane and says why when the service logs cannot be followed', { timeout: 30_000 }, async () => {
    await initVault({ unseal: true });
    const base = await simulatorProfile();
    const plan = { steps: [unsealStep(base)] };
    app = renderSized(<App deps={dependencies(completed(base, plan), plan)} theme={ascii} />);
    await waitForFrame(app, (f) => f.includes('UNSEALED'), 'unsealed');
    await waitForInput(app);
    await press(app, 'l');
    await waitForFrame(app, (f) => f.includes('Logs: vault, vault-unseal'), 'the log pane');
    // This machine has no vault units: following fails with a message instead of an empty pane.
    const failed = await waitForFrame(app, (f) => /^logs: /m.test(f), 'the reason', 15_000);
    expect(failed).toMatch(/vault/);
    expectFramesFit(app);
  });
});

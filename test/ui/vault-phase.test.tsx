/**
 * The Vault phase in the TUI, with the real steps (source/steps/vault) and the real runner against
 * the lab's Vault simulator (test/lab/vault-sim, started here as a child process with a throwaway
 * CA), this machine as the "host" (LocalTransport, policy files in a temp dir; no auto-unseal unit):
 *  - init shows the keys and root token once on the Reveal screen, which only `y` closes, and no
 *    frame rendered after that contains any of them (nor any frame but a Reveal screen, ever);
 *  - typed unseal keys: masked input with the progress k/t, ctrl+r resets the progress in Vault;
 *  - the self-test table replaces the log pane; the Status pane reads the seal status like `vault status`.
 * API: https://developer.hashicorp.com/vault/api-docs/system/init, .../system/unseal
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readCustody, writeCustody } from '../../source/profile/custody.js';
import type { Step } from '../../source/core/step.js';
import { defaultProfile, type Profile } from '../../source/profile/schema.js';
import { LocalTransport } from '../../source/services/host/local.js';
import { vaultSteps } from '../../source/steps/vault/index.js';
import { App } from '../../source/ui/App.js';
import type { AppDependencies } from '../../source/ui/deps.js';
import { createTheme } from '../../source/ui/theme.js';
import { vaultStatusReader, vaultUnsealResetter } from '../../source/ui/vault-status.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';
import { KEYS, press, renderSized, statusPaneText, tallestFrame, tempXdgHome, testDependencies, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';

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
  work = await mkdtemp(path.join(tmpdir(), 'pvt-ui-vault-'));
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

/** A profile for the simulator: API at 127.0.0.1:<port>, its CA in custody (as the TLS step leaves it), files under a temp config dir. */
async function labProfile(shares: number, threshold: number): Promise<Profile> {
  const configDir = path.join(home.dir, 'etc-vault');
  await mkdir(path.join(configDir, 'policy'), { recursive: true });
  await writeCustody(PROFILE, 'ca.crt', tls.caPem);
  const profile = defaultProfile();
  profile.host.transport = 'local';
  profile.vault.nodeIp = '127.0.0.1';
  profile.vault.apiPort = vault!.port;
  profile.vault.configDir = configDir;
  profile.vault.keyShares = shares;
  profile.vault.keyThreshold = threshold;
  return profile;
}

/**
 * The vault phase's steps without vault.autounseal: that one installs a systemd unit on the host,
 * and this machine (standing in for the host here) has no systemd; the lab e2e tests cover it.
 */
function vaultPlan(profile: Profile): { steps: Step[] } {
  return { steps: vaultSteps(profile, { fileOwner: ROOT_OWNER }).filter((step) => step.id !== 'vault.autounseal') };
}

function dependencies(profile: Profile, plan: AppDependencies['createPlan']): AppDependencies {
  const transport = new LocalTransport();
  return {
    ...testDependencies({ profileName: PROFILE, profile }),
    createPlan: plan,
    openServices: () => ({ host: async () => transport, close: async () => undefined }),
    vaultStatus: vaultStatusReader(),
    vaultUnsealReset: vaultUnsealResetter(),
  };
}

function framesText(rendered: Rendered, from = 0): string[] {
  return rendered.frames.slice(from).map((frame) => stripVTControlCharacters(frame));
}

describe('Vault phase in the TUI (real steps, Vault simulator)', () => {
  it('shows init keys once on the Reveal screen, then never again; unseals, and shows the self-test table (80x24)', { timeout: 60_000 }, async () => {
    const profile = await labProfile(3, 2);
    const deps = dependencies(profile, vaultPlan);
    app = renderSized(<App deps={deps} theme={ascii} />);

    await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, not initialized'), 'the status pane to read Vault');
    await waitForInput(app);
    await press(app, KEYS.enter);

    const reveal = await waitForFrame(app, (f) => f.includes('Vault initialized') && f.includes('Shown once'), 'the Reveal screen', 20_000);
    const record = JSON.parse((await readCustody(PROFILE, 'init.json')).toString('utf8')) as { keys: string[]; keys_base64: string[]; root_token: string };
    // Every key and the root token whole, as `vault operator init` prints them.
    record.keys_base64.forEach((key, index) => expect(reveal).toContain(`Unseal Key ${index + 1}: ${key}`));
    expect(reveal).toContain(`Initial Root Token: ${record.root_token}`);
    // The note says where the keys are kept.
    expect(reveal.replace(/\s+/g, ' ')).toContain('init.json (mode 0600');

    // No default, and esc / enter / Ctrl+C / q do not close it.
    for (const key of [KEYS.enter, KEYS.escape, KEYS.ctrlC, 'q', 'n']) await press(app, key);
    const still = await waitForFrame(app, (f) => f.includes('closes only with y'), 'the explanation');
    expect(still).toContain(`Initial Root Token: ${record.root_token}`);
    expect(app.hasExited()).toBe(false);

    const acknowledgedAt = app.frames.length;
    await press(app, 'y');
    const tokens = await waitForFrame(app, (f) => f.includes('Vault tokens issued'), 'the tokens Reveal screen', 20_000);
    const tokenRecord = JSON.parse((await readCustody(PROFILE, 'tokens.json')).toString('utf8')) as { tokens: Record<string, { token: string }> };
    const issued = Object.values(tokenRecord.tokens).map((entry) => entry.token);
    expect(issued).toHaveLength(2);
    for (const token of issued) expect(tokens).toContain(token);
    const tokensAt = app.frames.length;
    await press(app, 'y');

    const done = await waitForFrame(app, (f) => f.includes('Policy self-test') && statusPaneText(f).includes('setup complete'), 'the self-test table', 20_000);
    const tableRows = done.split('\n').filter((line) => /^(readonly|readwrite)\s/.test(line));
    expect(tableRows.length).toBeGreaterThanOrEqual(4);
    for (const row of tableRows) expect(row).toMatch(/pass\s*$/);
    expect(done).toMatch(/^token\s+action\s+expected\s+got\s+result/m);
    const status = await waitForFrame(app, (f) => statusPaneText(f).includes('State unsealed, initialized'), 'the status pane to read unsealed');
    expect(statusPaneText(status)).toContain('Server 2.0.4, raft, unseal 2 of 3');

    // v goes back to the log, which holds the run's lines with every secret masked.
    await press(app, 'v');
    await waitForFrame(app, (f) => /- Log -/.test(f), 'the log pane');

    const initSecrets = [...record.keys, ...record.keys_base64, record.root_token];
    for (const frame of framesText(app, acknowledgedAt)) for (const secret of initSecrets) expect(frame).not.toContain(secret);
    for (const frame of framesText(app, tokensAt)) for (const secret of issued) expect(frame).not.toContain(secret);
    // A secret is on screen only on a Reveal screen.
    for (const frame of framesText(app)) {
      if ([...initSecrets, ...issued].some((secret) => frame.includes(secret))) expect(frame).toContain('Shown once');
    }
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });

  it('typed unseal keys: masked input with progress k/t, ctrl+r resets the progress in Vault', { timeout: 30_000 }, async () => {
    const profile = await labProfile(3, 2);
    // Initialized by someone else: custody holds no keys, the host no keys file, so they are typed.
    const init = await vaultRequest(vault!.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 3, secret_threshold: 2 } });
    const keys = init.json.keys as string[];
    const deps = dependencies(profile, vaultPlan);
    app = renderSized(<App deps={deps} theme={ascii} />);

    const idle = await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, unseal progress 0/2'), 'the sealed status');
    expect(idle).toContain('u unseal');
    await waitForInput(app);
    // u runs the unseal step alone (init would refuse: this profile has no keys for this Vault).
    await press(app, 'u');
    const first = await waitForFrame(app, (f) => f.includes('Unseal Vault') && f.includes('Keys accepted'), 'the unseal dialog');
    expect(first).toContain('Keys accepted [--] 0/2');
    expect(first).toContain('ctrl+r reset progress');

    await press(app, keys[0]!);
    const typed = await waitForFrame(app, (f) => f.includes('*'.repeat(keys[0]!.length)), 'the masked key');
    expect(typed).not.toContain(keys[0]!);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('Keys accepted [#-] 1/2'), 'progress 1/2');
    const midway = await vaultRequest(vault!.url, tls.caPem, { path: 'sys/seal-status' });
    expect(midway.json.progress).toBe(1);

    await press(app, '\u0012');
    await waitForFrame(app, (f) => f.includes('Keys accepted [--] 0/2') && f.includes('Progress reset'), 'the reset progress');
    const afterReset = await vaultRequest(vault!.url, tls.caPem, { path: 'sys/seal-status' });
    expect(afterReset.json.progress).toBe(0);

    await press(app, keys[2]!, KEYS.enter);
    // A new question (the reset note is gone) once Vault took the key.
    await waitForFrame(app, (f) => f.includes('Keys accepted [#-] 1/2') && !f.includes('Progress reset'), 'the next question at 1/2');
    await press(app, keys[1]!, KEYS.enter);
    const finished = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the unseal step to finish', 10_000);
    expect(finished).toMatch(/^\+ Unseal Vault/m);
    // The other steps did not run and keep their rows.
    expect(finished).toMatch(/^\. Initialize Vault/m);
    expect(finished).toMatch(/^\. Self-test the policies/m);
    await waitForFrame(app, (f) => statusPaneText(f).includes('State unsealed, initialized'), 'the unsealed status');
    for (const frame of framesText(app)) for (const key of keys) expect(frame).not.toContain(key);
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });
});

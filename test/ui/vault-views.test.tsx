/**
 * The Vault views of the TUI on their own, at 80x24: the Status pane fed by a fake VaultApi injected
 * through AppDependencies.vaultStatus (every state `vault status` can report, failures, polling),
 * the Reveal screen when its lines do not fit (every line must be seen before `y` counts), the
 * table a step presents (fitted to the width, `v` switches with the log), and the parsers behind them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import type { SealStatus } from '../../source/services/vault.js';
import { App } from '../../source/ui/App.js';
import { VAULT_STATUS_INTERVAL_MS } from '../../source/ui/hooks/useVaultStatus.js';
import { columnWidths } from '../../source/ui/components/StepViewTable.js';
import { unsealProgressOf } from '../../source/ui/prompter.js';
import { createTheme } from '../../source/ui/theme.js';
import { describeSeal, vaultStatusReader } from '../../source/ui/vault-status.js';
import { defaultProfile } from '../../source/profile/schema.js';
import {
  deferred,
  KEYS,
  press,
  renderSized,
  statusPaneText,
  tallestFrame,
  tempXdgHome,
  testDependencies,
  testStep,
  waitFor,
  waitForFrame,
  waitForInput,
  type Rendered,
  type TempHome,
} from './harness.js';

vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const ascii = createTheme({ unicode: false, color: false });
let home: TempHome;
let app: Rendered | undefined;

beforeEach(() => {
  home = tempXdgHome();
});
afterEach(async () => {
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  home.restore();
});

const NOT_INITIALIZED: SealStatus = { initialized: false, sealed: true, version: '2.0.4', storageType: 'raft', t: 0, n: 0, progress: 0 };

/** A VaultApi whose seal status the test sets; it counts the requests and can fail like an unreachable server. */
class FakeVault {
  status: SealStatus = NOT_INITIALIZED;
  failure: Error | undefined;
  requests = 0;
  addresses: string[] = [];
  async sealStatus(): Promise<SealStatus> {
    this.requests++;
    if (this.failure) throw this.failure;
    return this.status;
  }
  async unsealReset(): Promise<SealStatus> {
    this.status = { ...this.status, progress: 0 };
    return this.status;
  }
}

function profileWithApi() {
  const profile = defaultProfile();
  profile.vault.nodeIp = '10.0.0.5';
  return profile;
}

describe('Status pane: Vault state from an injected VaultApi', () => {
  it('reads the seal status at once and after each step; failures are one line, never a crash', { timeout: 30_000 }, async () => {
    const fake = new FakeVault();
    const gates = [deferred(), deferred()];
    const steps = gates.map((gate, index) => testStep(`vault-${index}`, 'vault', `Vault step ${index}`, { gate: gate.promise }));
    const deps = {
      ...testDependencies({ plan: { steps }, profile: profileWithApi() }),
      vaultStatus: vaultStatusReader({
        connect: async (options) => {
          fake.addresses.push(options.address);
          expect(options.caPem).toBe('-----BEGIN CERTIFICATE-----test');
          return fake;
        },
        readCa: async () => '-----BEGIN CERTIFICATE-----test',
      }),
    };
    app = renderSized(<App deps={deps} theme={ascii} />);
    const first = await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, not initialized'), 'the first reading');
    expect(statusPaneText(first)).toContain('Server 2.0.4, raft');
    expect(fake.addresses[0]).toBe('https://10.0.0.5:8200');

    // A step finishing reads again at once (here: someone initialized Vault and typed one key).
    fake.status = { ...NOT_INITIALIZED, initialized: true, t: 3, n: 5, progress: 1 };
    await waitForInput(app);
    await press(app, KEYS.enter);
    await steps[0]!.applyStarted.promise;
    const before = fake.requests;
    gates[0]!.resolve();
    await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, unseal progress 1/3'), 'the reading after the step');
    expect(fake.requests).toBeGreaterThan(before);
    expect(statusPaneText(app.frame())).toContain('Server 2.0.4, raft, unseal 3 of 5');

    // Unreachable: said in the pane, the app goes on (the run still finishes).
    fake.failure = new UserError('cannot reach Vault at https://10.0.0.5:8200 (ECONNREFUSED)');
    gates[1]!.resolve();
    await waitForFrame(app, (f) => statusPaneText(f).includes('State unreachable: cannot reach Vault (ECONNREFUSED)'), 'the failure');
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the end of the run');
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });

  it('polls every interval while nothing happens on screen (the product polls every 5 s)', { timeout: 30_000 }, async () => {
    expect(VAULT_STATUS_INTERVAL_MS).toBe(5_000);
    const fake = new FakeVault();
    const deps = {
      ...testDependencies({ profile: profileWithApi() }),
      vaultStatus: vaultStatusReader({ connect: async () => fake, readCa: async () => '-----BEGIN CERTIFICATE-----test' }),
    };
    // A short interval: a test that waited out the real 5 s failed on a loaded machine.
    app = renderSized(<App deps={deps} theme={ascii} statusIntervals={{ vaultMs: 200 }} />);
    await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, not initialized'), 'the first reading');

    // No key, no step: only the poll can pick the change up.
    fake.status = { ...NOT_INITIALIZED, initialized: true, sealed: false, t: 3, n: 5 };
    await waitForFrame(app, (f) => statusPaneText(f).includes('State unsealed, initialized'), 'the periodic reading');
    fake.failure = new UserError('cannot reach Vault at https://10.0.0.5:8200 (ECONNREFUSED)');
    await waitForFrame(app, (f) => statusPaneText(f).includes('State unreachable: cannot reach Vault (ECONNREFUSED)'), 'the failure by the poll');
    const polled = fake.requests;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // About seven polls in 1.5 s; bounded both ways so that neither a stopped nor a runaway poll passes.
    expect(fake.requests - polled).toBeGreaterThanOrEqual(2);
    expect(fake.requests - polled).toBeLessThanOrEqual(10);
  });

  it('no CA yet: says so without asking Vault; no API address: no Vault state and no request at all', async () => {
    const fake = new FakeVault();
    const noCa = {
      ...testDependencies({ profile: profileWithApi() }),
      vaultStatus: vaultStatusReader({ connect: async () => fake, readCa: async () => undefined }),
    };
    app = renderSized(<App deps={noCa} theme={ascii} />);
    await waitForFrame(app, (f) => statusPaneText(f).includes('State not checked: no CA certificate yet'), 'the no-CA line');
    expect(fake.requests).toBe(0);
    app.instance.unmount();
    await app.exited;

    const noAddress = { ...testDependencies(), vaultStatus: vaultStatusReader({ connect: async () => fake, readCa: async () => 'PEM' }) };
    app = renderSized(<App deps={noAddress} theme={ascii} />);
    const frame = await waitForFrame(app, (f) => f.includes('Status'), 'the setup screen');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(statusPaneText(frame)).not.toContain('State');
    expect(fake.requests).toBe(0);
  });

  it('describes every seal state as vault status does', () => {
    expect(describeSeal(NOT_INITIALIZED)).toBe('sealed, not initialized');
    expect(describeSeal({ ...NOT_INITIALIZED, initialized: true, t: 3, n: 5, progress: 2 })).toBe('sealed, unseal progress 2/3');
    expect(describeSeal({ ...NOT_INITIALIZED, initialized: true, sealed: false, t: 3, n: 5 })).toBe('unsealed, initialized');
  });
});

describe('Reveal screen', () => {
  it('when the lines do not fit: scrolls, and y counts only once every line was on screen', async () => {
    const lines = Array.from({ length: 10 }, (_, index) => `Unseal Key ${index + 1}: ${`k${index}`.padEnd(6, 'x')}${'0123456789abcdef'.repeat(4)}`);
    let acknowledged = false;
    const step = testStep('vault-init', 'vault', 'Initialize Vault', {
      run: async (ctx) => {
        for (const line of lines) ctx.registerSecret(line.split(': ')[1]!);
        await ctx.prompt.revealOnce({ title: 'Vault initialized: 10 unseal keys and the root token', lines, note: 'They are kept in /tmp/custody/init.json (mode 0600).' });
        acknowledged = true;
        ctx.log.info(`first key was ${lines[0]!.split(': ')[1]!}`);
      },
    });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />, { columns: 60, rows: 16 });
    await waitForInput(app);
    await press(app, KEYS.enter);
    const top = await waitForFrame(app, (f) => f.includes('Shown once'), 'the Reveal screen');
    // 60 columns: each 86-character key line wraps onto a second row, whole.
    expect(top).toContain(lines[0]!.slice(0, 60));
    expect(top).toContain(lines[0]!.slice(60));
    expect(top).toMatch(/Lines 1-\d+ of \d+/);
    expect(top).not.toContain('init.json');

    await press(app, 'y');
    await waitForFrame(app, (f) => f.includes('to the last line first'), 'the refusal');
    expect(acknowledged).toBe(false);

    for (let index = 0; index < 20; index++) await press(app, 'j');
    const bottom = await waitForFrame(app, (f) => f.includes('init.json'), 'the end of the lines');
    expect(bottom).toContain(lines[9]!.slice(60));
    const acknowledgedAt = app.frames.length;
    await press(app, 'y');
    await waitFor(() => acknowledged, 'the acknowledgement');
    const after = await waitForFrame(app, (f) => f.includes('first key was ********'), 'the redacted log line');
    expect(after).toContain('setup complete');
    for (const frame of app.frames.slice(acknowledgedAt)) for (const line of lines) expect(frame).not.toContain(line.split(': ')[1]!);
    expect(tallestFrame(app)).toBeLessThanOrEqual(15);
  });
});

describe('Step view table', () => {
  it('replaces the log when a step presents it, fits 80 columns and the height, v switches with the log', async () => {
    const gate = deferred();
    const rows = Array.from({ length: 14 }, (_, index) => [
      index % 2 ? 'readwrite' : 'readonly',
      `write secret/data/picluster-vault-tui/selftest-${index}`,
      'denied (403)',
      index === 3 ? 'allowed' : 'denied (403)',
      index === 3 ? 'FAIL' : 'pass',
    ]);
    const step = testStep('vault-selftest', 'vault', 'Self-test the policies', {
      lines: ['probing with the readonly token'],
      run: async (ctx) => ctx.present({ kind: 'table', title: 'Policy self-test', columns: ['token', 'action', 'expected', 'got', 'result'], rows }),
      gate: gate.promise,
    });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    const table = await waitForFrame(app, (f) => f.includes('Policy self-test'), 'the table');
    const lines = table.split('\n');
    const header = lines.findIndex((line) => /^token\s+action\s+expected\s+got\s+result/.test(line));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(/^readonly\s+write secret\/data\/\S*\s+denied \(403\)\s+denied \(403\)\s+pass$/);
    expect(table).toMatch(/^readwrite .*allowed\s+FAIL$/m);
    expect(table).toMatch(/\.\.\. \d+ more rows/);
    expect(table).toContain('v shows the log');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);

    await press(app, 'v');
    const log = await waitForFrame(app, (f) => f.includes('probing with the readonly token'), 'the log again');
    expect(log).toContain('v shows Policy self-test');
    await press(app, 'v');
    await waitForFrame(app, (f) => f.includes('Policy self-test') && !f.includes('probing with'), 'the table again');
    gate.resolve();
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the end of the run');
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });

  it('narrows the widest column first so the columns fit the width', () => {
    const view = { kind: 'table' as const, title: 't', columns: ['a', 'b'], rows: [['short', 'x'.repeat(100)]] };
    expect(columnWidths(view, 80)).toEqual([5, 73]);
    expect(columnWidths(view, 200)).toEqual([5, 100]);
  });
});

describe('unsealProgressOf', () => {
  it('reads the progress from the unseal step question; other secrets have none', () => {
    expect(unsealProgressOf('Unseal key 1 of 3 for https://10.0.0.5:8200:')).toEqual({ submitted: 0, threshold: 3 });
    expect(unsealProgressOf('Unseal key 3 of 3 for https://[fd00::1]:8200:')).toEqual({ submitted: 2, threshold: 3 });
    expect(unsealProgressOf('Unseal key (progress 1/2):')).toEqual({ submitted: 1, threshold: 2 });
    expect(unsealProgressOf('sudo password on the host:')).toBeUndefined();
    expect(unsealProgressOf('Passphrase of /x/init.json (1/2):')).toBeUndefined();
  });
});

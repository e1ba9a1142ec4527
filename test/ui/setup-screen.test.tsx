/**
 * The Setup screen driven through the real runner (core/runner.ts) over plans of test steps whose
 * apply waits on a promise the test controls. Keys go in through Ink's stdin, frames are read back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { App } from '../../source/ui/App.js';
import { createTheme } from '../../source/ui/theme.js';
import {
  deferred,
  KEYS,
  press,
  renderSized,
  statusPaneText,
  tempXdgHome,
  testDependencies,
  testStep,
  waitFor,
  waitForFrame,
  waitForInput,
  type Rendered,
  type TempHome,
} from './harness.js';

// A spinner redraws every 80 ms; frames are compared here, so it is a fixed glyph.
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

/** The line of the frame that mentions `text`. */
function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((line) => line.includes(text)) ?? '';
}

describe('Setup screen', () => {
  it('shows steps moving pending -> running -> done, with their log lines', async () => {
    const gate = deferred();
    const first = testStep('host-preflight', 'host', 'Check the host', { lines: ['uname: Linux raspberrypi 6.6 aarch64'], gate: gate.promise });
    const second = testStep('vault-init', 'vault', 'Initialize Vault', { lines: ['vault initialized'] });
    const deps = testDependencies({ plan: { steps: [first, second] } });
    app = renderSized(<App deps={deps} theme={ascii} />);

    const idle = await waitForFrame(app, (f) => f.includes('Check the host'), 'the step list');
    expect(lineWith(idle, 'Check the host')).toMatch(/^\. Check the host/);
    expect(lineWith(idle, 'Initialize Vault')).toMatch(/^\. Initialize Vault/);
    expect(idle).toContain('Host');
    expect(idle).toContain('Vault');

    await waitForInput(app);
    await press(app, KEYS.enter);
    const running = await waitForFrame(app, (f) => f.includes('uname: Linux raspberrypi'), 'the first step to log');
    expect(lineWith(running, 'Check the host')).toMatch(/^@ Check the host/);
    expect(lineWith(running, 'Initialize Vault')).toMatch(/^\. Initialize Vault/);
    expect(statusPaneText(running)).toContain('Now applying Check the host');
    expect(lineWith(running, 'uname: Linux')).toContain('host-preflight');

    gate.resolve();
    const done = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete') && f.includes('vault initialized'), 'the run to end');
    expect(lineWith(done, 'Check the host')).toMatch(/^\+ Check the host\s+\d+(ms|\.\ds)/);
    expect(lineWith(done, 'Initialize Vault')).toMatch(/^\+ Initialize Vault\s+\d+(ms|\.\ds)/);
    expect(first.applied && second.applied).toBe(true);
    // The runner recorded progress in the profile file through the store's sink.
    expect(deps.store.load('test').progress['vault-init']?.state).toBe('done');
  });

  it('shows a failing step with its message and the hint to fix it', async () => {
    const failing = testStep('vault-listener', 'vault', 'Start the Vault service', {
      fail: new UserError('port 8200 is already in use on the host', { hint: 'Stop the other service (ss -ltnp) and run again.' }),
    });
    const after = testStep('vault-init', 'vault', 'Initialize Vault');
    const deps = testDependencies({ plan: { steps: [failing, after] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, 's');

    const frame = await waitForFrame(app, (f) => f.includes('Hint:'), 'the hint');
    expect(lineWith(frame, 'Start the Vault service')).toMatch(/^x Start the Vault service/);
    const status = statusPaneText(frame);
    expect(status).toContain('Last failed at Start the Vault service');
    expect(status).toContain('port 8200 is already in use on the host');
    expect(status).toContain('Hint: Stop the other service (ss -ltnp) and run again.');
    // The run stopped at the failure: the next step never ran.
    expect(lineWith(frame, 'Initialize Vault')).toMatch(/^\. Initialize Vault/);
    expect(after.applied).toBe(false);
  });

  it('runs checks only with c and shows done / todo / drift per step', async () => {
    const done = testStep('host-account', 'host', 'Create the vault user', { checkState: 'done', checkDetail: 'user vault exists' });
    const drift = testStep('host-config', 'host', 'Write vault_main.hcl', { checkState: 'drift', checkDetail: 'listener address differs' });
    const todo = testStep('vault-init', 'vault', 'Initialize Vault', { checkState: 'todo' });
    const deps = testDependencies({ plan: { steps: [done, drift, todo] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, 'c');

    const frame = await waitForFrame(app, (f) => statusPaneText(f).includes('1 drift'), 'the check summary');
    expect(statusPaneText(frame)).toMatch(/Last checked in \d+ms: 1 done, 1 todo, 1 drift/);
    expect(lineWith(frame, 'Create the vault user')).toMatch(/^\+ /);
    expect(lineWith(frame, 'Write vault_main.hcl')).toMatch(/^~ /);
    expect(lineWith(frame, 'Initialize Vault')).toMatch(/^o /);
    expect(statusPaneText(frame)).toContain('~ Write vault_main.hcl: listener address differs');
    // Checks change nothing.
    expect(drift.applied || todo.applied).toBe(false);
    expect(drift.applySignal).toBeUndefined();
  });

  it('Ctrl+C cancels the running step (its apply sees the abort), a second Ctrl+C quits', async () => {
    const never = deferred();
    const step = testStep('host-binary', 'host', 'Install the Vault binary', { lines: ['downloading vault_2.0.4_linux_arm64.zip'], gate: never.promise });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await step.applyStarted.promise;

    await press(app, KEYS.ctrlC);
    await waitFor(() => step.applySignal?.aborted, 'the step to see the abort');
    const cancelled = await waitForFrame(app, (f) => statusPaneText(f).includes('cancelled at Install the Vault binary'), 'the cancellation');
    expect(cancelled).toContain('Ctrl+C again quits.');
    expect(lineWith(cancelled, 'Install the Vault binary')).toMatch(/^# Install the Vault binary/);
    expect(app.hasExited()).toBe(false);
    expect(deps.store.load('test').progress['host-binary']?.state).toBe('cancelled');

    await press(app, KEYS.ctrlC);
    await app.exited;
    expect(deps.closedServices).toBe(1);
  });

  it('q while a step runs asks first; n keeps running, y cancels the step and quits', async () => {
    const never = deferred();
    const step = testStep('host-binary', 'host', 'Install the Vault binary', { gate: never.promise });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await step.applyStarted.promise;

    await press(app, 'q');
    await waitForFrame(app, (f) => f.includes('A step is running. Quit now?'), 'the quit question');
    await press(app, 'n');
    await waitForFrame(app, (f) => statusPaneText(f).includes('applying Install the Vault binary'), 'the setup screen again');
    expect(step.applySignal?.aborted).toBe(false);

    await press(app, 'q');
    await waitForFrame(app, (f) => f.includes('Quit now?'), 'the quit question again');
    await press(app, 'y');
    await app.exited;
    expect(step.applySignal?.aborted).toBe(true);
  });

  it('f pauses following; k scrolls back to older lines while new ones arrive', async () => {
    const gate = deferred();
    const lines = Array.from({ length: 40 }, (_, index) => `line ${String(index).padStart(2, '0')}`);
    const step = testStep('host-packages', 'host', 'Install packages', { lines, gate: gate.promise });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    const following = await waitForFrame(app, (f) => f.includes('line 39'), 'the newest line');
    expect(following).not.toContain('line 20');

    await press(app, 'k', 'k', 'k');
    const paused = await waitForFrame(app, (f) => f.includes('paused') && !f.includes('line 39'), 'the view to scroll up');
    expect(paused).toContain('line 36');
    // New lines do not move a paused view.
    deps.logBuffer.push({ at: Date.now(), level: 'info', text: 'line 40' });
    await press(app, 'j');
    const stillPaused = await waitForFrame(app, (f) => f.includes('line 37') && !f.includes('line 38'), 'one line down');
    expect(stillPaused).not.toContain('line 40');

    await press(app, 'f');
    await waitForFrame(app, (f) => f.includes('line 40') && f.includes('following'), 'following again');
    gate.resolve();
  });
});

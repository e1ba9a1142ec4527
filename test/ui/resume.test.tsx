/**
 * Resume: what the saved progress (profile.progress, profile.lastRun) decides when the TUI starts —
 * the first screen, the step selected, and the line saying how the last run ended — with the real
 * store, runner and App over a plan of test steps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StepInfo } from '../../source/core/step.js';
import { defaultProfile, type Profile } from '../../source/profile/schema.js';
import { App } from '../../source/ui/App.js';
import { firstUnfinishedStep, lastRunMessage, setupComplete } from '../../source/ui/resume.js';
import { createTheme } from '../../source/ui/theme.js';
import { KEYS, press, renderSized, statusPaneText, tallestFrame, tempXdgHome, testDependencies, testStep, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';

vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const ascii = createTheme({ unicode: false, color: false });
const STEPS: StepInfo[] = [
  { id: 'host.preflight', phase: 'host', title: 'Check the host' },
  { id: 'host.binary', phase: 'host', title: 'Install the Vault binary' },
  { id: 'host.config', phase: 'host', title: 'Write the Vault configuration' },
];
const AT = '2026-11-28T10:00:00.000Z';

function profileWith(change: (profile: Profile) => void): Profile {
  const profile = defaultProfile();
  change(profile);
  return profile;
}

const failedRun = profileWith((profile) => {
  profile.progress = {
    'host.preflight': { state: 'done', at: AT },
    'host.binary': { state: 'failed', at: AT, error: 'SHA256 of vault_2.0.4_linux_arm64.zip does not match' },
  };
  profile.lastRun = { mode: 'apply', startedAt: AT, endedAt: AT, result: 'failed', failedStep: 'host.binary' };
});

const interruptedRun = profileWith((profile) => {
  profile.progress = { 'host.preflight': { state: 'done', at: AT }, 'host.binary': { state: 'running', at: AT } };
  // No end, no result: the process died (power cut, SSH session dropped) during host.binary.
  profile.lastRun = { mode: 'apply', startedAt: AT };
});

const finished = profileWith((profile) => {
  profile.progress = Object.fromEntries(STEPS.map((step) => [step.id, { state: 'done' as const, at: AT }]));
  profile.lastRun = { mode: 'apply', startedAt: AT, endedAt: AT, result: 'ok' };
});

describe('resume decisions from the saved progress', () => {
  it('says how the last run ended: failed (with its error), interrupted, cancelled; nothing after an ok run or none', () => {
    expect(lastRunMessage(failedRun, STEPS)).toBe('last run failed at Install the Vault binary: SHA256 of vault_2.0.4_linux_arm64.zip does not match');
    expect(lastRunMessage(interruptedRun, STEPS)).toBe('last run was interrupted during Install the Vault binary');
    const cancelled = profileWith((profile) => {
      profile.progress = { 'host.preflight': { state: 'cancelled', at: AT, error: 'cancelled' } };
      profile.lastRun = { mode: 'apply', startedAt: AT, endedAt: AT, result: 'cancelled', failedStep: 'host.preflight' };
    });
    expect(lastRunMessage(cancelled, STEPS)).toBe('last run was cancelled during Check the host');
    expect(lastRunMessage(finished, STEPS)).toBeUndefined();
    expect(lastRunMessage(defaultProfile(), STEPS)).toBeUndefined();
  });

  it('finds the first unfinished step and whether the setup is complete', () => {
    expect(firstUnfinishedStep(failedRun, STEPS)).toBe('host.binary');
    expect(firstUnfinishedStep(interruptedRun, STEPS)).toBe('host.binary');
    expect(firstUnfinishedStep(finished, STEPS)).toBeUndefined();
    expect(setupComplete(finished, STEPS)).toBe(true);
    expect(setupComplete(failedRun, STEPS)).toBe(false);
    // Every step done but the last run did not end ok (a later fix failed): not complete.
    expect(setupComplete({ ...finished, lastRun: { mode: 'apply', startedAt: AT, result: 'failed', failedStep: 'host.config' } }, STEPS)).toBe(false);
    // A plan that grew (a new phase): its new steps are not done yet.
    expect(setupComplete(finished, [...STEPS, { id: 'cluster.auth' }])).toBe(false);
  });
});

describe('resume in the TUI', () => {
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

  const plan = () => ({ steps: STEPS.map((info) => testStep(info.id, info.phase, info.title)) });

  it('an unfinished setup opens on Setup with the failed step selected and the last error; a new run takes over', async () => {
    const steps = plan();
    app = renderSized(<App deps={testDependencies({ profile: failedRun, plan: steps })} theme={ascii} />);
    const frame = await waitForFrame(app, (f) => f.includes('[Setup]') && statusPaneText(f).includes('last run failed'), 'the setup screen');
    expect(statusPaneText(frame)).toContain('Last last run failed at Install the Vault binary: SHA256 of vault_2.0.4_linux_arm64.zip does not match');
    // The selection glyph marks the step the next run continues from; the others keep their saved state.
    expect(frame).toMatch(/^x>Install the Vault binary/m);
    expect(frame).toMatch(/^\+ Check the host/m);
    expect(frame).toMatch(/^\. Write the Vault configuration/m);

    await waitForInput(app);
    await press(app, KEYS.enter);
    const after = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the run to finish');
    expect(after).not.toContain('last run failed');
    expect(after).not.toMatch(/>Install/);
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });

  it('an interrupted run says so and selects the step it was in', async () => {
    app = renderSized(<App deps={testDependencies({ profile: interruptedRun, plan: plan() })} theme={ascii} />);
    const frame = await waitForFrame(app, (f) => statusPaneText(f).includes('interrupted'), 'the setup screen');
    expect(statusPaneText(frame)).toContain('last run was interrupted during Install the Vault binary');
    expect(frame).toMatch(/^#>Install the Vault binary/m);
  });

  it('a complete setup opens on Home, a setup never run on Setup with nothing selected', async () => {
    app = renderSized(<App deps={testDependencies({ profile: finished, plan: plan() })} theme={ascii} />);
    await waitForFrame(app, (f) => f.includes('[Home]') && f.includes('Drift'), 'the home screen');
    app.instance.unmount();
    await app.exited;
    app = renderSized(<App deps={testDependencies({ profile: defaultProfile(), plan: plan() })} theme={ascii} />);
    const fresh = await waitForFrame(app, (f) => f.includes('[Setup]') && f.includes('Check the host'), 'the setup screen');
    expect(fresh).not.toMatch(/^.>/m);
    expect(statusPaneText(fresh)).not.toContain('last run');
  });
});

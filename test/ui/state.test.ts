/** The pure parts of the TUI: key dispatch priorities, the reducers, the cleanup registry. */
import { describe, expect, it } from 'vitest';
import { defaultProfile } from '../../source/profile/schema.js';
import { CleanupRegistry, signalExitCode } from '../../source/ui/cleanup.js';
import { KeyDispatcher, type KeyPress } from '../../source/ui/keymap.js';
import { appReducer, initialAppState } from '../../source/ui/state/app-state.js';
import { checkProfile, readValues } from '../../source/ui/state/profile-form.js';
import { initialSetupState, setupReducer } from '../../source/ui/state/setup-state.js';

const key = (name: string): KeyPress => ({ name, text: name.length === 1 ? name : '' });

describe('KeyDispatcher', () => {
  it('asks dialog handlers first, then screen, then global; the first to consume the key wins', () => {
    const dispatcher = new KeyDispatcher();
    const calls: string[] = [];
    dispatcher.register('global', (press) => (calls.push(`global ${press.name}`), true));
    dispatcher.register('screen', (press) => (calls.push(`screen ${press.name}`), press.name === 'j'));
    const removeDialog = dispatcher.register('dialog', (press) => (calls.push(`dialog ${press.name}`), press.name !== 'ctrl+c'));

    expect(dispatcher.dispatch(key('j'))).toBe(true);
    expect(dispatcher.dispatch(key('ctrl+c'))).toBe(true);
    removeDialog();
    dispatcher.dispatch(key('j'));
    dispatcher.dispatch(key('q'));
    expect(calls).toEqual(['dialog j', 'dialog ctrl+c', 'screen ctrl+c', 'global ctrl+c', 'screen j', 'screen q', 'global q']);
  });

  it('reports an unhandled key', () => {
    expect(new KeyDispatcher().dispatch(key('x'))).toBe(false);
  });
});

describe('appReducer', () => {
  it('Ctrl+C cancels a run first and quits on the second press; a new run disarms it', () => {
    let state = appReducer(initialAppState(), { type: 'interrupt', running: true });
    expect(state.quitting).toBe(false);
    expect(state.interruptArmed).toBe(true);
    expect(appReducer(state, { type: 'interrupt', running: true }).quitting).toBe(true);
    state = appReducer(state, { type: 'run-started' });
    expect(appReducer(state, { type: 'interrupt', running: true }).quitting).toBe(false);
    expect(appReducer(initialAppState(), { type: 'interrupt', running: false }).quitting).toBe(true);
  });

  it('help returns to the screen it was opened from', () => {
    let state = appReducer(initialAppState('profile'), { type: 'toggle-help' });
    expect(state.screen).toBe('help');
    state = appReducer(state, { type: 'back' });
    expect(state.screen).toBe('profile');
  });
});

describe('setupReducer', () => {
  it('turns runner events of a check-only run into done / todo / drift rows and counts', () => {
    const steps = [
      { id: 'a', phase: 'host' as const, title: 'A' },
      { id: 'b', phase: 'host' as const, title: 'B' },
    ];
    let state = setupReducer(initialSetupState(steps), { type: 'run-requested', mode: 'check' });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'plan-start', mode: 'check', steps, at: 1 } });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'step-start', stepId: 'a', at: 2 } });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'step-checked', stepId: 'a', check: { state: 'done', detail: '' }, at: 3 } });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'step-start', stepId: 'b', at: 4 } });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'step-checked', stepId: 'b', check: { state: 'drift', detail: 'mode 0755' }, at: 5 } });
    state = setupReducer(state, { type: 'runner-event', event: { type: 'step-skipped', stepId: 'b', reason: 'checks only: drift', at: 6 } });
    state = setupReducer(state, {
      type: 'runner-event',
      event: { type: 'plan-done', mode: 'check', result: 'drift', checks: { a: { state: 'done', detail: '' }, b: { state: 'drift', detail: 'mode 0755' } }, durationMs: 9, at: 7 },
    });
    expect(state.steps.map((row) => row.state)).toEqual(['done', 'drift']);
    expect(state.steps[1]?.detail).toBe('mode 0755');
    expect(state.run).toBe('idle');
    expect(state.last).toMatchObject({ mode: 'check', result: 'drift', counts: { done: 1, todo: 0, drift: 1, failed: 0 } });
  });

  it('shows saved progress before any run', () => {
    const profile = { ...defaultProfile(), progress: { a: { state: 'done' as const, at: 'x', durationMs: 1200 } } };
    const state = initialSetupState([{ id: 'a', phase: 'host', title: 'A' }], profile);
    expect(state.steps[0]).toMatchObject({ state: 'done', durationMs: 1200 });
  });
});

describe('checkProfile', () => {
  it('accepts the defaults and refuses a threshold above the shares on the threshold field', () => {
    const base = defaultProfile();
    expect(checkProfile(base, readValues(base)).ok).toBe(true);
    const result = checkProfile(base, { ...readValues(base), 'vault.keyShares': '2', 'vault.keyThreshold': '3' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors['vault.keyThreshold']).toBe('key threshold (3) cannot be larger than key shares (2)');
  });

  it('refuses a threshold of 1 with several shares on the threshold field only, and accepts 1 of 1', () => {
    const base = defaultProfile();
    const result = checkProfile(base, { ...readValues(base), 'vault.keyShares': '5', 'vault.keyThreshold': '1' });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors['vault.keyThreshold']).toMatch(/^a key threshold of 1 with 5 key shares lets any single key holder unseal alone.*set vault\.keyThreshold to at least 2/);
      expect(result.errors['vault.keyShares']).toBeUndefined();
    }
    expect(checkProfile(base, { ...readValues(base), 'vault.keyShares': '1', 'vault.keyThreshold': '1' }).ok).toBe(true);
    // While the shares are invalid the threshold is judged alone: 1 is not wrong by itself.
    const badShares = checkProfile(base, { ...readValues(base), 'vault.keyShares': '11', 'vault.keyThreshold': '1' });
    expect(badShares.ok).toBe(false);
    if (!badShares.ok) {
      expect(badShares.errors['vault.keyShares']).toMatch(/key shares must be a whole number from 1 to 10/);
      expect(badShares.errors['vault.keyThreshold']).toBeUndefined();
    }
  });
});

describe('CleanupRegistry', () => {
  it('runs tasks newest first, once, and reports failures and timeouts without stopping', async () => {
    const registry = new CleanupRegistry();
    const order: string[] = [];
    registry.add('first', () => void order.push('first'));
    const remove = registry.add('removed', () => void order.push('removed'));
    registry.add('fails', () => {
      throw new Error('socket already closed');
    });
    registry.add('hangs', () => new Promise<void>(() => undefined));
    registry.add('last', async () => void order.push('last'));
    remove();
    const problems = await registry.runAll(50);
    expect(order).toEqual(['last', 'first']);
    expect(problems).toEqual(['hangs: gave up after 50 ms', 'fails: socket already closed']);
    expect(await registry.runAll()).toBe(problems);
    expect(registry.size).toBe(0);
  });

  it('gives signal exit codes as a shell reports them', () => {
    expect(signalExitCode('SIGTERM')).toBe(143);
    expect(signalExitCode('SIGHUP')).toBe(129);
  });
});

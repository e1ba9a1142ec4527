/**
 * A render error never aborts a running step: a part of the screen that throws while it draws an
 * event is replaced by a line saying what failed, the real runner goes on delivering events to the
 * rest of the app, the step finishes, and the usual keys (q, ctrl+l to draw again) still work.
 *
 * The faults are injected where the product's own code draws: `sanitize` (every outside string a
 * component shows passes it) throws for one marked log line, and `setupLayout` throws for the whole
 * Setup screen once a test switches it on, mid-run. Nothing in the product knows about the faults.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogLine } from '../../source/core/step.js';
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

/** The faults the mocks below raise; off unless a test switches one on. */
const faults = vi.hoisted(() => ({
  /** `sanitize` throws for any text containing this. */
  textMarker: undefined as string | undefined,
  /** `setupLayout` throws (the Setup screen cannot be drawn at all). */
  setupScreen: false,
}));

/** What a faulty renderer throws: its own class, so nothing here depends on a message's wording. */
class InjectedRenderFault extends Error {
  override readonly name = 'InjectedRenderFault';
}

vi.mock('../../source/ui/components/text.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../source/ui/components/text.js')>();
  return {
    ...actual,
    sanitize: (text: string): string => {
      if (faults.textMarker !== undefined && text.includes(faults.textMarker)) throw new InjectedRenderFault('injected fault: this line cannot be drawn');
      return actual.sanitize(text);
    },
  };
});

vi.mock('../../source/ui/layout.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../source/ui/layout.js')>();
  return {
    ...actual,
    setupLayout: (...args: Parameters<typeof actual.setupLayout>): ReturnType<typeof actual.setupLayout> => {
      if (faults.setupScreen) throw new InjectedRenderFault('injected fault: no layout');
      return actual.setupLayout(...args);
    },
  };
});

// A spinner redraws every 80 ms; frames are compared here, so it is a fixed glyph.
vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const ascii = createTheme({ unicode: false, color: false });
const MARKER = 'UNDRAWABLE';
const CTRL_L = '\u000c';
let home: TempHome;
let app: Rendered | undefined;

beforeEach(() => {
  home = tempXdgHome();
});
afterEach(async () => {
  faults.textMarker = undefined;
  faults.setupScreen = false;
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  home.restore();
});

function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((line) => line.includes(text)) ?? '';
}

/** Two steps: the first logs the marked line and waits for `gate`, the second logs after it. */
function faultyLogPlan(gate: Promise<void>) {
  const first = testStep('host-binary', 'host', 'Install the Vault binary', { lines: ['downloading vault.zip', `a ${MARKER} line`], gate });
  const second = testStep('vault-init', 'vault', 'Initialize Vault', { lines: ['vault initialized'] });
  return { first, second, plan: { steps: [first, second] } };
}

describe('a render error during a run', () => {
  it('a log line that cannot be drawn: the log pane says so, the other panes and the run go on, q quits', async () => {
    faults.textMarker = MARKER;
    const gate = deferred();
    const { first, second, plan } = faultyLogPlan(gate.promise);
    const deps = testDependencies({ plan });
    const logged: LogLine[] = [];
    deps.onLogLine = (line) => logged.push(line);
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);

    const broken = await waitForFrame(app, (f) => f.includes('Log pane could not be drawn'), 'the log pane to report its failure');
    expect(broken).toContain('injected fault: this line cannot be drawn');
    // The step list and the status pane are drawn on their own: the running step is still shown.
    expect(lineWith(broken, 'Install the Vault binary')).toMatch(/^@ Install the Vault binary/);
    expect(statusPaneText(broken)).toContain('Now applying Install the Vault binary');
    // The failure and its stack are in the log file, as an error of the interface.
    const report = await waitFor(() => logged.find((line) => line.source === 'ui' && line.level === 'error'), 'the render error in the log file');
    expect(report.text).toContain('Log pane');
    expect(report.text).toContain('injected fault: this line cannot be drawn');

    // The runner was not stopped by the render error: the step finishes and the next one runs.
    expect(first.applySignal?.aborted).toBe(false);
    gate.resolve();
    const done = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the run to end');
    expect(lineWith(done, 'Install the Vault binary')).toMatch(/^\+ Install the Vault binary/);
    expect(lineWith(done, 'Initialize Vault')).toMatch(/^\+ Initialize Vault/);
    expect(second.applied).toBe(true);
    expect(logged.map((line) => line.text)).toContain('vault initialized');
    expect(deps.store.load('test').progress['vault-init']?.state).toBe('done');
    expect(app.hasExited()).toBe(false);

    await press(app, 'q');
    await app.exited;
    expect(deps.closedServices).toBe(1);
  });

  it('q while a step runs with a broken pane: asks, and y cancels the step and quits', async () => {
    faults.textMarker = MARKER;
    const never = deferred();
    const { first, plan } = faultyLogPlan(never.promise);
    const deps = testDependencies({ plan });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('Log pane could not be drawn'), 'the log pane to report its failure');

    await press(app, 'q');
    await waitForFrame(app, (f) => f.includes('A step is running. Quit now?'), 'the quit question');
    await press(app, 'y');
    await app.exited;
    expect(first.applySignal?.aborted).toBe(true);
    expect(deps.store.load('test').progress['host-binary']?.state).toBe('cancelled');
  });

  it('ctrl+l draws a failed pane again once it can be drawn', async () => {
    faults.textMarker = MARKER;
    const gate = deferred();
    const { plan } = faultyLogPlan(gate.promise);
    const deps = testDependencies({ plan });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    const broken = await waitForFrame(app, (f) => f.includes('Log pane could not be drawn'), 'the log pane to report its failure');
    expect(broken).toContain('ctrl+l');

    // Still failing: ctrl+l tries again and the pane reports the failure again.
    await press(app, CTRL_L);
    await waitForFrame(app, (f) => f.includes('Log pane could not be drawn'), 'the failure again');

    faults.textMarker = undefined;
    await press(app, CTRL_L);
    const redrawn = await waitForFrame(app, (f) => f.includes(`a ${MARKER} line`), 'the log pane drawn again');
    expect(redrawn).not.toContain('could not be drawn');
    expect(redrawn).toContain('downloading vault.zip');
    gate.resolve();
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the run to end');
  });

  it('a screen that cannot be drawn mid-run: the header and keys stay, the run ends, ctrl+l and tab still work', async () => {
    const gate = deferred();
    const first = testStep('host-binary', 'host', 'Install the Vault binary', { gate: gate.promise });
    const second = testStep('vault-init', 'vault', 'Initialize Vault');
    const deps = testDependencies({ plan: { steps: [first, second] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await first.applyStarted.promise;

    // The next runner event (the first step's end) re-renders the screen, which now throws.
    faults.setupScreen = true;
    gate.resolve();
    const broken = await waitForFrame(app, (f) => f.includes('Setup screen could not be drawn'), 'the screen to report its failure');
    expect(broken).toContain('injected fault: no layout');
    expect(broken).toContain('[Setup]');
    expect(broken).toContain('q quit');

    // Events still reach the app: the run ends and the runner records it.
    await waitFor(() => deps.store.load('test').lastRun?.result === 'ok', 'the run to end ok');
    expect(second.applied).toBe(true);
    expect(app.hasExited()).toBe(false);

    // Another screen is drawn afresh; back on Setup, ctrl+l tries the screen again.
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Profile]') && f.includes('Host address'), 'the profile screen');
    await press(app, KEYS.shiftTab);
    await waitForFrame(app, (f) => f.includes('Setup screen could not be drawn'), 'the setup screen failing again');
    faults.setupScreen = false;
    await press(app, CTRL_L);
    const redrawn = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the setup screen drawn again');
    expect(lineWith(redrawn, 'Initialize Vault')).toMatch(/^\+ Initialize Vault/);
  });
});

describe('event delivery', () => {
  it('a log buffer listener that throws loses no line of the log file and no later event', async () => {
    const step = testStep('host-binary', 'host', 'Install the Vault binary', { lines: ['one', 'two', 'three'] });
    const deps = testDependencies({ plan: { steps: [step] } });
    const logged: string[] = [];
    deps.onLogLine = (line) => logged.push(line.text);
    deps.logBuffer.subscribe(() => {
      throw new InjectedRenderFault('injected fault: a subscriber of the log buffer');
    });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the run to end');
    expect(logged).toEqual(expect.arrayContaining(['one', 'two', 'three']));
    expect(step.applied).toBe(true);
  });
});

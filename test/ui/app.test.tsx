/**
 * App-wide behaviour: help, quit, screen switching, questions from steps (dialogs), and the frame
 * budget — nothing rendered may reach the terminal's last row (Ink 6 clears the whole screen on
 * every frame once the output is as high as the terminal).
 */
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REDACTED } from '../../source/core/redact.js';
import type { Step } from '../../source/core/step.js';
import { App } from '../../source/ui/App.js';
import { initialAppState } from '../../source/ui/state/app-state.js';
import { initialSetupState } from '../../source/ui/state/setup-state.js';
import { createTheme, terminalSupportsUnicode } from '../../source/ui/theme.js';
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

// Chalk (Ink's colouring) decides its colour level when it is imported, from the environment: force
// colour support so the colour test sees whatever the app asks for.
const savedForceColor = vi.hoisted(() => {
  const saved = process.env['FORCE_COLOR'];
  process.env['FORCE_COLOR'] = '1';
  return saved;
});
afterAll(() => {
  if (savedForceColor === undefined) delete process.env['FORCE_COLOR'];
  else process.env['FORCE_COLOR'] = savedForceColor;
});

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

/** Twenty steps over the three phases, like the real plan, each logging a few long lines. */
function largePlan(gate: Promise<void>): { steps: Step[] } {
  const phases = ['host', 'vault', 'cluster'] as const;
  return {
    steps: Array.from({ length: 20 }, (_, index) =>
      testStep(`step-${index}`, phases[Math.min(2, Math.floor(index / 8))] ?? 'host', `Step number ${index} with a rather long descriptive title`, {
        lines: Array.from({ length: 5 }, (__, line) => `step ${index} output ${line} `.repeat(8)),
        ...(index === 12 ? { gate } : {}),
      }),
    ),
  };
}

function expectFramesFit(rendered: Rendered, columns: number, rows: number): void {
  expect(tallestFrame(rendered)).toBeLessThanOrEqual(rows - 1);
  for (const frame of rendered.frames) {
    for (const line of stripVTControlCharacters(frame).split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(columns);
  }
}

describe('App', () => {
  it('? shows every key of every screen; esc goes back', async () => {
    app = renderSized(<App deps={testDependencies()} theme={ascii} />, { columns: 80, rows: 40 });
    await waitForInput(app);
    await press(app, '?');
    const help = await waitForFrame(app, (f) => f.includes('[Help]'), 'the help screen');
    for (const section of ['Everywhere', 'Setup screen', 'Profile screen']) expect(help).toContain(section);
    expect(help).toMatch(/ctrl\+c\s+Cancel the running step/);
    expect(help).toMatch(/enter\/s\s+Run the setup/);
    expect(help).toMatch(/c\/r\s+Check every step without changing anything/);
    expect(help).toMatch(/f\s+Follow the log/);
    await press(app, KEYS.escape);
    await waitForFrame(app, (f) => f.includes('[Setup]'), 'the setup screen');
  });

  it('help scrolls with j/k when it does not fit (80x24)', async () => {
    app = renderSized(<App deps={testDependencies()} theme={ascii} />);
    await waitForInput(app);
    await press(app, '?');
    const top = await waitForFrame(app, (f) => f.includes('Everywhere'), 'the top of the help');
    expect(top).not.toContain('Questions (dialogs)');
    for (let index = 0; index < 30; index++) await press(app, 'j');
    const bottom = await waitForFrame(app, (f) => f.includes('Questions (dialogs)'), 'the end of the help');
    expect(bottom).not.toContain('Everywhere');
    expectFramesFit(app, 80, 24);
  });

  it('q quits when nothing runs', async () => {
    app = renderSized(<App deps={testDependencies()} theme={ascii} />);
    await waitForInput(app);
    await press(app, 'q');
    await app.exited;
  });

  it('tab and shift+tab cycle through the Home, Setup and Profile screens', async () => {
    app = renderSized(<App deps={testDependencies()} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Profile]') && f.includes('Host address'), 'the profile screen');
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Home]') && f.includes('Drift'), 'the home screen');
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Setup]'), 'the setup screen');
    await press(app, KEYS.shiftTab);
    await waitForFrame(app, (f) => f.includes('[Home]'), 'the home screen again');
    await press(app, KEYS.shiftTab);
    await waitForFrame(app, (f) => f.includes('[Profile]'), 'the profile screen again');
    await press(app, KEYS.escape);
    await waitForFrame(app, (f) => f.includes('[Setup]'), 'esc back to setup');
  });

  it('a step asking for a secret gets a masked dialog, and the answer is redacted from the log', async () => {
    let answer: string | undefined;
    const step = testStep('host-sudo', 'host', 'Check sudo', {
      run: async (ctx) => {
        answer = await ctx.prompt.secret('sudo password on the host:');
        ctx.log.info(`sudo -S accepted ${answer}`);
      },
    });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('sudo password on the host:'), 'the question');
    await press(app, 'hunter22');
    const typed = await waitForFrame(app, (f) => f.includes('********'), 'the masked input');
    expect(typed).not.toContain('hunter22');
    await press(app, KEYS.enter);
    const done = await waitForFrame(app, (f) => f.includes('sudo -S accepted'), 'the step to go on');
    expect(answer).toBe('hunter22');
    expect(done).toContain(`sudo -S accepted ${REDACTED}`);
    expect(app.frames.some((frame) => frame.includes('hunter22'))).toBe(false);
  });

  it('a confirm question is answered with y / n, and cancelling the run rejects it', async () => {
    const answers: boolean[] = [];
    const gate = deferred();
    const step = testStep('host-key', 'host', 'Trust the host key', {
      run: async (ctx) => {
        answers.push(await ctx.prompt.confirm('Trust the SSH host key of 10.0.0.11:22?', { defaultValue: false, detail: 'ssh-ed25519 SHA256:abc' }));
        answers.push(await ctx.prompt.confirm('Really?'));
        gate.resolve();
      },
    });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    const question = await waitForFrame(app, (f) => f.includes('Trust the SSH host key'), 'the first question');
    expect(question).toContain('ssh-ed25519 SHA256:abc');
    expect(question).toContain('enter no (default)');
    await press(app, 'y');
    await waitForFrame(app, (f) => f.includes('Really?'), 'the second question');
    await press(app, KEYS.ctrlC);
    await waitForFrame(app, (f) => statusPaneText(f).includes('cancelled at Trust the host key'), 'the cancelled run');
    expect(answers).toEqual([true]);
  });

  it('never renders more than 23 rows at 80x24, through a long run, help, the form and a dialog', async () => {
    const gate = deferred();
    const deps = testDependencies({ plan: largePlan(gate.promise) });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => statusPaneText(f).includes('Step number 12'), 'the run to reach the gated step');
    await press(app, 'k', 'k', 'f', '?');
    await waitForFrame(app, (f) => f.includes('[Help]'), 'help');
    await press(app, KEYS.escape, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Profile]'), 'the form');
    await press(app, 'j', KEYS.enter, KEYS.ctrlU, 'not a host name!', KEYS.enter, 'q');
    await waitForFrame(app, (f) => f.includes('Quit now?'), 'the quit dialog');
    await press(app, 'n', KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Home]'), 'the home screen during the run');
    await press(app, KEYS.tab);
    gate.resolve();
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the end of the run');
    expect(app.frames.length).toBeGreaterThan(10);
    expectFramesFit(app, 80, 24);
  });

  it('follows a resize: once the app re-renders at the new size, every frame fits it', async () => {
    const gate = deferred();
    const deps = testDependencies({ plan: largePlan(gate.promise) });
    app = renderSized(<App deps={deps} theme={ascii} />, { columns: 100, rows: 30 });
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('Step number 12'), 'the run');
    const before = app.frames.length;
    app.stdout.resize(60, 16);
    // Ink redraws the old tree on 'resize' itself; the app's own re-render at the new size follows.
    const settled = await waitFor(() => {
      const index = app?.frames.findIndex((frame, at) => at >= before && /Step number/.test(frame) && stripVTControlCharacters(frame).split('\n').length <= 15);
      return index !== undefined && index >= 0 ? index : undefined;
    }, 'a frame at the new size');
    gate.resolve();
    await waitForFrame(app, (f) => f.includes('setup complete'), 'the end of the run');
    for (const frame of app.frames.slice(settled)) {
      const lines = stripVTControlCharacters(frame).split('\n');
      expect(lines.length).toBeLessThanOrEqual(15);
      for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(60);
    }
  });

  it('uses no colour codes when colour is off, and ASCII glyphs when the terminal is not UTF-8', async () => {
    const step = testStep('host-preflight', 'host', 'Check the host', { fail: new Error('boom') });
    const deps = testDependencies({ plan: { steps: [step] } });
    app = renderSized(<App deps={deps} theme={createTheme({ unicode: false, color: false })} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('x Check the host'), 'the failed step (ASCII x)');
    // SGR colour parameters: 30-37, 90-97 (foreground), 38;... (extended).
    const colour = /\u001b\[(?:\d+;)*(?:3[0-8]|9[0-7])(?:;\d+)*m/;
    expect(app.frames.some((frame) => colour.test(frame))).toBe(false);
    expect(app.frames.join('')).not.toMatch(/[✔✘○─]/);
    app.instance.unmount();
    await app.exited;

    app = renderSized(<App deps={testDependencies({ plan: { steps: [testStep('a', 'host', 'Check the host', { fail: new Error('boom') })] } })} theme={createTheme({ unicode: true, color: true })} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('✘ Check the host'), 'the failed step (Unicode)');
    expect(app.frames.some((frame) => colour.test(frame))).toBe(true);
  });
});

describe('initialState', () => {
  it('renders a screen in a given state without running anything', async () => {
    const steps = [
      { id: 'host-tls', phase: 'host' as const, title: 'TLS: CA and server certificate' },
      { id: 'vault-init', phase: 'vault' as const, title: 'Initialize Vault' },
    ];
    const setup = {
      ...initialSetupState(steps),
      last: { mode: 'apply' as const, result: 'failed' as const, failedStepId: 'host-tls', message: 'openssl not found', hint: 'apt install openssl' },
    };
    setup.steps[0] = { ...setup.steps[0]!, state: 'failed', durationMs: 1500 };
    app = renderSized(<App deps={testDependencies()} theme={ascii} initialState={{ setup, app: initialAppState('setup') }} />);
    const frame = await waitForFrame(app, (f) => f.includes('Hint:'), 'the failure');
    expect(frame).toMatch(/^x TLS: CA and server certifi\S*\s+1\.5s/m);
    expect(statusPaneText(frame)).toContain('failed at TLS: CA and server certificate openssl not found Hint: apt install openssl');
  });
});

describe('terminalSupportsUnicode', () => {
  it('follows LC_ALL > LC_CTYPE > LANG and refuses TERM=dumb', () => {
    expect(terminalSupportsUnicode({ LANG: 'en_US.UTF-8' })).toBe(true);
    expect(terminalSupportsUnicode({ LANG: 'C.utf8' })).toBe(true);
    expect(terminalSupportsUnicode({ LC_ALL: 'C', LANG: 'en_US.UTF-8' })).toBe(false);
    expect(terminalSupportsUnicode({ LC_CTYPE: 'de_DE.UTF-8', LANG: 'C' })).toBe(true);
    expect(terminalSupportsUnicode({})).toBe(false);
    expect(terminalSupportsUnicode({ LANG: 'en_US.UTF-8', TERM: 'dumb' })).toBe(false);
  });
});

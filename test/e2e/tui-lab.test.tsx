/**
 * The TUI with the REAL engine against a fresh lab host: <App> rendered with the product's plan
 * (buildPlan, host phase), the product's run services (ssh2 to the lab host as `pi`, sudo, host key
 * pinned by the lab's profile) and the product's Vault status reader (TLS verified with the CA the
 * TLS step keeps in custody). The run key starts phase 1; the test watches steps turn done, log lines
 * stream in while a step runs, and the Status pane read Vault as "sealed, not initialized".
 * The lab instance is our own (its own LAB_DIR and ports, test/e2e/support/labs.ts), stopped at the end.
 */
import { execFile } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LogBuffer } from '../../source/core/log-buffer.js';
import { Redactor } from '../../source/core/redact.js';
import { ProfileStore } from '../../source/profile/store.js';
import { openRunServices } from '../../source/services/run-services.js';
import { buildPlan } from '../../source/steps/index.js';
import { App } from '../../source/ui/App.js';
import { CleanupRegistry } from '../../source/ui/cleanup.js';
import type { AppDependencies } from '../../source/ui/deps.js';
import { createTheme } from '../../source/ui/theme.js';
import { readClusterStatus } from '../../source/services/cluster-status.js';
import { vaultStatusReader } from '../../source/ui/vault-status.js';
import { CLI_BIN } from './support/cli.js';
import { KEYS, press, renderSized, statusPaneText, tallestFrame, tempXdgHome, waitForFrame, waitForInput, type Rendered, type TempHome } from '../ui/harness.js';
import { FreshLabs, type FreshLab } from './support/labs.js';

// The spinner is a fixed glyph, so a running step is recognisable in any frame.
vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const PROFILE = 'lab';
const HOST_STEPS = ['host.preflight', 'host.account', 'host.directories', 'host.tls', 'host.binary', 'host.config', 'host.service', 'host.verify'];
const RUN_TIMEOUT_MS = 180_000;

const labs = new FreshLabs();
let lab: FreshLab;
let home: TempHome | undefined;
let app: Rendered | undefined;

beforeAll(async () => {
  lab = await labs.get('tui');
}, 180_000);

afterEach(async () => {
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  home?.restore();
  home = undefined;
});

afterAll(async () => {
  await labs.downAll();
}, 120_000);

describe('TUI with the real engine on a fresh lab host', () => {
  it('runs phase 1 with the run key: every host step done, live log lines, Vault sealed and not initialized', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    home = tempXdgHome();
    const store = new ProfileStore();
    store.importFile(PROFILE, lab.state.profileFile);
    const profile = store.load(PROFILE);
    const deps: AppDependencies = {
      profileName: PROFILE,
      profile,
      profileExists: true,
      store,
      createPlan: (current) => buildPlan(current, ['host']),
      openServices: (current, prompt) => openRunServices(current, prompt, { store, profileName: PROFILE }),
      logBuffer: new LogBuffer(),
      redactor: new Redactor(),
      progress: store.progressSink(PROFILE),
      cleanup: new CleanupRegistry(),
      vaultStatus: vaultStatusReader(),
    };
    app = renderSized(<App deps={deps} theme={createTheme({ unicode: false, color: false })} />);

    // Before phase 1 there is no CA in custody: nothing is asked of the host's port yet.
    await waitForFrame(app, (f) => statusPaneText(f).includes('State not checked: no CA certificate yet'), 'the status before the run');
    await waitForInput(app);
    const started = Date.now();
    await press(app, KEYS.enter);

    const done = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'phase 1 to finish', RUN_TIMEOUT_MS);
    const runMs = Date.now() - started;
    const rows = done.split('\n');
    for (const title of buildPlan(profile, ['host']).steps.map((step) => step.title)) {
      expect(rows.find((row) => row.startsWith(`+ ${title.slice(0, 20)}`)), `${title} shown done`).toBeDefined();
    }
    expect(buildPlan(profile, ['host']).steps.map((step) => step.id)).toEqual(HOST_STEPS);
    expect(store.load(PROFILE).progress['host.verify']?.state).toBe('done');

    // Live: log lines of a step were on screen while that step was still running (spinner glyph on its row).
    const frames = app.frames.map((frame) => stripVTControlCharacters(frame));
    const live = frames.find((frame) => /^@ /m.test(frame) && /^\d\d:\d\d:\d\d host\.(binary|tls|service|preflight) \S/m.test(frame));
    expect(live, 'a frame with a running step and its log lines').toBeDefined();
    const logged = new Set(frames.flatMap((frame) => [...frame.matchAll(/^\d\d:\d\d:\d\d (host\.[a-z]+) /gm)].map((match) => match[1])));
    expect(logged.size).toBeGreaterThanOrEqual(4);

    const sealed = await waitForFrame(app, (f) => statusPaneText(f).includes('State sealed, not initialized'), 'the Vault status after phase 1', 15_000);
    expect(statusPaneText(sealed)).toMatch(/Server \d+\.\d+\.\d+, raft/);
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
    console.info(`phase 1 in the TUI: ${(runMs / 1000).toFixed(1)} s (lab up ${(lab.upMs / 1000).toFixed(1)} s)\n${sealed}`);

    await press(app, 'q');
    await app.exited;
  });
});

describe('TUI: the cluster phase on a fresh lab host', () => {
  it('runs the cluster phase in the setup screen: every step done, the verification table shown, the Status pane reads the store Ready (Valid)', { timeout: RUN_TIMEOUT_MS * 2 }, async () => {
    const clusterLab = await labs.get('tui-cluster');
    home = tempXdgHome();
    const store = new ProfileStore();
    store.importFile(PROFILE, clusterLab.state.profileFile);
    // Phases 1 and 2 through the built CLI in the same XDG directories (the keys go to this custody).
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [CLI_BIN, '--profile', PROFILE, 'setup', '--phase', 'host,vault', '--yes'], { env: { ...process.env, CI: '' }, timeout: RUN_TIMEOUT_MS }, (error, _stdout, stderr) =>
        error ? reject(new Error(`phases 1-2 failed: ${stderr}`)) : resolve(),
      );
    });
    // The user's helm is the lab's (ESO is installed with it).
    const savedPath = process.env['PATH'];
    process.env['PATH'] = `${clusterLab.state.helmBinDir}:${savedPath ?? ''}`;
    try {
      const profile = store.load(PROFILE);
      const deps: AppDependencies = {
        profileName: PROFILE,
        profile,
        profileExists: true,
        store,
        createPlan: (current) => buildPlan(current, ['cluster']),
        openServices: (current, prompt) => openRunServices(current, prompt, { store, profileName: PROFILE }),
        logBuffer: new LogBuffer(),
        redactor: new Redactor(),
        progress: store.progressSink(PROFILE),
        cleanup: new CleanupRegistry(),
        vaultStatus: vaultStatusReader(),
        clusterStatus: (_name, current) => readClusterStatus(current),
      };
      app = renderSized(<App deps={deps} theme={createTheme({ unicode: false, color: false })} />);
      await waitForFrame(app, (f) => /Cluster/.test(f) && /Check the cluster/.test(f), 'the cluster steps listed');
      await waitForInput(app);
      const started = Date.now();
      await press(app, KEYS.enter);
      const done = await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the cluster phase to finish', RUN_TIMEOUT_MS);
      const runMs = Date.now() - started;
      const rows = done.split('\n');
      for (const title of buildPlan(profile, ['cluster']).steps.map((step) => step.title)) {
        expect(rows.find((row) => row.startsWith(`+ ${title.slice(0, 20)}`)), `${title} shown done`).toBeDefined();
      }
      // The verification's table replaces the log pane when it is presented.
      expect(done).toMatch(/ExternalSecret check/);
      expect(done).toMatch(/holds the same value/);
      // helm's output streamed into the log while ESO was installed.
      expect(app.frames.some((frame) => /cluster\.eso-install helm: /.test(stripVTControlCharacters(frame)))).toBe(true);
      const ready = await waitForFrame(app, (f) => statusPaneText(f).includes('Store vault-backend Ready (Valid)'), 'the store in the Status pane', 30_000);
      expect(tallestFrame(app)).toBeLessThanOrEqual(23);
      console.info(`cluster phase in the TUI: ${(runMs / 1000).toFixed(1)} s\n${ready}`);
      await press(app, 'q');
      await app.exited;
    } finally {
      process.env['PATH'] = savedPath;
    }
  });
});

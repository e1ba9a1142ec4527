/**
 * The TUI's question for a helm release a stopped helm left pending (steps/cluster/helm-pending.ts,
 * asked through the DialogPrompter): the history rows each on a line of their own inside the dialog,
 * no as the default (enter, like `setup --yes`, changes nothing), `n` changes nothing and the step fails with the recovery command, `y` runs the rollback. helm is a stand-in
 * script answering `list`/`history` with helm's JSON and recording its calls.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Helm } from '../../source/services/helm.js';
import { settlePendingRelease } from '../../source/steps/cluster/helm-pending.js';
import { App } from '../../source/ui/App.js';
import { createTheme } from '../../source/ui/theme.js';
import { KEYS, press, renderSized, statusPaneText, tallestFrame, tempXdgHome, testDependencies, testStep, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';

vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const FAKE_HELM = `#!/bin/sh
echo "$*" >> "$FAKE_HELM_DIR/calls"
case "$1" in
  list) cat "$FAKE_HELM_DIR/list.json" ;;
  history) cat "$FAKE_HELM_DIR/history.json" ;;
  rollback) echo '[]' > "$FAKE_HELM_DIR/list.json"; echo "Rollback was a success! Happy Helming!" ;;
esac
`;

const LIST = JSON.stringify([{ name: 'external-secrets', namespace: 'external-secrets', revision: '3', updated: '', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2' }]);
const HISTORY = JSON.stringify([
  { revision: 1, updated: '2026-03-01T10:00:00Z', status: 'superseded', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Install complete' },
  { revision: 2, updated: '2026-03-01T11:00:00Z', status: 'deployed', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Upgrade complete' },
  { revision: 3, updated: '2026-03-02T08:30:05Z', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Preparing upgrade' },
]);

const ascii = createTheme({ unicode: false, color: false });
let home: TempHome;
let dir: string;
let app: Rendered | undefined;

beforeEach(async () => {
  home = tempXdgHome();
  dir = await mkdtemp(path.join(tmpdir(), 'helm-dialog-'));
  await writeFile(path.join(dir, 'helm'), FAKE_HELM, { mode: 0o755 });
  await writeFile(path.join(dir, 'list.json'), LIST);
  await writeFile(path.join(dir, 'history.json'), HISTORY);
});
afterEach(async () => {
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  home.restore();
  await rm(dir, { recursive: true, force: true });
});

function pendingStep() {
  return testStep('cluster.eso-install', 'cluster', 'Install External Secrets Operator', {
    run: async (ctx) => {
      const helm = Helm.locate({ kubeconfigPath: '/k/config', context: 'lab', env: { PATH: `${dir}:/usr/bin:/bin`, FAKE_HELM_DIR: dir }, onLine: (line) => ctx.log.info(`helm: ${line}`) });
      await settlePendingRelease(ctx, helm, { release: 'external-secrets', namespace: 'external-secrets', context: 'lab' }, { recover: false, waitSeconds: 600 });
    },
  });
}

async function calls(): Promise<string[]> {
  return existsSync(path.join(dir, 'calls')) ? (await readFile(path.join(dir, 'calls'), 'utf8')).trim().split('\n') : [];
}

describe('the question for a pending helm release', () => {
  it('shows the history rows on lines of their own; n changes nothing and the step fails with the rollback command', async () => {
    const deps = testDependencies({ plan: { steps: [pendingStep()] } });
    app = renderSized(<App deps={deps} theme={ascii} />, { columns: 100, rows: 30 });
    await waitForInput(app);
    await press(app, KEYS.enter);
    const question = stripVTControlCharacters(await waitForFrame(app, (f) => f.includes('Settle the helm release'), 'the question'));
    expect(question).toContain('left pending-upgrade at revision 3?');
    expect(question).not.toContain('\\x0a');
    const rows = question.split('\n');
    expect(rows.some((row) => /REVISION\s+UPDATED\s+STATUS\s+CHART\s+DESCRIPTION/.test(row))).toBe(true);
    expect(rows.some((row) => /\b2\s+2026-03-01 11:00:00Z\s+deployed\s+external-secrets-0\.16\.2\s+Upgrade complete/.test(row))).toBe(true);
    expect(rows.some((row) => /\b3\s+2026-03-02 08:30:05Z\s+pending-upgrade\s+external-secrets-0\.16\.2\s+Preparing upgrade/.test(row))).toBe(true);
    expect(question).toMatch(/Only if no helm is working on this release now \(revision 3 was last written \d+ days ago\)/);
    // The default is no: enter (and `setup --yes`) changes nothing.
    expect(question).toContain('enter no (default)');
    await press(app, 'n');
    const failed = await waitForFrame(app, (f) => statusPaneText(f, 100).includes('pending-upgrade at revision 3'), 'the failed step');
    expect(stripVTControlCharacters(failed)).not.toContain('Settle the helm release');
    expect((await calls()).map((call) => call.split(' ')[0])).toEqual(['list', 'history']);
    expect(tallestFrame(app)).toBeLessThanOrEqual(29);
    for (const frame of app.frames) for (const line of stripVTControlCharacters(frame).split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(100);
  });

  it('y runs the rollback to the last deployed revision', async () => {
    const deps = testDependencies({ plan: { steps: [pendingStep()] } });
    app = renderSized(<App deps={deps} theme={ascii} />, { columns: 80, rows: 24 });
    await waitForInput(app);
    await press(app, KEYS.enter);
    await waitForFrame(app, (f) => f.includes('Settle the helm release'), 'the question');
    await press(app, 'y');
    await waitForFrame(app, (f) => statusPaneText(f).includes('setup complete'), 'the end of the run');
    expect(await calls()).toContain('rollback external-secrets 2 --namespace external-secrets --wait --timeout 600s --kubeconfig /k/config --kube-context lab');
    expect(tallestFrame(app)).toBeLessThanOrEqual(23);
  });
});

// cluster.eso-install's handling of a helm release left pending, against a stand-in `helm` (a shell
// script answering `list`/`history` with helm's JSON and recording every call): nothing is changed
// without a yes or --recover-helm, the rollback or uninstall runs with it, a failed upgrade is
// looked into. And the helm service's stop: a cancelled or timed-out helm gets SIGTERM and time to
// record the release (helm ≥ 3.7 does on SIGTERM) before SIGKILL; the promise settles after it exited.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, isAbortError, UserError } from '../../source/core/errors.js';
import type { Prompter, StepContext, StepView } from '../../source/core/step.js';
import { Helm, type HelmStream } from '../../source/services/helm.js';
import { HelmReleasePendingError } from '../../source/services/helm-release.js';
import { ageOf, explainUpgradeFailure, settlePendingRelease } from '../../source/steps/cluster/helm-pending.js';

const FAKE_HELM = `#!/bin/sh
echo "$*" >> "$FAKE_HELM_DIR/calls"
case "$1" in
  list) cat "$FAKE_HELM_DIR/list.json" ;;
  history) cat "$FAKE_HELM_DIR/history.json" ;;
  rollback|uninstall) echo '[]' > "$FAKE_HELM_DIR/list.json"; echo "$1 done" ;;
  upgrade) echo 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress' >&2; exit 1 ;;
esac
`;

const PENDING_LIST = JSON.stringify([{ name: 'external-secrets', namespace: 'external-secrets', revision: '3', updated: '2026-03-02 08:30:05 +0000 UTC', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2' }]);
const KILLED_UPGRADE = JSON.stringify([
  { revision: 1, updated: '2026-03-01T10:00:00Z', status: 'superseded', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Install complete' },
  { revision: 2, updated: '2026-03-01T11:00:00Z', status: 'deployed', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Upgrade complete' },
  { revision: 3, updated: '2026-03-02T08:30:05Z', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Preparing upgrade' },
]);
const KILLED_INSTALL = JSON.stringify([{ revision: 1, updated: '2026-03-02T08:30:05Z', status: 'pending-install', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Initial install underway' }]);
const PENDING_INSTALL_LIST = JSON.stringify([{ name: 'external-secrets', namespace: 'external-secrets', revision: '1', updated: '', status: 'pending-install', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2' }]);

const ref = { release: 'external-secrets', namespace: 'external-secrets', context: 'lab' };
const options = { recover: false, waitSeconds: 600 };

let dir: string;
let lines: { line: string; stream: HelmStream }[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'helm-pending-'));
  lines = [];
  await writeFile(path.join(dir, 'helm'), FAKE_HELM, { mode: 0o755 });
  await writeFile(path.join(dir, 'list.json'), '[]');
  await writeFile(path.join(dir, 'history.json'), '[]');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function helmIn(binDir: string, signal?: AbortSignal): Helm {
  return Helm.locate({
    kubeconfigPath: '/k/config',
    context: 'lab',
    env: { PATH: `${binDir}:/usr/bin:/bin`, FAKE_HELM_DIR: dir },
    onLine: (line, stream) => lines.push({ line, stream }),
    ...(signal ? { signal } : {}),
  });
}

async function calls(): Promise<string[]> {
  return existsSync(path.join(dir, 'calls')) ? (await readFile(path.join(dir, 'calls'), 'utf8')).trim().split('\n') : [];
}

async function pending(list: string, history: string): Promise<void> {
  await writeFile(path.join(dir, 'list.json'), list);
  await writeFile(path.join(dir, 'history.json'), history);
}

interface Recorded {
  ctx: StepContext;
  logs: string[];
  views: StepView[];
  asked: { question: string; defaultValue: boolean | undefined; detail: string | undefined }[];
}

function context(answer: () => Promise<boolean>): Recorded {
  const logs: string[] = [];
  const views: StepView[] = [];
  const asked: Recorded['asked'] = [];
  const log = (level: string) => (text: string) => logs.push(`${level}: ${text}`);
  const prompt: Partial<Prompter> = {
    confirm: (question, { defaultValue, detail } = {}) => {
      asked.push({ question, defaultValue, detail });
      return answer();
    },
  };
  const ctx = {
    profileName: 'default',
    log: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
    signal: new AbortController().signal,
    prompt,
    present: (view: StepView) => views.push(view),
    registerSecret: () => undefined,
  } as unknown as StepContext;
  return { ctx, logs, views, asked };
}

const never = () => Promise.reject(new Error('not asked in this test'));

describe('settlePendingRelease (before upgrade --install)', () => {
  it('no pending release: one `helm list --pending` (its JSON not streamed to the log) and nothing else', async () => {
    const { ctx, asked } = context(never);
    await settlePendingRelease(ctx, helmIn(dir), ref, options);
    expect(await calls()).toEqual(['list --namespace external-secrets --pending --filter ^external-secrets$ --output json --kubeconfig /k/config --kube-context lab']);
    expect(asked).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('pending and the answer is no: nothing is changed, the error names the revision and the rollback, the history is shown', async () => {
    await pending(PENDING_LIST, KILLED_UPGRADE);
    const { ctx, asked, views, logs } = context(async () => false);
    const error = await settlePendingRelease(ctx, helmIn(dir), ref, options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HelmReleasePendingError);
    expect((error as UserError).message).toMatch(/^helm release external-secrets\/external-secrets is left pending-upgrade at revision 3 /);
    expect((error as UserError).hint).toContain('helm rollback external-secrets 2 -n external-secrets --kube-context lab');
    expect((await calls()).map((call) => call.split(' ')[0])).toEqual(['list', 'history']);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.question).toBe('Settle the helm release external-secrets/external-secrets, left pending-upgrade at revision 3?');
    expect(asked[0]!.defaultValue).toBe(false);
    const detail = asked[0]!.detail!.split('\n');
    expect(detail[0]).toMatch(/^REVISION\s+UPDATED\s+STATUS\s+CHART\s+DESCRIPTION$/);
    expect(detail[3]).toMatch(/^3\s+2026-03-02 08:30:05Z\s+pending-upgrade\s+external-secrets-0\.16\.2\s+Preparing upgrade$/);
    expect(detail).toContain('Yes rolls external-secrets back to revision 2 (external-secrets-0.16.2, the last one deployed), then installs it again as usual: helm rollback external-secrets 2 -n external-secrets --kube-context lab');
    expect(detail.at(-1)).toMatch(/^Only if no helm is working on this release now \(revision 3 was last written .* ago\)\.$/);
    expect(views).toEqual([{ kind: 'table', title: 'helm history external-secrets -n external-secrets', columns: ['REVISION', 'UPDATED', 'STATUS', 'CHART', 'DESCRIPTION'], rows: expect.any(Array) }]);
    expect(views[0]!.rows.at(-1)).toEqual(['3', '2026-03-02 08:30:05Z', 'pending-upgrade', 'external-secrets-0.16.2', 'Preparing upgrade']);
    expect(logs.some((line) => line.startsWith('warn: helm release external-secrets/external-secrets is pending-upgrade at revision 3'))).toBe(true);
  });

  it('no terminal to ask in (the headless prompter\'s InputError): the pending release is the error, not the missing terminal', async () => {
    await pending(PENDING_LIST, KILLED_UPGRADE);
    const { ctx } = context(() => Promise.reject(new InputError('this needs an answer and there is no terminal to ask')));
    await expect(settlePendingRelease(ctx, helmIn(dir), ref, options)).rejects.toBeInstanceOf(HelmReleasePendingError);
    expect((await calls()).some((call) => call.startsWith('rollback'))).toBe(false);
  });

  it('a cancelled question cancels the step (nothing is changed)', async () => {
    await pending(PENDING_LIST, KILLED_UPGRADE);
    const cancelled = Object.assign(new Error('the question was cancelled'), { name: 'AbortError' });
    const { ctx } = context(() => Promise.reject(cancelled));
    await expect(settlePendingRelease(ctx, helmIn(dir), ref, options)).rejects.toBe(cancelled);
    expect((await calls()).some((call) => call.startsWith('rollback'))).toBe(false);
  });

  it('yes: helm rollback to the last deployed revision with --wait, then read back (no longer pending)', async () => {
    await pending(PENDING_LIST, KILLED_UPGRADE);
    const { ctx, logs } = context(async () => true);
    await settlePendingRelease(ctx, helmIn(dir), ref, options);
    expect(await calls()).toEqual([
      'list --namespace external-secrets --pending --filter ^external-secrets$ --output json --kubeconfig /k/config --kube-context lab',
      'history external-secrets --namespace external-secrets --output json --kubeconfig /k/config --kube-context lab',
      'rollback external-secrets 2 --namespace external-secrets --wait --timeout 600s --kubeconfig /k/config --kube-context lab',
      'list --namespace external-secrets --pending --filter ^external-secrets$ --output json --kubeconfig /k/config --kube-context lab',
    ]);
    expect(logs).toContain('warn: settling the pending release (confirmed): helm rollback external-secrets 2 -n external-secrets --kube-context lab');
    // rollback's own output is progress: it reaches the log.
    expect(lines).toEqual([{ line: 'rollback done', stream: 'stdout' }]);
  });

  it('--recover-helm: no question; the first install that never completed is uninstalled', async () => {
    await pending(PENDING_INSTALL_LIST, KILLED_INSTALL);
    const { ctx, asked, logs } = context(never);
    await settlePendingRelease(ctx, helmIn(dir), ref, { ...options, recover: true });
    expect(asked).toEqual([]);
    expect((await calls())[2]).toBe('uninstall external-secrets --namespace external-secrets --wait --timeout 600s --kubeconfig /k/config --kube-context lab');
    expect(logs).toContain('warn: settling the pending release (--recover-helm): helm uninstall external-secrets -n external-secrets --kube-context lab');
  });

  it('still pending after the rollback: that is the error', async () => {
    await pending(PENDING_LIST, KILLED_UPGRADE);
    // A helm whose rollback leaves the record pending (another helm took the release meanwhile).
    await writeFile(path.join(dir, 'helm'), FAKE_HELM.replace(`echo '[]' > "$FAKE_HELM_DIR/list.json"; `, ''), { mode: 0o755 });
    const { ctx } = context(never);
    await expect(settlePendingRelease(ctx, helmIn(dir), ref, { ...options, recover: true })).rejects.toBeInstanceOf(HelmReleasePendingError);
  });
});

describe('explainUpgradeFailure (after upgrade --install failed)', () => {
  it('helm refused because the release is pending now: the pending release is the error, helm\'s failure its cause', async () => {
    const helm = helmIn(dir);
    const failure = await helm.upgradeInstall({ release: 'external-secrets', chart: 'external-secrets/external-secrets', namespace: 'external-secrets' }).catch((caught: unknown) => caught);
    expect((failure as UserError).message).toMatch(/another operation \(install\/upgrade\/rollback\) is in progress$/);
    await pending(PENDING_LIST, KILLED_UPGRADE);
    const { ctx, views } = context(never);
    const error = await explainUpgradeFailure(ctx, helm, ref, failure).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HelmReleasePendingError);
    expect((error as Error).cause).toBe(failure);
    expect(views).toHaveLength(1);
  });

  it('any other failure stays helm\'s own', async () => {
    const failure = new UserError('helm upgrade --install ... failed (exit 1): Error: timed out waiting for the condition');
    const { ctx } = context(never);
    await expect(explainUpgradeFailure(ctx, helmIn(dir), ref, failure)).rejects.toBe(failure);
  });
});

describe('stopping helm', () => {
  /** A helm that, on SIGTERM, takes a moment to record the release (as helm's failRelease does), then exits. */
  const RECORDING_HELM = `#!/bin/sh
trap 'sleep 0.3; echo recorded > "$FAKE_HELM_DIR/recorded"; exit 1' TERM
echo started > "$FAKE_HELM_DIR/started"
while :; do sleep 0.05; done
`;

  async function started(): Promise<void> {
    while (!existsSync(path.join(dir, 'started'))) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  it('a cancelled run sends SIGTERM and settles only after helm recorded and exited', async () => {
    await writeFile(path.join(dir, 'helm'), RECORDING_HELM, { mode: 0o755 });
    const controller = new AbortController();
    const running = helmIn(dir, controller.signal).run(['upgrade', 'x', 'y'], { timeoutMs: 60_000, killGraceMs: 10_000 });
    await started();
    controller.abort();
    const error = await running.catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
    expect(existsSync(path.join(dir, 'recorded'))).toBe(true);
  });

  it('already cancelled: helm is not started', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await helmIn(dir, controller.signal).run(['version']).catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
    expect(await calls()).toEqual([]);
  });

  it('past the limit: SIGTERM, and SIGKILL only after the grace when helm does not exit', async () => {
    await writeFile(path.join(dir, 'helm'), `#!/bin/sh\ntrap '' TERM\necho started > "$FAKE_HELM_DIR/started"\nwhile :; do sleep 0.05; done\n`, { mode: 0o755 });
    const begun = Date.now();
    const error = await helmIn(dir).run(['upgrade', 'x', 'y'], { timeoutMs: 200, killGraceMs: 700 }).catch((caught: unknown) => caught);
    const took = Date.now() - begun;
    expect((error as UserError).message).toBe('helm upgrade x y did not finish within 0 s and was stopped');
    expect(took).toBeGreaterThanOrEqual(850);
    expect(took).toBeLessThan(5_000);
  });
});

describe('ageOf', () => {
  it('minutes, hours, days', () => {
    const now = Date.parse('2026-03-02T12:00:00Z');
    expect(ageOf(new Date('2026-03-02T11:59:40Z'), now)).toBe('less than a minute');
    expect(ageOf(new Date('2026-03-02T11:30:00Z'), now)).toBe('30 min');
    expect(ageOf(new Date('2026-03-02T06:00:00Z'), now)).toBe('6 h');
    expect(ageOf(new Date('2026-02-25T12:00:00Z'), now)).toBe('5 days');
    expect(ageOf(undefined, now)).toBeUndefined();
  });
});

// A helm release's record as helm v3 and v4 print it (`helm list -o json`, `helm history -o json`),
// and the way out of a release a stopped helm left pending: rollback to the last deployed revision,
// or uninstall when the first install never completed.
// Shapes: helm v3.21 cmd/helm/history.go and list.go (revision a string in list; "updated": "" for a
// zero time, pkg/time), helm v4.3 pkg/cmd/history.go (zero time omitted, rollback_revision added).
import { describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import {
  formatUpdated,
  HelmReleasePendingError,
  historyLines,
  historyRows,
  isPendingStatus,
  listedStatus,
  parseHistory,
  recoveryCommand,
  recoveryFor,
  type HelmRevision,
} from '../../source/services/helm-release.js';

const ref = { release: 'external-secrets', namespace: 'external-secrets', context: 'default' };

/** `helm history external-secrets -o json` (helm v3) after an upgrade was SIGKILLed. */
const V3_KILLED_UPGRADE = JSON.stringify([
  { revision: 1, updated: '2026-03-01T10:00:00.123456789Z', status: 'superseded', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Install complete' },
  { revision: 2, updated: '2026-03-01T11:00:00.5+02:00', status: 'deployed', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Upgrade complete' },
  { revision: 3, updated: '2026-03-02T08:30:05.000000001Z', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Preparing upgrade' },
]);

/** The same history as helm v4 prints it: a rollback revision, and a zero time left out. */
const V4_KILLED_UPGRADE = JSON.stringify([
  { revision: 1, updated: '2026-03-01T10:00:00.123456789Z', status: 'superseded', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Install complete' },
  { revision: 2, updated: '2026-03-01T11:00:00Z', status: 'superseded', chart: 'external-secrets-0.16.1', app_version: 'v0.16.1', description: 'Upgrade complete' },
  { revision: 3, updated: '2026-03-01T12:00:00Z', status: 'deployed', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', rollback_revision: 1, description: 'Rollback to 1' },
  { revision: 4, status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2', description: 'Preparing upgrade' },
]);

const revision = (n: number, status: string, description = ''): HelmRevision => ({ revision: n, updated: undefined, status, chart: 'external-secrets-0.16.2', appVersion: 'v0.16.2', description });

describe('helm history -o json', () => {
  it('helm v3: rows oldest first, times read with their offset', () => {
    const history = parseHistory(V3_KILLED_UPGRADE);
    expect(history.map((row) => [row.revision, row.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
      [3, 'pending-upgrade'],
    ]);
    expect(history[1]!.updated?.toISOString()).toBe('2026-03-01T09:00:00.500Z');
    expect(history[2]).toMatchObject({ chart: 'external-secrets-0.16.2', appVersion: 'v0.16.2', description: 'Preparing upgrade' });
  });

  it('helm v4: rollback_revision is ignored, an omitted time is no time; v3\'s "" is the same', () => {
    const history = parseHistory(V4_KILLED_UPGRADE);
    expect(history.map((row) => row.revision)).toEqual([1, 2, 3, 4]);
    expect(history[3]!.updated).toBeUndefined();
    expect(parseHistory(JSON.stringify([{ revision: 1, updated: '', status: 'pending-install', chart: 'c-1', app_version: '', description: 'Initial install underway' }]))[0]!.updated).toBeUndefined();
    expect(formatUpdated(undefined)).toBe('-');
  });

  it('is sorted by revision whatever order helm printed, and an escape sequence in a description is removed', () => {
    const history = parseHistory(JSON.stringify([
      { revision: 2, updated: '', status: 'failed', chart: 'c-1', app_version: '', description: 'Upgrade "x" failed: \u001b]0;pwned\u0007timeout' },
      { revision: 1, updated: '', status: 'deployed', chart: 'c-1', app_version: '', description: 'Install complete' },
    ]));
    expect(history.map((row) => row.revision)).toEqual([1, 2]);
    expect(history[1]!.description).toBe('Upgrade "x" failed: timeout');
  });

  it('what is not its JSON is a UserError, not a crash', () => {
    expect(() => parseHistory('Error: release: not found')).toThrow(UserError);
    expect(() => parseHistory(JSON.stringify([{ revision: 'one', status: 'deployed' }]))).toThrow(/does not understand/);
    expect(parseHistory('null')).toEqual([]);
  });
});

describe('helm list -o json', () => {
  // helm v3 and v4 both print the revision as a string (strconv.Itoa) and `[]` for no release.
  const listed = JSON.stringify([
    { name: 'external-secrets-extra', namespace: 'external-secrets', revision: '9', updated: '2026-03-02 08:30:05.1 +0000 UTC', status: 'deployed', chart: 'x-1', app_version: '' },
    { name: 'external-secrets', namespace: 'external-secrets', revision: '3', updated: '2026-03-02 08:30:05.1 +0000 UTC', status: 'pending-upgrade', chart: 'external-secrets-0.16.2', app_version: 'v0.16.2' },
  ]);

  it('finds the release by its exact name, revision as a number', () => {
    expect(listedStatus(listed, 'external-secrets')).toEqual({ revision: 3, status: 'pending-upgrade' });
    expect(listedStatus('[]', 'external-secrets')).toBeUndefined();
    expect(listedStatus('', 'external-secrets')).toBeUndefined();
    expect(listedStatus('null', 'external-secrets')).toBeUndefined();
  });

  it('the pending statuses are the three helm writes before it acts', () => {
    expect(['pending-install', 'pending-upgrade', 'pending-rollback'].every(isPendingStatus)).toBe(true);
    expect(['deployed', 'failed', 'superseded', 'uninstalled', 'uninstalling', 'unknown'].some(isPendingStatus)).toBe(false);
  });
});

describe('the recovery of a pending release', () => {
  it('a killed upgrade (helm v3): rollback to the revision still marked deployed', () => {
    const recovery = recoveryFor(parseHistory(V3_KILLED_UPGRADE));
    expect(recovery).toMatchObject({ kind: 'rollback', pending: { revision: 3, status: 'pending-upgrade' }, to: { revision: 2, status: 'deployed' } });
    expect(recoveryCommand(recovery!, ref)).toBe('helm rollback external-secrets 2 -n external-secrets --kube-context default');
  });

  it('a killed upgrade after a rollback (helm v4): rollback to the rollback\'s revision', () => {
    expect(recoveryFor(parseHistory(V4_KILLED_UPGRADE))).toMatchObject({ kind: 'rollback', to: { revision: 3 } });
  });

  it('the first install never completed (revision 1 pending-install alone): uninstall', () => {
    const recovery = recoveryFor([revision(1, 'pending-install', 'Initial install underway')]);
    expect(recovery).toMatchObject({ kind: 'uninstall', pending: { revision: 1 } });
    expect(recoveryCommand(recovery!, ref)).toBe('helm uninstall external-secrets -n external-secrets --kube-context default');
  });

  it('nothing deployed now: the newest superseded revision (it was deployed once); never one that failed', () => {
    expect(recoveryFor([revision(1, 'superseded'), revision(2, 'failed'), revision(3, 'pending-upgrade')])).toMatchObject({ kind: 'rollback', to: { revision: 1 } });
    expect(recoveryFor([revision(1, 'failed'), revision(2, 'pending-upgrade')])).toMatchObject({ kind: 'uninstall' });
  });

  it('a killed rollback (pending-rollback): back to the one deployed before it', () => {
    expect(recoveryFor([revision(1, 'superseded'), revision(2, 'deployed'), revision(3, 'failed'), revision(4, 'pending-rollback')])).toMatchObject({ kind: 'rollback', to: { revision: 2 } });
  });

  it('a release whose newest revision is not pending needs none', () => {
    expect(recoveryFor([revision(1, 'deployed')])).toBeUndefined();
    expect(recoveryFor([revision(1, 'deployed'), revision(2, 'failed')])).toBeUndefined();
    expect(recoveryFor([])).toBeUndefined();
  });

  it('a context name that is not one plain word is shell-quoted in the command shown', () => {
    const recovery = recoveryFor([revision(1, 'pending-install')])!;
    expect(recoveryCommand(recovery, { ...ref, context: "pi's cluster" })).toBe(`helm uninstall external-secrets -n external-secrets --kube-context 'pi'\\''s cluster'`);
  });
});

describe('HelmReleasePendingError', () => {
  it('names the pending revision, the last deployed one and the command; carries the history', () => {
    const history = parseHistory(V3_KILLED_UPGRADE);
    const error = new HelmReleasePendingError(ref, history, recoveryFor(history)!);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(
      'helm release external-secrets/external-secrets is left pending-upgrade at revision 3 (external-secrets-0.16.2, since 2026-03-02 08:30:05Z: "Preparing upgrade"); the last deployed revision is 2 (external-secrets-0.16.2). A helm stopped before it finished leaves it so, and helm refuses every upgrade until it is settled',
    );
    expect(error.hint).toContain('If no helm is working on this release now: helm rollback external-secrets 2 -n external-secrets --kube-context default, then run the step again');
    expect(error.hint).toContain('setup --recover-helm');
    expect(error.history).toBe(history);
  });

  it('the first install that never completed: no deployed revision, uninstall', () => {
    const history = [revision(1, 'pending-install', 'Initial install underway')];
    const error = new HelmReleasePendingError(ref, history, recoveryFor(history)!);
    expect(error.message).toMatch(/left pending-install at revision 1 .*; no revision was ever deployed\./);
    expect(error.hint).toContain('helm uninstall external-secrets -n external-secrets --kube-context default');
  });
});

describe('the history as shown', () => {
  it('rows in helm history\'s columns (app version left out), the newest five', () => {
    const history = [1, 2, 3, 4, 5, 6].map((n) => revision(n, n === 6 ? 'pending-upgrade' : 'superseded', `d${n}`));
    const rows = historyRows(history);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual(['2', '-', 'superseded', 'external-secrets-0.16.2', 'd2']);
    const lines = historyLines(parseHistory(V3_KILLED_UPGRADE));
    expect(lines[0]).toMatch(/^REVISION\s+UPDATED\s+STATUS\s+CHART\s+DESCRIPTION$/);
    expect(lines[3]).toBe('3         2026-03-02 08:30:05Z  pending-upgrade  external-secrets-0.16.2  Preparing upgrade');
  });
});

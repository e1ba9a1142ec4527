/**
 * A helm release's own record, as `helm list -o json` and `helm history -o json` print it, and what
 * to do with a release that a stopped helm left pending.
 *
 * helm writes the release record as `pending-install` (or `pending-upgrade`, `pending-rollback`)
 * BEFORE it creates anything, and sets `deployed` or `failed` at the end (pkg/action/install.go
 * "Initial install underway", pkg/action/upgrade.go "Preparing upgrade", in helm v3 and v4 alike).
 * A helm killed in between — SIGKILL, the SIGHUP of a dropped SSH session, an API that hangs so
 * that its SIGTERM cleanup cannot write the `failed` record — leaves it pending, and from then on
 * every `helm upgrade` refuses with "another operation (install/upgrade/rollback) is in progress"
 * (pkg/action/upgrade.go errPending; helm/helm#10599, #8987, #7476, #4558). `helm rollback` does not
 * check for a pending record, so it settles one: back to the last revision that was deployed, or,
 * when the first install never completed, `helm uninstall`.
 *
 * The decision is made from helm's JSON (its status values), never from the wording of its errors.
 * The JSON differs between the versions only in details handled here: `list` prints the revision
 * as a string in both; `history` prints `"updated": ""` for a zero time in v3 (pkg/time) and omits
 * it in v4, and v4 may add `rollback_revision` (pkg/cmd/history.go).
 */
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { stripTerminalControls } from '../core/terminal-text.js';
import { shellQuote } from './host/shell-quote.js';

/** helm's release statuses (pkg/release/common/status.go in v4, pkg/release/status.go in v3). */
export const HELM_STATUSES = ['unknown', 'deployed', 'uninstalled', 'superseded', 'failed', 'uninstalling', 'pending-install', 'pending-upgrade', 'pending-rollback'] as const;
export type HelmStatus = (typeof HELM_STATUSES)[number];

const PENDING: readonly string[] = ['pending-install', 'pending-upgrade', 'pending-rollback'];

/** Pending: helm started an operation on the release and has not recorded its end. */
export function isPendingStatus(status: string): boolean {
  return PENDING.includes(status);
}

/** One row of `helm history -o json`. */
export interface HelmRevision {
  revision: number;
  /** When helm last wrote this revision; undefined when helm printed no time. */
  updated: Date | undefined;
  /** One of HELM_STATUSES; kept as printed, so a status a later helm adds is shown, not dropped. */
  status: string;
  /** `<chart name>-<chart version>` */
  chart: string;
  appVersion: string;
  description: string;
}

// Text fields come from the cluster (a failed revision's description quotes an API error): no
// escape sequence of them reaches a terminal.
const text = z
  .string()
  .nullish()
  .transform((value) => stripTerminalControls(value ?? ''));

const HistoryRow = z.object({
  revision: z.number().int().positive(),
  updated: z.string().nullish(),
  status: text,
  chart: text,
  app_version: text,
  description: text,
});

const ListRow = z.object({
  name: z.string(),
  namespace: z.string().nullish(),
  // A string in both versions' `list` (strconv.Itoa), a number in the others' JSON: either is read.
  revision: z.union([z.string(), z.number()]),
  status: text,
});

function parseJson(json: string, what: string): unknown {
  try {
    // helm prints nothing at all for an empty list in some versions, `[]` or `null` in others.
    return json.trim() === '' ? [] : (JSON.parse(json) as unknown);
  } catch (error) {
    throw new UserError(`${what} did not print JSON`, { hint: 'Run it by hand to see what it prints; helm 3.1 or newer is needed for -o json.', cause: error });
  }
}

function timeOf(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** `helm history RELEASE -o json` → its revisions, oldest first. */
export function parseHistory(json: string): HelmRevision[] {
  const rows = z.array(HistoryRow).nullable().safeParse(parseJson(json, 'helm history -o json'));
  if (!rows.success) throw new UserError(`helm history -o json printed rows this program does not understand: ${rows.error.issues[0]?.message ?? 'unexpected shape'}`, { hint: 'Run `helm history RELEASE -n NAMESPACE -o json` by hand to see them.' });
  return (rows.data ?? [])
    .map((row) => ({ revision: row.revision, updated: timeOf(row.updated), status: row.status, chart: row.chart, appVersion: row.app_version, description: row.description }))
    .sort((a, b) => a.revision - b.revision);
}

/** `helm list -o json` → the status of `release` in it, undefined when it is not listed. */
export function listedStatus(json: string, release: string): { revision: number; status: string } | undefined {
  const rows = z.array(ListRow).nullable().safeParse(parseJson(json, 'helm list -o json'));
  if (!rows.success) throw new UserError(`helm list -o json printed rows this program does not understand: ${rows.error.issues[0]?.message ?? 'unexpected shape'}`, { hint: 'Run `helm list -n NAMESPACE -o json` by hand to see them.' });
  // --filter is a regular expression; the name is compared exactly here all the same.
  const row = (rows.data ?? []).find((candidate) => candidate.name === release);
  return row ? { revision: Number(row.revision), status: row.status } : undefined;
}

/** How a pending release is settled. */
export type HelmRecovery =
  /** `helm rollback RELEASE <to.revision>`: back to the last revision that was deployed. */
  | { kind: 'rollback'; pending: HelmRevision; to: HelmRevision }
  /** `helm uninstall RELEASE`: no revision was ever deployed (the first install never completed). */
  | { kind: 'uninstall'; pending: HelmRevision };

/**
 * The recovery for a release whose newest revision is pending, undefined when it is not pending.
 * The rollback target is the newest earlier revision helm still marks `deployed` (a killed upgrade
 * or rollback leaves the one before it so: helm supersedes it only at the end), else the newest
 * `superseded` one (it was deployed once); with neither, nothing ever worked and the release goes.
 */
export function recoveryFor(history: readonly HelmRevision[]): HelmRecovery | undefined {
  const sorted = [...history].sort((a, b) => a.revision - b.revision);
  const pending = sorted.at(-1);
  if (!pending || !isPendingStatus(pending.status)) return undefined;
  const earlier = sorted.slice(0, -1).reverse();
  const to = earlier.find((row) => row.status === 'deployed') ?? earlier.find((row) => row.status === 'superseded');
  return to ? { kind: 'rollback', pending, to } : { kind: 'uninstall', pending };
}

/** Where the release is and which kube context reaches it: what every command shown names. */
export interface ReleaseRef {
  release: string;
  namespace: string;
  context: string;
}

/** A value as the user would type it: bare when it is one plain word, else shell-quoted. */
function word(value: string): string {
  return /^[A-Za-z0-9._:/@=+-]+$/.test(value) ? value : shellQuote(value);
}

/** The helm command that settles the release, as the user would run it by hand. */
export function recoveryCommand(recovery: HelmRecovery, ref: ReleaseRef): string {
  const where = `-n ${word(ref.namespace)} --kube-context ${word(ref.context)}`;
  return recovery.kind === 'rollback' ? `helm rollback ${word(ref.release)} ${recovery.to.revision} ${where}` : `helm uninstall ${word(ref.release)} ${where}`;
}

/** `2025-06-01 10:02:03Z`: helm's time to the second, in UTC. */
export function formatUpdated(at: Date | undefined): string {
  return at ? `${at.toISOString().slice(0, 19).replace('T', ' ')}Z` : '-';
}

export const HISTORY_COLUMNS = ['REVISION', 'UPDATED', 'STATUS', 'CHART', 'DESCRIPTION'];

/** The newest `max` revisions as table rows (the columns of `helm history`, app version left out). */
export function historyRows(history: readonly HelmRevision[], max = 5): string[][] {
  return history.slice(-max).map((row) => [String(row.revision), formatUpdated(row.updated), row.status, row.chart, row.description]);
}

/** The same rows as lines, for a dialog or a terminal question. */
export function historyLines(history: readonly HelmRevision[], max = 5): string[] {
  const rows = [HISTORY_COLUMNS, ...historyRows(history, max)];
  const widths = HISTORY_COLUMNS.slice(0, -1).map((_, index) => Math.max(...rows.map((row) => (row[index] ?? '').length)));
  return rows.map((row) => row.map((cell, index) => (index < widths.length ? cell.padEnd(widths[index] ?? 0) : cell)).join('  ').trimEnd());
}

/** What the recovery does, in one sentence. */
export function recoveryEffect(recovery: HelmRecovery, release: string): string {
  return recovery.kind === 'rollback'
    ? `rolls ${release} back to revision ${recovery.to.revision} (${recovery.to.chart}, the last one deployed), then installs it again as usual`
    : `uninstalls ${release}, whose first install never completed (what it created goes, the chart's CRDs with it), then installs it again as usual`;
}

/**
 * The release is pending: helm would refuse the upgrade. Carries the history it was read from and
 * the recovery, so a caller (the TUI's question, `setup --recover-helm`) can offer it.
 */
export class HelmReleasePendingError extends UserError {
  readonly ref: ReleaseRef;
  readonly history: readonly HelmRevision[];
  readonly recovery: HelmRecovery;

  constructor(ref: ReleaseRef, history: readonly HelmRevision[], recovery: HelmRecovery, options: { cause?: unknown } = {}) {
    const { pending } = recovery;
    const state =
      recovery.kind === 'rollback'
        ? `the last deployed revision is ${recovery.to.revision} (${recovery.to.chart})`
        : `no revision was ever deployed`;
    super(
      `helm release ${ref.namespace}/${ref.release} is left ${pending.status} at revision ${pending.revision} (${pending.chart}, since ${formatUpdated(pending.updated)}: "${pending.description}"); ${state}. A helm stopped before it finished leaves it so, and helm refuses every upgrade until it is settled`,
      {
        hint: `If no helm is working on this release now: ${recoveryCommand(recovery, ref)}, then run the step again; or let this program do that and go on (setup --recover-helm, or answer yes in the interface). helm history ${word(ref.release)} -n ${word(ref.namespace)} lists the revisions.`,
        ...(options.cause === undefined ? {} : { cause: options.cause }),
      },
    );
    this.ref = ref;
    this.history = history;
    this.recovery = recovery;
  }
}

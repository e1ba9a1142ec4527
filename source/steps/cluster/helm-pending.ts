/**
 * cluster.eso-install and a helm release left pending: a helm stopped before it finished (killed,
 * its SSH session dropped, the API hanging through its SIGTERM cleanup) leaves the record
 * `pending-install`/`pending-upgrade`, and helm then refuses every upgrade ("another operation
 * (install/upgrade/rollback) is in progress"). The record is read before `upgrade --install` and
 * again when it fails, from helm's JSON (services/helm-release.ts). A pending release is shown (its
 * history as a table) and settled — rolled back to the last deployed revision, or uninstalled when
 * the first install never completed — only when the user said so: yes to the question, or
 * `setup --recover-helm`. Otherwise nothing is changed and the step fails with the command to run.
 *
 * Asking matters because "pending" is also what a helm that is running right now looks like (in
 * another terminal, a CI job): settling it then would break that operation. The question says when
 * the revision was last written, which tells a stale record from a live one.
 */
import { InputError, UserError } from '../../core/errors.js';
import type { StepContext } from '../../core/step.js';
import type { Helm } from '../../services/helm.js';
import {
  HelmReleasePendingError,
  HISTORY_COLUMNS,
  historyLines,
  historyRows,
  recoveryCommand,
  recoveryEffect,
  recoveryFor,
  type HelmRevision,
  type ReleaseRef,
} from '../../services/helm-release.js';

export interface SettleOptions {
  /** `setup --recover-helm`: settle without asking. */
  recover: boolean;
  /** --wait --timeout of the rollback or uninstall, in seconds. */
  waitSeconds: number;
}

/** `3 min`, `2 h`, `4 days`: how long ago helm last wrote the pending revision. */
export function ageOf(at: Date | undefined, now = Date.now()): string | undefined {
  if (!at) return undefined;
  const minutes = Math.max(0, Math.round((now - at.getTime()) / 60_000));
  if (minutes < 1) return 'less than a minute';
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

function pendingOf(ref: ReleaseRef, history: readonly HelmRevision[] | undefined, cause?: unknown): HelmReleasePendingError | undefined {
  const recovery = history ? recoveryFor(history) : undefined;
  return history && recovery ? new HelmReleasePendingError(ref, history, recovery, cause === undefined ? {} : { cause }) : undefined;
}

/** The history on screen (status pane, stderr) and the finding in the log. */
function show(ctx: StepContext, pending: HelmReleasePendingError): void {
  const { ref, history, recovery } = pending;
  ctx.log.warn(`helm release ${ref.namespace}/${ref.release} is ${recovery.pending.status} at revision ${recovery.pending.revision}; to settle it: ${recoveryCommand(recovery, ref)}`);
  ctx.present({ kind: 'table', title: `helm history ${ref.release} -n ${ref.namespace}`, columns: HISTORY_COLUMNS, rows: historyRows(history) });
}

/** Yes only when the user answered yes; a run with no one to ask (no terminal, --yes) is a no. */
async function confirmRecovery(ctx: StepContext, pending: HelmReleasePendingError): Promise<boolean> {
  const { ref, history, recovery } = pending;
  const age = ageOf(recovery.pending.updated);
  const detail = [
    ...historyLines(history),
    '',
    `Yes ${recoveryEffect(recovery, ref.release)}: ${recoveryCommand(recovery, ref)}`,
    `Only if no helm is working on this release now${age ? ` (revision ${recovery.pending.revision} was last written ${age} ago)` : ''}.`,
  ].join('\n');
  try {
    return await ctx.prompt.confirm(`Settle the helm release ${ref.namespace}/${ref.release}, left ${recovery.pending.status} at revision ${recovery.pending.revision}?`, { defaultValue: false, detail });
  } catch (failure) {
    // No terminal to ask in: what the step reports is the pending release and its way out, not
    // the missing terminal.
    if (failure instanceof InputError) return false;
    throw failure;
  }
}

/**
 * Before `upgrade --install`: returns at once when the release is not pending (or does not exist);
 * a pending one is settled when allowed, else it is the step's error (HelmReleasePendingError).
 */
export async function settlePendingRelease(ctx: StepContext, helm: Helm, ref: ReleaseRef, options: SettleOptions): Promise<void> {
  const pending = pendingOf(ref, await helm.pendingHistory(ref.release, ref.namespace));
  if (!pending) return;
  show(ctx, pending);
  if (!options.recover && !(await confirmRecovery(ctx, pending))) throw pending;
  const { recovery } = pending;
  ctx.log.warn(`settling the pending release (${options.recover ? '--recover-helm' : 'confirmed'}): ${recoveryCommand(recovery, ref)}`);
  if (recovery.kind === 'rollback') await helm.rollback(ref.release, ref.namespace, recovery.to.revision, options.waitSeconds);
  else await helm.uninstall(ref.release, ref.namespace, options.waitSeconds);
  // Read back as everything else is: settled means helm no longer holds a pending record.
  const still = pendingOf(ref, await helm.pendingHistory(ref.release, ref.namespace));
  if (still) {
    show(ctx, still);
    throw still;
  }
}

/**
 * After `upgrade --install` failed: when the release is pending now (helm refused because another
 * operation holds it, or this helm was stopped before it recorded the end), that is the error, with
 * its recovery; any other failure is helm's own. A cancelled run is never looked into.
 */
export async function explainUpgradeFailure(ctx: StepContext, helm: Helm, ref: ReleaseRef, failure: unknown): Promise<never> {
  if (failure instanceof UserError && !(failure instanceof HelmReleasePendingError) && !ctx.signal.aborted) {
    const history = await helm.pendingHistory(ref.release, ref.namespace).catch(() => undefined);
    const pending = pendingOf(ref, history, failure);
    if (pending) {
      show(ctx, pending);
      throw pending;
    }
  }
  throw failure;
}

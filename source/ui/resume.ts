/**
 * Where a setup stands according to the profile (its saved progress and lastRun), read when the TUI
 * starts: which screen opens first, which step is selected, and the line that says what happened
 * last time. The saved progress is for display only (the checks are the truth), so these decide
 * nothing but what the user sees first; the home screen's live status read confirms it.
 */
import type { StepInfo } from '../core/step.js';
import type { Profile } from '../profile/schema.js';

/** Every step of the plan done in the saved progress, and the last run ended ok. */
export function setupComplete(profile: Profile, steps: readonly Pick<StepInfo, 'id'>[]): boolean {
  if (steps.length === 0) return false;
  if (profile.lastRun?.result !== 'ok') return false;
  return steps.every((step) => profile.progress[step.id]?.state === 'done');
}

/** The first step of the plan that the saved progress does not record as done. */
export function firstUnfinishedStep(profile: Profile, steps: readonly Pick<StepInfo, 'id'>[]): string | undefined {
  return steps.find((step) => profile.progress[step.id]?.state !== 'done')?.id;
}

/** The step an interrupted run was in: the one recorded as running (the newest, should there be several). */
function interruptedStep(profile: Profile): string | undefined {
  let found: { id: string; at: string } | undefined;
  for (const [id, progress] of Object.entries(profile.progress)) {
    if (progress.state === 'running' && (!found || progress.at > found.at)) found = { id, at: progress.at };
  }
  return found?.id ?? profile.lastRun?.failedStep;
}

/**
 * One line about the last setup run when it did not finish: `last run failed at <title>: <error>`,
 * `last run was interrupted during <title>` (no end recorded: a crash, power cut or dropped SSH
 * session), `last run was cancelled during <title>`. Undefined when it ended ok (or never ran).
 */
export function lastRunMessage(profile: Profile, steps: readonly StepInfo[]): string | undefined {
  const last = profile.lastRun;
  if (!last) return undefined;
  const title = (id: string | undefined): string | undefined => (id === undefined ? undefined : (steps.find((step) => step.id === id)?.title ?? id));
  if (last.result === undefined) {
    const during = title(interruptedStep(profile));
    return during ? `last run was interrupted during ${during}` : 'last run was interrupted';
  }
  if (last.result === 'failed') {
    const at = title(last.failedStep);
    const error = last.failedStep ? profile.progress[last.failedStep]?.error : undefined;
    return `last run failed at ${at ?? 'a step'}${error ? `: ${error}` : ''}`;
  }
  if (last.result === 'cancelled') {
    const during = title(last.failedStep ?? interruptedStep(profile));
    return during ? `last run was cancelled during ${during}` : 'last run was cancelled';
  }
  return undefined;
}

/**
 * Starts and stops runs of the plan with the real runner. Step events go to the Setup reducer;
 * log lines go to the LogBuffer (and the log file), never through React state, so a chatty command
 * costs the UI only the LogPane's throttled re-renders.
 */
import { useCallback, useEffect, useRef, type Dispatch } from 'react';
import { describeError } from '../../core/errors.js';
import { runPlan } from '../../core/runner.js';
import type { RunMode, RunnerEvent } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import type { AppDependencies } from '../deps.js';
import type { DialogPrompter } from '../prompter.js';
import type { SetupAction } from '../state/setup-state.js';

interface ActiveRun {
  controller: AbortController;
  finished: Promise<void>;
}

export interface RunController {
  /** Runs the plan; `only`: just the steps with these ids (e.g. the unseal step on its own). */
  start(mode: RunMode, only?: readonly string[]): void;
  /** Aborts the running plan (the runner records the step as cancelled and stops). */
  cancel(): void;
  /** Aborts and waits for the runner to settle (progress saved, services closed), at most `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
  isRunning(): boolean;
}

export function useRunController(
  deps: AppDependencies,
  prompter: DialogPrompter,
  dispatch: Dispatch<SetupAction>,
  onRunStarted: () => void,
): RunController {
  const active = useRef<ActiveRun | undefined>(undefined);
  const latest = useRef({ deps, prompter, dispatch, onRunStarted });
  latest.current = { deps, prompter, dispatch, onRunStarted };

  const start = useCallback((mode: RunMode, only?: readonly string[]) => {
    if (active.current) return;
    const { deps, prompter, dispatch, onRunStarted } = latest.current;
    const controller = new AbortController();
    // Called by the runner, which swallows whatever this throws (core/runner.ts emit): a UI bug can
    // lose an event's display, never the run. Nothing here renders: the buffer's listeners and the
    // reducer only schedule React work, and render errors are caught by the screens' boundaries.
    const onEvent = (event: RunnerEvent): void => {
      if (event.type === 'log') {
        // The log file first: it is the record, and must not depend on the pane's listeners.
        deps.onLogLine?.(event.line);
        deps.logBuffer.push(event.line);
      } else {
        dispatch({ type: 'runner-event', event });
      }
    };
    const crashed = (error: unknown): void => {
      const { message, hint } = describeError(error);
      dispatch({
        type: 'run-crashed',
        message: deps.redactor.redact(message),
        ...(hint === undefined ? {} : { hint: deps.redactor.redact(hint) }),
      });
    };
    // Runs use the profile as saved, re-read now: the form may hold unsaved edits, and the file may
    // have gained a pinned host key or progress since it was loaded.
    let runProfile: Profile;
    try {
      if (!deps.store.exists(deps.profileName)) {
        dispatch({
          type: 'run-crashed',
          message: `profile "${deps.profileName}" is not saved yet`,
          hint: 'Fill in the Profile screen (tab) and press s to save it, then run again.',
        });
        return;
      }
      runProfile = deps.store.load(deps.profileName);
    } catch (error) {
      crashed(error);
      return;
    }
    dispatch({ type: 'run-requested', mode });
    onRunStarted();
    // SIGTERM / SIGHUP while running: abort, let the runner record the step, close the services.
    const unregister = deps.cleanup?.add('stop the running plan', async () => {
      controller.abort();
      prompter.cancelAll();
      await finished;
    });
    const finished = (async (): Promise<void> => {
      let services: ReturnType<AppDependencies['openServices']> | undefined;
      try {
        const full = deps.createPlan(runProfile);
        const plan = only ? { steps: full.steps.filter((step) => only.includes(step.id)) } : full;
        services = deps.openServices(runProfile, prompter);
        const env = {
          profileName: deps.profileName,
          profile: runProfile,
          services,
          prompt: prompter,
          redactor: deps.redactor,
          ...(deps.progress === undefined ? {} : { progress: deps.progress }),
        };
        await runPlan(plan, env, { mode, signal: controller.signal, onEvent });
      } catch (error) {
        crashed(error);
      } finally {
        prompter.cancelAll();
        await services?.close().catch(() => undefined);
        active.current = undefined;
        unregister?.();
      }
    })();
    active.current = { controller, finished };
  }, []);

  const cancel = useCallback(() => {
    const run = active.current;
    if (!run || run.controller.signal.aborted) return;
    latest.current.dispatch({ type: 'cancel-requested' });
    run.controller.abort();
    latest.current.prompter.cancelAll();
  }, []);

  const stop = useCallback(
    async (timeoutMs: number) => {
      const run = active.current;
      if (!run) return;
      cancel();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([run.finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      if (timer) clearTimeout(timer);
    },
    [cancel],
  );

  // Unmounting (quit, signal) must never leave a run going in the background.
  useEffect(
    () => () => {
      active.current?.controller.abort();
    },
    [],
  );

  return { start, cancel, stop, isRunning: () => active.current !== undefined };
}

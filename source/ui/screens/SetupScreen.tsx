/**
 * The Setup screen: the plan's steps (left), where things stand (right) and the live log (below).
 * `enter`/`s` runs the setup, `c` runs the checks only; the log follows new lines until the user
 * scrolls or presses `f`. A table a step presents (the self-test) replaces the log pane when it
 * arrives; `v` switches between the two. Each pane has its own error boundary: one that cannot
 * draw an event (a log line, a status) says so in its place while the others go on.
 */
import { Box } from 'ink';
import { useCallback, type Dispatch } from 'react';
import type { LogBuffer } from '../../core/log-buffer.js';
import { serverOf } from '../../core/server.js';
import type { RunMode } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import { LogPane, logWindowTop } from '../components/LogPane.js';
import { PaneTitle } from '../components/PaneTitle.js';
import { RenderBoundary } from '../components/RenderBoundary.js';
import { StatusPane } from '../components/StatusPane.js';
import { StepList } from '../components/StepList.js';
import { StepViewTable } from '../components/StepViewTable.js';
import { fit, sanitize } from '../components/text.js';
import { useKeyHandler } from '../hooks/keys.js';
import { actionFor, SETUP_KEYS, type KeyPress } from '../keymap.js';
import { setupLayout } from '../layout.js';
import type { SetupAction, SetupState } from '../state/setup-state.js';

/** The step `u` runs on its own (steps/vault/unseal.ts UNSEAL_STEP_ID; not imported: the UI loads no step code). */
const UNSEAL_STEP = 'vault.unseal';

export interface SetupScreenProps {
  state: SetupState;
  dispatch: Dispatch<SetupAction>;
  startRun(mode: RunMode, only?: readonly string[]): void;
  logBuffer: LogBuffer;
  profileName: string;
  profile: Profile;
  unsavedChanges: boolean;
  width: number;
  height: number;
}

export function SetupScreen({ state, dispatch, startRun, logBuffer, profileName, profile, unsavedChanges, width, height }: SetupScreenProps) {
  const layout = setupLayout(height, width);
  const logLines = Math.max(0, layout.logHeight - 1);

  const handle = useCallback(
    (press: KeyPress): boolean => {
      const action = actionFor(SETUP_KEYS, press);
      if (!action) return false;
      const top = logWindowTop(logBuffer, state.follow, state.logTop, logLines);
      const oldest = logBuffer.total - logBuffer.size;
      const scrollTo = (target: number, follow = false): void => {
        dispatch({ type: 'log-scrolled', top: Math.max(oldest, Math.min(target, Math.max(oldest, logBuffer.total - logLines))), follow });
      };
      const page = Math.max(1, logLines - 1);
      switch (action) {
        case 'run':
          if (state.run === 'idle') startRun('apply');
          return true;
        case 'check':
          if (state.run === 'idle') startRun('check');
          return true;
        case 'unseal':
          // Only when the plan has the unseal step (the vault phase); otherwise the key is not ours.
          if (!state.steps.some((row) => row.id === UNSEAL_STEP)) return false;
          if (state.run === 'idle') startRun('apply', [UNSEAL_STEP]);
          return true;
        case 'follow':
          dispatch({ type: 'follow-toggled' });
          return true;
        case 'toggle-view':
          // Without a table there is nothing to switch to: the key falls through.
          if (!state.view) return false;
          dispatch({ type: 'lower-pane-toggled' });
          return true;
        case 'scroll-up':
          scrollTo(top - 1);
          return true;
        case 'page-up':
          scrollTo(top - page);
          return true;
        case 'scroll-down':
          if (!state.follow) scrollTo(top + 1);
          return true;
        case 'page-down':
          if (!state.follow) scrollTo(top + page);
          return true;
        case 'oldest':
          scrollTo(oldest);
          return true;
        case 'newest':
          scrollTo(logBuffer.total, true);
          return true;
      }
    },
    [dispatch, logBuffer, logLines, startRun, state.follow, state.logTop, state.run, state.view],
  );
  useKeyHandler('screen', handle);

  const stepsNote = state.mode && state.run !== 'idle' ? (state.mode === 'check' ? 'checking' : 'applying') : undefined;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Box height={layout.topHeight} width={width} overflow="hidden">
        <Box flexDirection="column" width={layout.stepsWidth} height={layout.topHeight} overflow="hidden">
          <PaneTitle title="Steps" width={layout.stepsWidth} {...(stepsNote ? { note: stepsNote } : {})} />
          <RenderBoundary part="Step list" width={layout.stepsWidth} height={Math.max(0, layout.topHeight - 1)}>
            <StepList steps={state.steps} height={Math.max(0, layout.topHeight - 1)} width={layout.stepsWidth} selectedId={state.selectedStepId} server={serverOf(profile)} />
          </RenderBoundary>
        </Box>
        <Box width={1} />
        <Box flexDirection="column" width={layout.statusWidth} height={layout.topHeight} overflow="hidden">
          <PaneTitle title="Status" width={layout.statusWidth} />
          <RenderBoundary part="Status pane" width={layout.statusWidth} height={Math.max(0, layout.topHeight - 1)}>
            <StatusPane
              profileName={profileName}
              profile={profile}
              setup={state}
              unsavedChanges={unsavedChanges}
              height={Math.max(0, layout.topHeight - 1)}
              width={layout.statusWidth}
            />
          </RenderBoundary>
        </Box>
      </Box>
      {layout.logHeight > 0 && state.view && state.lowerPane === 'view' ? (
        <Box flexDirection="column" height={layout.logHeight} width={width} overflow="hidden">
          <PaneTitle title={sanitize(state.view.view.title)} width={width} note="v shows the log" />
          <RenderBoundary part="Table" width={width} height={logLines}>
            <StepViewTable view={state.view.view} height={logLines} width={width} />
          </RenderBoundary>
        </Box>
      ) : layout.logHeight > 0 ? (
        <Box flexDirection="column" height={layout.logHeight} width={width} overflow="hidden">
          <PaneTitle
            title="Log"
            width={width}
            note={`${state.follow ? 'following' : 'paused (f follows)'}${state.view ? ` - v shows ${fit(sanitize(state.view.view.title), 30)}` : ''}`}
          />
          <RenderBoundary part="Log pane" width={width} height={logLines}>
            <LogPane buffer={logBuffer} height={logLines} width={width} follow={state.follow} logTop={state.logTop} />
          </RenderBoundary>
        </Box>
      ) : null}
    </Box>
  );
}

/**
 * The TUI's root: providers (theme, dependencies, keyboard), the state slices (app, home, setup,
 * profile form), the run controller, and the frame: header, the current screen (or a dialog), footer.
 *
 * The first screen: Profile when there is no saved profile; Home when the saved progress says the
 * setup is complete (every step done, the last run ok) — unless the first live status read finds
 * Vault not initialised, which sends the user to Setup; otherwise Setup, with the first unfinished
 * step selected and a line saying how the last run ended.
 */
import { Box, Text, useApp } from 'ink';
import { useCallback, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from 'react';
import { describeError } from '../core/errors.js';
import { serverOf } from '../core/server.js';
import type { StepInfo } from '../core/step.js';
import { stepInfo } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import { vaultApiAddress } from '../steps/host/layout.js';
import { Dialog } from './components/Dialog.js';
import { Header } from './components/Header.js';
import { KeyHints } from './components/KeyHints.js';
import { RenderBoundary } from './components/RenderBoundary.js';
import { DependenciesContext, type AppDependencies } from './deps.js';
import { KeyboardProvider, useKeyHandler } from './hooks/keys.js';
import { useHome } from './hooks/useHome.js';
import { useRunController } from './hooks/useRunController.js';
import { useTerminalSize } from './hooks/useTerminalSize.js';
import { useClusterStatus } from './hooks/useClusterStatus.js';
import { useVaultStatus } from './hooks/useVaultStatus.js';
import {
  actionFor,
  DIALOG_KEYS,
  FIELD_EDIT_KEYS,
  GLOBAL_KEYS,
  HELP_KEYS,
  HOME_KEYS,
  PROFILE_KEYS,
  REVEAL_KEYS,
  SETUP_KEYS,
  UNSEAL_KEYS,
  type KeyBinding,
  type KeyPress,
} from './keymap.js';
import { frameLayout } from './layout.js';
import { DialogPrompter, PromptDialog, unsealProgressOf, usePromptRequest, type UnsealProgress } from './prompter.js';
import { HelpScreen } from './screens/HelpScreen.js';
import { HomeScreen } from './screens/HomeScreen.js';
import { ProfileScreen } from './screens/ProfileScreen.js';
import { RevealScreen } from './screens/RevealScreen.js';
import { SetupScreen } from './screens/SetupScreen.js';
import { RenderRetryContext } from './render-retry.js';
import { setupComplete } from './resume.js';
import { appReducer, initialAppState, type AppState } from './state/app-state.js';
import { homeReducer, initialHomeState, type HomeState } from './state/home-state.js';
import { initialProfileFormState, isDirty, profileFormReducer, type ProfileFormState } from './state/profile-form.js';
import { initialSetupState, setupReducer, type SetupState } from './state/setup-state.js';
import { createTheme, ThemeContext, type Theme } from './theme.js';

export interface InitialState {
  app?: AppState;
  home?: HomeState;
  setup?: SetupState;
  profile?: ProfileFormState;
}

export interface AppProps {
  deps: AppDependencies;
  theme?: Theme;
  /** Start from a given state (tests render any screen in any state this way). */
  initialState?: InitialState;
  /** How long quitting waits for a cancelled run to settle before leaving anyway. */
  stopTimeoutMs?: number;
  /**
   * How often the status readings poll (defaults: Vault 5 s, Home 5 s, cluster 15 s). Tests shorten
   * them so that a poll is seen without waiting out the product's interval on a loaded machine.
   */
  statusIntervals?: StatusIntervals;
}

export interface StatusIntervals {
  vaultMs?: number;
  homeMs?: number;
  clusterMs?: number;
}

export function App({ deps, theme, initialState, stopTimeoutMs = 5000, statusIntervals = {} }: AppProps) {
  const resolvedTheme = useMemo(() => theme ?? createTheme({ unicode: false, color: false }), [theme]);
  return (
    <ThemeContext.Provider value={resolvedTheme}>
      <DependenciesContext.Provider value={deps}>
        <KeyboardProvider>
          <Shell deps={deps} initialState={initialState} stopTimeoutMs={stopTimeoutMs} intervals={statusIntervals} />
        </KeyboardProvider>
      </DependenciesContext.Provider>
    </ThemeContext.Provider>
  );
}

/** The steps of the plan for `profile`, or none (with the reason) when the plan cannot be built. */
function planSteps(deps: AppDependencies, profile: Profile): { steps: StepInfo[]; error?: string } {
  try {
    return { steps: deps.createPlan(profile).steps.map(stepInfo) };
  } catch (error) {
    return { steps: [], error: describeError(error).message };
  }
}

function Shell({ deps, initialState, stopTimeoutMs, intervals }: { deps: AppDependencies; initialState: InitialState | undefined; stopTimeoutMs: number; intervals: StatusIntervals }) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const layout = frameLayout(size);

  const [startPlan] = useState(() => planSteps(deps, deps.profile));
  const [app, dispatchApp] = useReducer(appReducer, undefined, () => {
    if (initialState?.app) return initialState.app;
    if (!deps.profileExists) return initialAppState('profile');
    return initialAppState(setupComplete(deps.profile, startPlan.steps) ? 'home' : 'setup');
  });
  const [home, dispatchHome] = useReducer(homeReducer, initialState?.home ?? initialHomeState());
  const [form, dispatchForm] = useReducer(profileFormReducer, initialState?.profile ?? initialProfileFormState(deps.profile, deps.profileExists));
  const [setup, dispatchSetup] = useReducer(setupReducer, undefined, () => {
    if (initialState?.setup) return initialState.setup;
    const { steps, error } = startPlan;
    const state = initialSetupState(steps, deps.profile);
    return error ? { ...state, last: { mode: 'apply' as const, result: 'crashed' as const, message: error } } : state;
  });
  const [prompter] = useState(() => new DialogPrompter(deps.redactor));
  const request = usePromptRequest(prompter);
  // Bumped by ctrl+l: every part that could not be drawn tries again (components/RenderBoundary.tsx).
  const [renderRetry, bumpRenderRetry] = useReducer((generation: number) => generation + 1, 0);

  const profile = form.saved;
  // Named wherever the screens speak of the server: the saved profile's, until a save switches it.
  const server = serverOf(profile);
  const unsaved = isDirty(form);
  const onRunStarted = useCallback(() => {
    dispatchApp({ type: 'run-started' });
    // The run's own summary replaces the line about the last seal/snapshot.
    dispatchHome({ type: 'message', message: undefined });
  }, []);
  const runs = useRunController(deps, prompter, dispatchSetup, onRunStarted);
  const running = setup.run !== 'idle';
  useVaultStatus({
    read: deps.vaultStatus,
    profileName: deps.profileName,
    profile,
    active: app.screen === 'setup' && !app.quitting,
    refresh: setup.vaultRefresh,
    dispatch: dispatchSetup,
    intervalMs: intervals.vaultMs,
  });

  useClusterStatus({
    read: deps.clusterStatus,
    profileName: deps.profileName,
    profile,
    setup,
    active: app.screen === 'setup' && !app.quitting,
    dispatch: dispatchSetup,
    intervalMs: intervals.clusterMs,
  });

  const homeControls = useHome({ deps, prompter, profile, home, dispatch: dispatchHome, active: app.screen === 'home' && !app.quitting, runRefresh: setup.vaultRefresh, intervalMs: intervals.homeMs });

  // The saved progress chose Home; the first live reading confirms it. Vault not initialised means
  // the setup is not complete whatever the profile says: Setup is where to go then.
  const confirmed = useRef(false);
  useEffect(() => {
    if (confirmed.current || !home.status) return;
    confirmed.current = true;
    if (home.status.state === 'uninitialized' && app.screen === 'home') dispatchApp({ type: 'show', screen: 'setup' });
  }, [home.status, app.screen]);

  const onSaved = useCallback(
    (saved: Profile) => {
      const { steps } = planSteps(deps, saved);
      dispatchSetup({ type: 'plan-loaded', steps, profile: saved });
    },
    [deps],
  );

  // Quitting: stop the run (the runner records where it stopped), then unmount.
  useEffect(() => {
    if (!app.quitting) return;
    let cancelled = false;
    void runs.stop(stopTimeoutMs).then(() => {
      if (!cancelled) exit();
    });
    return () => {
      cancelled = true;
    };
  }, [app.quitting, exit, runs, stopTimeoutMs]);

  const handleGlobal = useCallback(
    (press: KeyPress): boolean => {
      const action = actionFor(GLOBAL_KEYS, press);
      switch (action) {
        case 'interrupt':
          if (running && !app.interruptArmed) runs.cancel();
          dispatchApp({ type: 'interrupt', running });
          return true;
        case 'quit':
          dispatchApp({ type: 'quit-requested', reason: running ? 'running' : unsaved ? 'unsaved' : undefined });
          return true;
        case 'help':
          dispatchApp({ type: 'toggle-help' });
          return true;
        case 'back':
          dispatchApp({ type: 'back' });
          return true;
        case 'next-screen':
          dispatchApp({ type: 'cycle-screen', direction: 1 });
          return true;
        case 'previous-screen':
          dispatchApp({ type: 'cycle-screen', direction: -1 });
          return true;
        case 'redraw':
          bumpRenderRetry();
          return true;
        case undefined:
          return false;
      }
    },
    [app.interruptArmed, running, runs, unsaved],
  );
  useKeyHandler('global', handleGlobal);

  const handleQuitDialog = useCallback((press: KeyPress): boolean => {
    if (press.name === 'ctrl+c') return false;
    const action = actionFor(DIALOG_KEYS, press);
    if (action === 'yes' || press.name === 'q') dispatchApp({ type: 'quit-confirmed' });
    else if (action === 'no' || action === 'cancel' || action === 'submit') dispatchApp({ type: 'quit-dismissed' });
    return true;
  }, []);
  // The Reveal screen outranks the quit question: nothing may hide the keys before they are acknowledged.
  const revealing = request?.kind === 'reveal';
  useKeyHandler('dialog', handleQuitDialog, app.confirmQuit !== false && !revealing);

  const { vaultUnsealReset } = deps;
  const onUnsealReset = useMemo(
    () =>
      vaultUnsealReset
        ? async (): Promise<UnsealProgress> => {
            const status = await vaultUnsealReset(deps.profileName, profile);
            const address = vaultApiAddress(profile);
            if (address) dispatchSetup({ type: 'vault-status', reading: { kind: 'status', address, status, at: Date.now() } });
            return { submitted: status.progress, threshold: status.t };
          }
        : undefined,
    [deps.profileName, profile, vaultUnsealReset],
  );

  let body: ReactNode;
  let footer: readonly KeyBinding[];
  // What the body is, for its error boundary: named in the failure, and its key, so that another
  // screen or another question is drawn afresh rather than inheriting the last one's failure.
  let bodyPart: { name: string; key: string };
  if (request?.kind === 'reveal') {
    bodyPart = { name: 'Reveal screen', key: `reveal-${request.id}` };
    body = (
      <RevealScreen
        key={request.id}
        reveal={request.reveal}
        onAcknowledged={() => prompter.answer(request.id, true)}
        width={layout.width}
        height={layout.bodyHeight}
      />
    );
    footer = REVEAL_KEYS;
  } else if (app.confirmQuit) {
    bodyPart = { name: 'Quit question', key: 'quit' };
    body = (
      <Dialog
        title="Quit?"
        question={
          app.confirmQuit === 'running'
            ? 'A step is running. Quit now? The step is cancelled and the next run resumes from it.'
            : 'The profile has unsaved changes. Quit without saving them?'
        }
        keys="y quit  n/esc/enter stay"
        width={layout.width}
        height={layout.bodyHeight}
      />
    );
    footer = DIALOG_KEYS;
  } else if (request) {
    bodyPart = { name: 'Question', key: `question-${request.id}` };
    body = (
      <PromptDialog
        key={request.id}
        prompter={prompter}
        request={request}
        width={layout.width}
        height={layout.bodyHeight}
        {...(onUnsealReset ? { onUnsealReset } : {})}
        serverName={server.name}
      />
    );
    footer = request.kind === 'secret' && unsealProgressOf(request.question) ? UNSEAL_KEYS : DIALOG_KEYS;
  } else if (app.screen === 'profile') {
    bodyPart = { name: 'Profile screen', key: 'profile' };
    body = <ProfileScreen state={form} dispatch={dispatchForm} onSaved={onSaved} width={layout.width} height={layout.bodyHeight} />;
    footer = form.editing !== undefined ? FIELD_EDIT_KEYS : [...PROFILE_KEYS, ...GLOBAL_KEYS];
  } else if (app.screen === 'home') {
    bodyPart = { name: 'Home screen', key: 'home' };
    body = (
      <HomeScreen home={home} dispatch={dispatchHome} setup={setup} startRun={runs.start} controls={homeControls} server={server} width={layout.width} height={layout.bodyHeight} />
    );
    const hasUnsealStep = setup.steps.some((row) => row.id === 'vault.unseal');
    // Every action key fits the footer at 80 columns; tab is in the header's tabs.
    footer = home.confirmSeal
      ? DIALOG_KEYS
      : [...HOME_KEYS.filter((binding) => binding.action !== 'unseal' || hasUnsealStep), ...GLOBAL_KEYS.filter((binding) => binding.action === 'help' || binding.action === 'quit')];
  } else if (app.screen === 'help') {
    bodyPart = { name: 'Help screen', key: 'help' };
    body = <HelpScreen server={server} width={layout.width} height={layout.bodyHeight} />;
    footer = [...HELP_KEYS, ...GLOBAL_KEYS.filter((binding) => binding.action === 'quit')];
  } else {
    bodyPart = { name: 'Setup screen', key: 'setup' };
    body = (
      <SetupScreen
        state={setup}
        dispatch={dispatchSetup}
        startRun={runs.start}
        logBuffer={deps.logBuffer}
        profileName={deps.profileName}
        profile={profile}
        unsavedChanges={unsaved}
        width={layout.width}
        height={layout.bodyHeight}
      />
    );
    const hasUnsealStep = setup.steps.some((row) => row.id === 'vault.unseal');
    footer = [...SETUP_KEYS.filter((binding) => binding.action !== 'unseal' || hasUnsealStep), ...GLOBAL_KEYS];
  }

  const notice = app.quitting ? (running ? 'Stopping the run, then quitting...' : 'Quitting...') : app.notice;
  // Header, body and footer each have their own boundary: whichever fails, the others (the footer's
  // keys above all) are still drawn, and this component, which holds the run, stays mounted.
  return (
    <RenderRetryContext.Provider value={renderRetry}>
      <Box flexDirection="column" width={layout.width} height={layout.frameHeight} overflow="hidden">
        {layout.frameHeight >= 3 ? (
          <RenderBoundary part="Header" width={layout.width} height={1}>
            <Header screen={app.screen} profileName={deps.profileName} serverName={server.name} width={layout.width} />
          </RenderBoundary>
        ) : null}
        <Box height={layout.bodyHeight} width={layout.width} overflow="hidden">
          <RenderBoundary key={bodyPart.key} part={bodyPart.name} width={layout.width} height={layout.bodyHeight}>
            {body}
          </RenderBoundary>
        </Box>
        {layout.frameHeight >= 2 ? (
          <Box height={1} width={layout.width} overflow="hidden">
            <RenderBoundary part="Key hints" width={layout.width} height={1}>
              <KeyHints bindings={footer} {...(notice ? { notice } : {})} />
            </RenderBoundary>
          </Box>
        ) : (
          <Text> </Text>
        )}
      </Box>
    </RenderRetryContext.Provider>
  );
}

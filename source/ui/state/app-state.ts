/**
 * The app-wide slice: which screen is shown, the quit confirmation, and the Ctrl+C sequence
 * (first press cancels a running step, the next one quits).
 */
export type Screen = 'home' | 'setup' | 'profile' | 'help';

/** Screens reached with tab / shift+tab, in order. Help is an overlay reached with `?`. */
export const TAB_SCREENS: readonly Screen[] = ['home', 'setup', 'profile'];

export type QuitReason = 'running' | 'unsaved';

export interface AppState {
  screen: Screen;
  /** Where `esc` / `?` returns to from help. */
  returnTo: Screen;
  /** The "quit anyway?" dialog is open, and why it asks (a run in progress, unsaved profile changes). */
  confirmQuit: false | QuitReason;
  /** Ctrl+C cancelled a run: the next Ctrl+C quits. */
  interruptArmed: boolean;
  /** Quit was decided; the app is stopping the run and unmounting. */
  quitting: boolean;
  /** One-line message for the footer area (e.g. "cancelling…"). */
  notice?: string;
}

export type AppAction =
  | { type: 'show'; screen: Screen }
  | { type: 'cycle-screen'; direction: 1 | -1 }
  | { type: 'toggle-help' }
  | { type: 'back' }
  /** `reason` set: ask first. */
  | { type: 'quit-requested'; reason: QuitReason | undefined }
  | { type: 'quit-dismissed' }
  | { type: 'quit-confirmed' }
  | { type: 'interrupt'; running: boolean }
  | { type: 'notice'; text: string | undefined }
  /** A new run started: a Ctrl+C from an earlier run must not quit this one at once. */
  | { type: 'run-started' };

export function initialAppState(screen: Screen = 'setup'): AppState {
  return { screen, returnTo: screen === 'help' ? 'setup' : screen, confirmQuit: false, interruptArmed: false, quitting: false };
}

function withoutNotice(state: AppState): AppState {
  const { notice: _notice, ...rest } = state;
  return rest;
}

export function appReducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'show':
      return { ...state, screen: action.screen, returnTo: action.screen === 'help' ? state.returnTo : action.screen };
    case 'cycle-screen': {
      const from = state.screen === 'help' ? state.returnTo : state.screen;
      const index = TAB_SCREENS.indexOf(from);
      const next = TAB_SCREENS[(index + action.direction + TAB_SCREENS.length) % TAB_SCREENS.length] ?? 'setup';
      return { ...state, screen: next, returnTo: next };
    }
    case 'toggle-help':
      return state.screen === 'help' ? { ...state, screen: state.returnTo } : { ...state, screen: 'help', returnTo: state.screen };
    case 'back':
      if (state.screen === 'help') return { ...state, screen: state.returnTo };
      if (state.screen === 'profile') return { ...state, screen: 'setup', returnTo: 'setup' };
      return state;
    case 'quit-requested':
      return action.reason ? { ...state, confirmQuit: action.reason } : { ...state, confirmQuit: false, quitting: true };
    case 'quit-dismissed':
      return { ...state, confirmQuit: false };
    case 'quit-confirmed':
      return { ...state, confirmQuit: false, quitting: true };
    case 'interrupt':
      if (state.interruptArmed || !action.running) return { ...state, confirmQuit: false, quitting: true };
      return { ...state, interruptArmed: true, notice: 'Cancelling the running step (progress is kept). Ctrl+C again quits.' };
    case 'run-started':
      return { ...withoutNotice(state), interruptArmed: false };
    case 'notice':
      return action.text === undefined ? withoutNotice(state) : { ...state, notice: action.text };
  }
}

/**
 * Starts the TUI: loads the profile (defaults for a new one), renders <App> on the alternate screen
 * and returns the exit code once the user quits or a signal ends it.
 *
 * Terminal hygiene: the app runs on the alternate screen buffer (the shell's scrollback is left as
 * it was), Ink hides the cursor and puts stdin in raw mode, and every way out — quit, SIGTERM,
 * SIGHUP (the SSH session carrying the terminal dropped), an uncaught error — goes through the
 * cleanup registry, unmounts Ink (cursor shown, raw mode off) and leaves the alternate screen.
 */
import { render } from 'ink';
import { LogBuffer } from '../core/log-buffer.js';
import { LogFile } from '../core/log-file.js';
import { Redactor } from '../core/redact.js';
import { logFile } from '../profile/paths.js';
import { defaultProfile } from '../profile/schema.js';
import { ProfileStore } from '../profile/store.js';
import { buildPlan } from '../steps/index.js';
import { openRunServices } from '../services/run-services.js';
import { App } from './App.js';
import { CleanupRegistry, signalExitCode } from './cleanup.js';
import type { AppDependencies } from './deps.js';
import { readClusterStatus } from '../services/cluster-status.js';
import { homeStatusReader, vaultStatusReader, vaultUnsealResetter } from './vault-status.js';
import { createTheme, terminalSupportsUnicode } from './theme.js';

const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export interface TuiOptions {
  profileName: string;
  color: boolean;
}

export async function runTui(options: TuiOptions): Promise<number> {
  const { profileName } = options;
  const store = new ProfileStore();
  // A broken profile file is reported by the CLI (file, line, field) before any screen is drawn.
  const profileExists = store.exists(profileName);
  const profile = profileExists ? store.load(profileName) : defaultProfile();

  const cleanup = new CleanupRegistry();
  const log = new LogFile(logFile(profileName));
  cleanup.add('close the log file', () => log.close());

  const deps: AppDependencies = {
    profileName,
    profile,
    profileExists,
    store,
    createPlan: (current) => buildPlan(current),
    openServices: (current, prompt) => openRunServices(current, prompt, { store, profileName }),
    logBuffer: new LogBuffer(),
    redactor: new Redactor(),
    progress: store.progressSink(profileName),
    onLogLine: (line) => {
      try {
        log.write(line);
      } catch {
        // A full disk must not stop the run; the log pane still shows the line.
      }
    },
    cleanup,
    vaultStatus: vaultStatusReader(),
    homeStatus: homeStatusReader(),
    clusterStatus: (_profileName, profile) => readClusterStatus(profile),
    vaultUnsealReset: vaultUnsealResetter(),
  };
  const theme = createTheme({ unicode: terminalSupportsUnicode(process.env), color: options.color });

  const stdout = process.stdout;
  let onAlternateScreen = false;
  const restoreTerminal = (): void => {
    if (!onAlternateScreen) return;
    onAlternateScreen = false;
    stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
  };
  if (stdout.isTTY) {
    stdout.write(ENTER_ALTERNATE_SCREEN);
    onAlternateScreen = true;
  }
  // Last resort (an uncaught error ends the process): never leave the user's terminal on the alternate screen.
  process.once('exit', restoreTerminal);

  // maxFps 60: Ink spaces frames with es-toolkit's throttle, which is a debounce with a maximum
  // wait: an update arriving inside the window pushes the frame back. With a 33 ms window (30 fps)
  // the spinner's 80 ms ticks and the log pane's 40 ms re-renders kept pushing each other back, and a
  // flood of log lines was drawn at ~15 frames a second with gaps of 80-130 ms. With a 17 ms window
  // each of those updates is drawn when it happens; what they cost is bounded by their own pace
  // (log pane: useThrottledSubscription), not by this cap. Measured in test/bench/logpane.tsx.
  const instance = render(<App deps={deps} theme={theme} />, { exitOnCtrlC: false, patchConsole: false, maxFps: 60 });

  let exitCode = 0;
  const onSignal = (signal: 'SIGTERM' | 'SIGHUP' | 'SIGINT'): void => {
    exitCode = signalExitCode(signal);
    void cleanup.runAll().finally(() => instance.unmount());
  };
  const onTerm = (): void => onSignal('SIGTERM');
  const onHup = (): void => onSignal('SIGHUP');
  // Once Ink has the terminal in raw mode Ctrl+C arrives as a key (cancel first, quit second); a
  // SIGINT can still come before that (Ctrl+C during start-up) or from `kill -INT`: leave cleanly.
  const onInt = (): void => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  process.on('SIGINT', onInt);

  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    process.off('SIGINT', onInt);
    await cleanup.runAll();
    instance.cleanup();
    restoreTerminal();
    process.off('exit', restoreTerminal);
  }
  return exitCode;
}

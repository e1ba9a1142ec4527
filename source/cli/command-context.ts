/**
 * What the day-2 commands (`snapshot`, `logs`, `seal`, `renew-cert`) share: the profile, a step
 * context (log lines redacted, then written to the profile's log file and to stderr), the host
 * services opened lazily, a VaultSession (the custody passphrase asked once), cancellation on
 * Ctrl+C / SIGTERM / SIGHUP (an SSH session dropping), and the root token: from custody init.json,
 * else typed (masked, in a terminal only), exactly as the vault steps get it.
 */
import { createHeadlessPrompter } from '../core/headless-prompter.js';
import { LogFile } from '../core/log-file.js';
import { Redactor } from '../core/redact.js';
import type { Prompter, StepContext } from '../core/step.js';
import { logFile } from '../profile/paths.js';
import type { Profile } from '../profile/schema.js';
import { ProfileStore } from '../profile/store.js';
import type { RunServices } from '../services/run-services.js';
import { adminToken, VaultSession } from '../steps/vault/session.js';
import type { GlobalOptions, Output } from './output.js';
import { commandServices, commandStepContext } from './status.js';

export interface CommandContext {
  profileName: string;
  profile: Profile;
  ctx: StepContext;
  prompt: Prompter;
  services: RunServices;
  session: VaultSession;
  /** Aborted by the first SIGINT/SIGTERM/SIGHUP; a second one exits at once (130). */
  signal: AbortSignal;
  /** Which signal cancelled the command, if one did. */
  cancelledBy(): NodeJS.Signals | undefined;
  /** The root token from custody, else typed (asked once). */
  rootToken(): Promise<string>;
  close(): Promise<void>;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** A second signal sooner than this after the first is the echo described in onSignal, not the user. */
const REPEAT_SIGNAL_MS = 300;

export function openCommandContext(global: GlobalOptions, output: Output, options: { command: string; assumeYes: boolean; quiet?: boolean }): CommandContext {
  const store = new ProfileStore();
  const profile = store.load(global.profile);
  const redactor = new Redactor();
  const prompt = createHeadlessPrompter({ assumeYes: options.assumeYes, registerSecret: (value) => redactor.register(value) });
  const services = commandServices(profile, global.profile, store, prompt, true);
  const log = new LogFile(logFile(global.profile));
  const controller = new AbortController();
  let cancelledBy: NodeJS.Signals | undefined;
  let cancelledAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cancelledBy !== undefined) {
      // when-exit (loaded with conf, through atomically) hooks these signals too and re-sends the
      // signal to this process as soon as it has run its own cleanup: that copy arrives within a
      // millisecond or two. Only a signal the user sends later means "stop now".
      if (Date.now() - cancelledAt >= REPEAT_SIGNAL_MS) process.exit(130);
      return;
    }
    cancelledBy = signal;
    cancelledAt = Date.now();
    controller.abort(new Error(`${signal} received`));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const s = output.errStyle;
  const ctx = commandStepContext({
    profileName: global.profile,
    profile,
    services,
    prompt,
    redactor,
    signal: controller.signal,
    onLog: (level, text) => {
      try {
        log.writeRaw(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${options.command}] ${text}`);
      } catch {
        // An unwritable log must not stop the command; stderr still shows the line.
      }
      if (level === 'debug' || (options.quiet && level === 'info')) return;
      output.err(level === 'warn' ? s.yellow(text) : level === 'error' ? s.red(text) : text);
    },
  });
  const session = new VaultSession();
  return {
    profileName: global.profile,
    profile,
    ctx,
    prompt,
    services,
    session,
    signal: controller.signal,
    cancelledBy: () => cancelledBy,
    rootToken: () => adminToken(ctx, session),
    async close() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      await services.close().catch(() => undefined);
      log.close();
    },
  };
}

/**
 * The Step contract: every action of the setup is a Step with a read-only `check` that looks at the
 * real thing (file hash, unit state, API answer) and an idempotent `apply`. The runner does
 * check → apply → check again (verify) for each step; see runner.ts.
 */
import type { Profile } from '../profile/schema.js';
import type { Transport } from '../services/host/transport.js';

export type Phase = 'host' | 'vault' | 'cluster';
export const PHASES: readonly Phase[] = ['host', 'vault', 'cluster'];

export type CheckState = 'done' | 'todo' | 'drift';

export interface Check {
  state: CheckState;
  /** One line saying what was found, e.g. `/etc/vault is 0755, want 0750`. */
  detail: string;
}

/** What a step would do, for `plan` (dry run). */
export interface Planned {
  kind: 'command' | 'file' | 'api' | 'manifest' | 'local';
  /** e.g. `useradd --system vault` or `/etc/vault/vault_main.hcl (0640 vault:vault)`. */
  summary: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  /** ms since epoch */
  at: number;
  level: LogLevel;
  /** Step id, or undefined for lines that belong to no step. */
  stepId?: string;
  /** Where the line came from, e.g. `stdout`, `stderr`, `helm`, `runner`. */
  source?: string;
  /** Already redacted: no registered secret ever reaches a LogLine. */
  text: string;
}

export interface Logger {
  info(text: string, source?: string): void;
  warn(text: string, source?: string): void;
  error(text: string, source?: string): void;
  debug(text: string, source?: string): void;
}

/** Questions a step may ask the user (TUI: a dialog; headless: flags/stdin or a clear error). */
export interface Prompter {
  /** Yes/no; `defaultValue` is used headless with --yes. */
  confirm(question: string, options?: { defaultValue?: boolean; detail?: string }): Promise<boolean>;
  /** Masked input (passwords, passphrases, unseal keys). The answer is registered as a secret. */
  secret(question: string): Promise<string>;
  /** Plain text input with validation; returns the accepted value. */
  text(question: string, options?: { defaultValue?: string; validate?: (value: string) => string | undefined }): Promise<string>;
  /**
   * Shows sensitive material ONCE (the unseal keys and root token right after init) and resolves
   * when the user acknowledged it. Callers write it to custody first: showing is never the only copy.
   * Headless: shown only when the user asked for it (--show-keys); otherwise resolves at once and
   * the caller prints where the material is kept.
   */
  revealOnce(reveal: Reveal): Promise<void>;
}

export interface Reveal {
  title: string;
  /** The sensitive lines (already registered as secrets: they are masked everywhere else). */
  lines: string[];
  /** Where the material is kept and what to do with it. */
  note: string;
  /**
   * These lines are the only complete copy (custody could not be written): every prompter shows
   * them, a headless one too whatever --show-keys says.
   */
  lastCopy?: boolean;
}

/** Something a step shows besides log lines, e.g. the self-test's result table. */
export interface StepView {
  kind: 'table';
  title: string;
  columns: string[];
  rows: string[][];
}

/**
 * Services reached lazily: a step that needs the host asks for it, so commands that never touch
 * the host (status --no-host) never load ssh2. Later phases add vault() and cluster().
 */
export interface Services {
  host(): Promise<Transport>;
}

export interface StepContext {
  /** The profile's name: custody (CA, unseal keys) is kept per profile. */
  readonly profileName: string;
  readonly profile: Profile;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly services: Services;
  readonly prompt: Prompter;
  /** Registers a secret value with the redactor: it is masked everywhere from now on. */
  registerSecret(value: string): void;
  /** Shows a view (a table) for this step in the status pane / on stderr. Cells are redacted. */
  present(view: StepView): void;
}

export interface Step {
  readonly id: string;
  readonly phase: Phase;
  readonly title: string;
  /** What apply would do, without doing it (for `plan`). */
  describe(ctx: StepContext): Planned[];
  /** Read-only look at the real state. Must not change anything. */
  check(ctx: StepContext): Promise<Check>;
  /** Brings the real state to `done`. Idempotent; honours ctx.signal. */
  apply(ctx: StepContext): Promise<void>;
}

/** The ordered steps of a run, grouped in phases (host → vault → cluster). */
export interface Plan {
  readonly steps: readonly Step[];
}

export interface StepInfo {
  id: string;
  phase: Phase;
  title: string;
}

export type StepOutcome = 'applied' | 'already-done';
export type RunMode = 'apply' | 'check';
export type PlanResult = 'ok' | 'failed' | 'cancelled' | 'drift';

/** Typed events the runner emits; the UI and the headless printer only consume these. */
export type RunnerEvent =
  | { type: 'plan-start'; mode: RunMode; steps: StepInfo[]; at: number }
  | { type: 'step-start'; stepId: string; at: number }
  | { type: 'step-checked'; stepId: string; check: Check; at: number }
  | { type: 'step-applying'; stepId: string; at: number }
  | { type: 'log'; line: LogLine }
  | { type: 'step-view'; stepId: string; view: StepView; at: number }
  | { type: 'step-done'; stepId: string; outcome: StepOutcome; check: Check; durationMs: number; at: number }
  | { type: 'step-skipped'; stepId: string; reason: string; at: number }
  | { type: 'step-failed'; stepId: string; message: string; hint?: string; durationMs: number; at: number }
  | {
      type: 'plan-done';
      mode: RunMode;
      result: PlanResult;
      /** In check mode: the state of every step. In apply mode: the final check of each step reached. */
      checks: Record<string, Check>;
      durationMs: number;
      at: number;
    };

export function stepInfo(step: Step): StepInfo {
  return { id: step.id, phase: step.phase, title: step.title };
}

/**
 * Test harness for the TUI.
 *
 * Rendering: ink-testing-library 4 renders into a stdout fixed at 100 columns with no row count,
 * and does not let a test choose either, so `renderSized` does what its `render` does (fake
 * stdin/stdout/stderr, Ink in debug mode so every frame is recorded whole) with the terminal size
 * the test asks for — layouts here depend on both columns and rows.
 *
 * Timing: `waitForInput` waits until Ink has subscribed to stdin (raw mode on, a `readable`
 * listener attached) before the first key; `waitForFrame` polls the latest frame until a predicate
 * holds. No fixed sleeps.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { render, type Instance } from 'ink';
import type { ReactElement } from 'react';
import { UserError } from '../../source/core/errors.js';
import { LogBuffer } from '../../source/core/log-buffer.js';
import { Redactor } from '../../source/core/redact.js';
import type { Check, Phase, Plan, Step, StepContext } from '../../source/core/step.js';
import { defaultProfile, type Profile } from '../../source/profile/schema.js';
import { ProfileStore } from '../../source/profile/store.js';
import { CleanupRegistry } from '../../source/ui/cleanup.js';
import type { AppDependencies } from '../../source/ui/deps.js';

class FakeStdout extends EventEmitter {
  readonly frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string): boolean => {
    this.frames.push(frame);
    return true;
  };
  lastFrame = (): string | undefined => this.frames.at(-1);
  /** Simulates the terminal being resized. */
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  #data: string | null = null;
  write = (data: string): void => {
    this.#data = data;
    this.emit('readable');
    this.emit('data', data);
  };
  read = (): string | null => {
    const data = this.#data;
    this.#data = null;
    return data;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

export interface Rendered {
  instance: Instance;
  stdout: FakeStdout;
  stdin: FakeStdin;
  frames: string[];
  /** The latest frame without ANSI codes. */
  frame(): string;
  exited: Promise<void>;
  hasExited(): boolean;
}

export function renderSized(tree: ReactElement, size: { columns: number; rows: number } = { columns: 80, rows: 24 }): Rendered {
  const stdout = new FakeStdout(size.columns, size.rows);
  const stderr = new FakeStdout(size.columns, size.rows);
  const stdin = new FakeStdin();
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  let exited = false;
  const exitPromise = instance.waitUntilExit().then(() => {
    exited = true;
  });
  return {
    instance,
    stdout,
    stdin,
    frames: stdout.frames,
    frame: () => stripVTControlCharacters(stdout.lastFrame() ?? ''),
    exited: exitPromise,
    hasExited: () => exited,
  };
}

export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Ink reads keys only once it has put stdin in raw mode and attached its listener. */
export async function waitForInput(rendered: Rendered): Promise<void> {
  await waitFor(() => rendered.stdin.listenerCount('readable') > 0, 'Ink to subscribe to stdin');
}

export async function waitForFrame(rendered: Rendered, predicate: (frame: string) => boolean, what: string, timeoutMs = 5000): Promise<string> {
  try {
    return await waitFor(() => {
      const frame = rendered.frame();
      return predicate(frame) ? frame : undefined;
    }, what, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- last frame ---\n${rendered.frame()}`);
  }
}

/**
 * The text of the Status pane (the right half of the top region at 80 columns), its wrapped lines
 * joined, so a test can look for a sentence wherever the pane wrapped it.
 */
export function statusPaneText(frame: string, columns = 80): string {
  const lines = frame.split('\n');
  const logTitle = lines.findIndex((line) => /^. Log /.test(line));
  const from = Math.floor((columns - 1) / 2) + 1;
  return lines
    .slice(1, logTitle < 0 ? undefined : logTitle)
    .map((line) => line.slice(from))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export const KEYS = {
  enter: '\r',
  escape: '\u001b',
  tab: '\t',
  shiftTab: '\u001b[Z',
  ctrlC: '\u0003',
  ctrlU: '\u0015',
  backspace: '\u007f',
  down: '\u001b[B',
  up: '\u001b[A',
} as const;

/** Sends keys one at a time, each once the previous one was handled (Ink parses a chunk as one paste). */
export async function press(rendered: Rendered, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    rendered.stdin.write(key);
    // Let Ink's input parser flush (a lone ESC is held for one macrotask to tell it from a sequence).
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every line of every frame recorded so far fits `rows - 1`. Returns the tallest frame height. */
export function tallestFrame(rendered: Rendered): number {
  return Math.max(0, ...rendered.frames.map((frame) => stripVTControlCharacters(frame).replace(/\n$/, '').split('\n').length));
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface TestStep extends Step {
  /** The signal the last apply received. */
  applySignal?: AbortSignal;
  applyStarted: Deferred<StepContext>;
  applied: boolean;
}

/**
 * A step whose apply logs `lines`, then waits for `gate` (the test decides when it finishes) and
 * marks the step done; its check says todo until then (or `checkState` when given).
 */
export function testStep(
  id: string,
  phase: Phase,
  title: string,
  options: { gate?: Promise<void>; lines?: string[]; fail?: Error; checkState?: Check['state']; checkDetail?: string; run?: (ctx: StepContext) => Promise<void> } = {},
): TestStep {
  const step: TestStep = {
    id,
    phase,
    title,
    applied: false,
    applyStarted: deferred<StepContext>(),
    describe: () => [{ kind: 'local', summary: title }],
    check: async () => {
      if (step.applied) return { state: 'done', detail: 'applied' };
      return { state: options.checkState ?? 'todo', detail: options.checkDetail ?? 'not yet' };
    },
    apply: async (ctx) => {
      step.applySignal = ctx.signal;
      step.applyStarted.resolve(ctx);
      for (const line of options.lines ?? []) ctx.log.info(line, 'stdout');
      if (options.run) await options.run(ctx);
      if (options.gate) await options.gate;
      if (options.fail) throw options.fail;
      step.applied = true;
    },
  };
  return step;
}

export interface TempHome {
  dir: string;
  restore(): void;
}

/** Points XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME at a fresh temp dir. */
export function tempXdgHome(): TempHome {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvt-ui-'));
  const names = ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME'] as const;
  const saved = names.map((name) => [name, process.env[name]] as const);
  for (const name of names) process.env[name] = path.join(dir, name.toLowerCase());
  return {
    dir,
    restore() {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Dependencies over the real store, buffer, redactor and runner, with `plan` as the plan. */
export function testDependencies(options: { plan?: Plan; profileName?: string; profile?: Profile; saved?: boolean } = {}): AppDependencies & {
  store: ProfileStore;
  closedServices: number;
} {
  const store = new ProfileStore();
  const profileName = options.profileName ?? 'test';
  const profile = options.profile ?? defaultProfile();
  if (options.saved ?? true) store.save(profileName, profile);
  const deps = {
    profileName,
    profile,
    profileExists: store.exists(profileName),
    store,
    createPlan: () => options.plan ?? { steps: [] },
    openServices: () => ({
      host: () => Promise.reject(new UserError('no host in this test')),
      close: async () => {
        deps.closedServices++;
      },
    }),
    logBuffer: new LogBuffer(200),
    redactor: new Redactor(),
    progress: store.progressSink(profileName),
    cleanup: new CleanupRegistry(),
    closedServices: 0,
  };
  return deps;
}

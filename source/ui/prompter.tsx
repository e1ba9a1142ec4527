/**
 * The TUI's Prompter: a step's question (confirm, secret, text) opens a modal dialog; the step's
 * promise settles when the user answers. Questions queue up (one dialog at a time). Cancelling the
 * run rejects the open and queued questions with CancelledError, so a step waiting on an answer
 * stops with the run instead of hanging.
 */
import { useCallback, useState, useSyncExternalStore } from 'react';
import { CancelledError, describeError } from '../core/errors.js';
import type { Redactor } from '../core/redact.js';
import type { Prompter, Reveal } from '../core/step.js';
import { Dialog } from './components/Dialog.js';
import { useKeyHandler } from './hooks/keys.js';
import { actionFor, DIALOG_KEYS, UNSEAL_KEYS, type KeyPress } from './keymap.js';

interface BaseRequest {
  id: number;
  question: string;
  reject(error: Error): void;
}

export type PromptRequest =
  /** `defaultValue` undefined: there is no safe default, enter does not answer (y or n must be pressed). */
  | (BaseRequest & { kind: 'confirm'; detail?: string; defaultValue?: boolean; resolve(answer: boolean): void })
  | (BaseRequest & { kind: 'secret'; resolve(answer: string): void })
  | (BaseRequest & { kind: 'text'; defaultValue?: string; validate?: (value: string) => string | undefined; resolve(answer: string): void })
  /** Sensitive material shown once on the Reveal screen; only an explicit acknowledgement settles it. */
  | (BaseRequest & { kind: 'reveal'; reveal: Reveal; resolve(): void });

type NewRequest = PromptRequest extends infer R ? (R extends PromptRequest ? Omit<R, 'id'> : never) : never;

export class DialogPrompter implements Prompter {
  readonly #redactor: Redactor;
  #queue: readonly PromptRequest[] = [];
  #nextId = 1;
  readonly #listeners = new Set<() => void>();

  constructor(redactor: Redactor) {
    this.#redactor = redactor;
  }

  confirm(question: string, options: { defaultValue?: boolean; detail?: string } = {}): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#enqueue({
        kind: 'confirm',
        question: this.#redactor.redact(question),
        ...(options.defaultValue === undefined ? {} : { defaultValue: options.defaultValue }),
        ...(options.detail === undefined ? {} : { detail: this.#redactor.redact(options.detail) }),
        resolve,
        reject,
      });
    });
  }

  secret(question: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#enqueue({
        kind: 'secret',
        question: this.#redactor.redact(question),
        resolve: (answer) => {
          // Registered before the step sees it: from now on it is masked in every log line and error.
          this.#redactor.register(answer);
          resolve(answer);
        },
        reject,
      });
    });
  }

  /**
   * Shown on the Reveal screen (screens/RevealScreen.tsx), the one place that renders the lines
   * unredacted; only the acknowledge key closes it (no default, esc does not). Cancelling the run
   * still rejects it: the caller wrote the material to custody before asking.
   */
  revealOnce(reveal: Reveal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'reveal', question: reveal.title, reveal, resolve: () => resolve(), reject });
    });
  }

  text(question: string, options: { defaultValue?: string; validate?: (value: string) => string | undefined } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'text', question: this.#redactor.redact(question), ...options, resolve, reject });
    });
  }

  /** The question on screen, if any. */
  readonly current = (): PromptRequest | undefined => this.#queue[0];

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Settles question `id` with the user's answer. */
  answer(id: number, value: boolean | string): void {
    const request = this.#take(id);
    if (!request) return;
    if (request.kind === 'confirm') request.resolve(Boolean(value));
    else if (request.kind === 'reveal') request.resolve();
    else request.resolve(String(value));
  }

  /** The user dismissed question `id`: the asking step is cancelled. */
  dismiss(id: number): void {
    this.#take(id)?.reject(new CancelledError('the question was cancelled'));
  }

  /** Rejects every open and queued question (the run is being cancelled or the app quits). */
  cancelAll(): void {
    const pending = this.#queue;
    this.#queue = [];
    if (pending.length > 0) this.#notify();
    for (const request of pending) request.reject(new CancelledError());
  }

  #enqueue(request: NewRequest): void {
    this.#queue = [...this.#queue, { ...request, id: this.#nextId++ } as PromptRequest];
    this.#notify();
  }

  #take(id: number): PromptRequest | undefined {
    const request = this.#queue.find((candidate) => candidate.id === id);
    if (!request) return undefined;
    this.#queue = this.#queue.filter((candidate) => candidate !== request);
    this.#notify();
    return request;
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}

export function usePromptRequest(prompter: DialogPrompter): PromptRequest | undefined {
  return useSyncExternalStore(prompter.subscribe, prompter.current, prompter.current);
}

/** Unseal key shares accepted so far, out of the threshold. */
export interface UnsealProgress {
  submitted: number;
  threshold: number;
}

/**
 * A secret question asking for an unseal key carries the progress in its text. The vault.unseal
 * step asks `Unseal key 2 of 3 for https://10.0.0.5:8200:` (the key it asks for is progress + 1);
 * `... (progress 1/3)` is understood too.
 */
export function unsealProgressOf(question: string): UnsealProgress | undefined {
  if (!/unseal key/i.test(question)) return undefined;
  const nth = /unseal key (\d+) of (\d+)/i.exec(question);
  const progress = /progress\s*:?\s*(\d+)\s*\/\s*(\d+)/i.exec(question);
  const submitted = nth ? Number(nth[1]) - 1 : progress ? Number(progress[1]) : NaN;
  const threshold = Number((nth ?? progress)?.[2] ?? NaN);
  if (!Number.isInteger(submitted) || !Number.isInteger(threshold)) return undefined;
  return threshold > 0 && submitted >= 0 && submitted < threshold ? { submitted, threshold } : undefined;
}

export interface PromptDialogProps {
  prompter: DialogPrompter;
  request: Exclude<PromptRequest, { kind: 'reveal' }>;
  width: number;
  height: number;
  /** Discards the unseal key shares submitted so far (ctrl+r on an unseal question); resolves with the progress after. */
  onUnsealReset?: () => Promise<UnsealProgress>;
  /** The profile's server (`Vault`, `OpenBao`): the unseal dialog's title names it. */
  serverName: string;
}

/** Renders the current question of `prompter` and takes every key while it is open. */
export function PromptDialog({ prompter, request, width, height, onUnsealReset, serverName }: PromptDialogProps) {
  // Keyed by request id by the caller, so the typed text never carries over to the next question.
  const [value, setValue] = useState(request.kind === 'text' ? (request.defaultValue ?? '') : '');
  const [error, setError] = useState<string | undefined>();
  const asked = request.kind === 'secret' ? unsealProgressOf(request.question) : undefined;
  const [resetTo, setResetTo] = useState<UnsealProgress | undefined>();
  const [resetting, setResetting] = useState(false);
  const unseal = asked ? (resetTo ?? asked) : undefined;

  const handle = useCallback(
    (press: KeyPress): boolean => {
      // Ctrl+C is the app's: it cancels the run (which rejects this question).
      if (press.name === 'ctrl+c') return false;
      const action = actionFor(DIALOG_KEYS, press);
      if (request.kind === 'confirm') {
        if (action === 'yes') prompter.answer(request.id, true);
        else if (action === 'no') prompter.answer(request.id, false);
        else if (action === 'submit' && request.defaultValue !== undefined) prompter.answer(request.id, request.defaultValue);
        else if (action === 'cancel') prompter.dismiss(request.id);
        return true;
      }
      if (unseal && actionFor(UNSEAL_KEYS, press) === 'reset') {
        if (!onUnsealReset) setError('resetting is not available here');
        else if (!resetting) {
          setResetting(true);
          setError(undefined);
          void onUnsealReset()
            .then((progress) => {
              setResetTo(progress);
              setValue('');
            })
            .catch((failure: unknown) => setError(`reset failed: ${describeError(failure).message}`))
            .finally(() => setResetting(false));
        }
        return true;
      }
      if (press.name === 'enter') {
        if (request.kind === 'text') {
          const message = request.validate?.(value);
          if (message) {
            setError(message);
            return true;
          }
        }
        prompter.answer(request.id, value);
        setValue('');
      } else if (press.name === 'esc') {
        prompter.dismiss(request.id);
      } else if (press.name === 'backspace') {
        setValue((current) => Array.from(current).slice(0, -1).join(''));
      } else if (press.name === 'ctrl+u') {
        setValue('');
      } else if (press.text && !/[\u0000-\u001f\u007f]/.test(press.text)) {
        setValue((current) => current + press.text);
        setError(undefined);
      }
      return true;
    },
    [prompter, request, value],
  );
  useKeyHandler('dialog', handle);

  if (request.kind === 'confirm') {
    return (
      <Dialog
        title="Confirm"
        question={request.question}
        {...(request.detail === undefined ? {} : { detail: request.detail })}
        keys={`y yes  n no  ${request.defaultValue === undefined ? '' : `enter ${request.defaultValue ? 'yes' : 'no'} (default)  `}esc cancel`}
        width={width}
        height={height}
      />
    );
  }
  if (unseal) {
    return (
      <Dialog
        title={`Unseal ${serverName} (key hidden, never saved)`}
        question={request.question}
        progress={{ label: 'Keys accepted', done: unseal.submitted, of: unseal.threshold }}
        {...(resetTo ? { detail: `Progress reset: the key shares submitted before were discarded (${resetTo.submitted}/${resetTo.threshold}).` } : {})}
        {...(resetting ? { detail: 'Resetting the unseal progress...' } : {})}
        input={{ value, masked: true }}
        {...(error === undefined ? {} : { error })}
        keys="enter submit  ctrl+u clear  ctrl+r reset progress  esc cancel"
        width={width}
        height={height}
      />
    );
  }
  return (
    <Dialog
      title={request.kind === 'secret' ? 'Secret (hidden, never saved)' : 'Input'}
      question={request.question}
      input={{ value, masked: request.kind === 'secret' }}
      {...(error === undefined ? {} : { error })}
      keys="enter submit  ctrl+u clear  esc cancel"
      width={width}
      height={height}
    />
  );
}

/**
 * The TUI's Prompter: a step's question (confirm, secret, text) opens a modal dialog; the step's
 * promise settles when the user answers. Questions queue up (one dialog at a time). Cancelling the
 * run rejects the open and queued questions with CancelledError, so a step waiting on an answer
 * stops with the run instead of hanging.
 */
import { useCallback, useState, useSyncExternalStore } from 'react';
import { CancelledError } from '../core/errors.js';
import type { Redactor } from '../core/redact.js';
import type { Prompter, Reveal } from '../core/step.js';
import { Dialog } from './components/Dialog.js';
import { useKeyHandler } from './hooks/keys.js';
import { actionFor, DIALOG_KEYS, type KeyPress } from './keymap.js';

interface BaseRequest {
  id: number;
  question: string;
  reject(error: Error): void;
}

export type PromptRequest =
  /** `defaultValue` undefined: there is no safe default, enter does not answer (y or n must be pressed). */
  | (BaseRequest & { kind: 'confirm'; detail?: string; defaultValue?: boolean; resolve(answer: boolean): void })
  | (BaseRequest & { kind: 'secret'; resolve(answer: string): void })
  | (BaseRequest & { kind: 'text'; defaultValue?: string; validate?: (value: string) => string | undefined; resolve(answer: string): void });

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
        question,
        ...(options.defaultValue === undefined ? {} : { defaultValue: options.defaultValue }),
        ...(options.detail === undefined ? {} : { detail: options.detail }),
        resolve,
        reject,
      });
    });
  }

  secret(question: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#enqueue({
        kind: 'secret',
        question,
        resolve: (answer) => {
          // Registered before the step sees it: from now on it is masked in every log line and error.
          this.#redactor.register(answer);
          resolve(answer);
        },
        reject,
      });
    });
  }

  /** Shown in a dialog that only an explicit yes closes (there is no default answer). */
  revealOnce(reveal: Reveal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#enqueue({
        kind: 'confirm',
        question: `${reveal.title} — written them down / stored them safely?`,
        detail: [...reveal.lines, '', reveal.note].join('\n'),
        resolve: () => resolve(),
        reject,
      });
    });
  }

  text(question: string, options: { defaultValue?: string; validate?: (value: string) => string | undefined } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'text', question, ...options, resolve, reject });
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

/** Renders the current question of `prompter` and takes every key while it is open. */
export function PromptDialog({ prompter, request, width, height }: { prompter: DialogPrompter; request: PromptRequest; width: number; height: number }) {
  // Keyed by request id by the caller, so the typed text never carries over to the next question.
  const [value, setValue] = useState(request.kind === 'text' ? (request.defaultValue ?? '') : '');
  const [error, setError] = useState<string | undefined>();

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

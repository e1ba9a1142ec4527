/**
 * Every key the TUI understands, as data: the footer and the help screen are generated from these
 * tables, so they cannot drift from what the handlers do.
 *
 * Keys reach the app through ONE dispatcher (see KeyDispatcher). Handlers register with a priority
 * — dialog > screen > global — and return whether they consumed the key; the first that does wins.
 * A modal dialog therefore swallows every key but Ctrl+C, a form field being edited swallows
 * printable keys (so typing `q` types a q), and whatever is left falls through to the global keys.
 */
import type { Key } from 'ink';
import type { ServerFlavor } from '../core/server.js';
import { unitName } from './components/text.js';

/** A key press reduced to one name: `q`, `?`, `G`, `enter`, `esc`, `tab`, `shift+tab`, `ctrl+c`, `up`... */
export interface KeyPress {
  name: string;
  /** The text typed (for text fields); empty for named keys. A paste arrives as one multi-character input. */
  text: string;
}

export function toKeyPress(input: string, key: Key): KeyPress {
  const named = (name: string): KeyPress => ({ name, text: '' });
  if (key.ctrl && input.length === 1) return named(`ctrl+${input.toLowerCase()}`);
  if (key.return) return named('enter');
  if (key.escape) return named('esc');
  if (key.tab) return named(key.shift ? 'shift+tab' : 'tab');
  if (key.upArrow) return named('up');
  if (key.downArrow) return named('down');
  if (key.leftArrow) return named('left');
  if (key.rightArrow) return named('right');
  if (key.pageUp) return named('pageup');
  if (key.pageDown) return named('pagedown');
  if (key.home) return named('home');
  if (key.end) return named('end');
  // Most terminals send DEL (0x7f) for the Backspace key, which Ink reports as `delete`.
  if (key.backspace || key.delete) return named('backspace');
  return { name: input, text: input };
}

export type KeyPriority = 'dialog' | 'screen' | 'global';
const RANK: Record<KeyPriority, number> = { dialog: 3, screen: 2, global: 1 };

/** Returns true when it consumed the key. */
export type KeyHandler = (press: KeyPress) => boolean;

interface Registration {
  id: number;
  rank: number;
  handler: KeyHandler;
}

export class KeyDispatcher {
  #entries: Registration[] = [];
  #nextId = 0;

  register(priority: KeyPriority, handler: KeyHandler): () => void {
    const entry: Registration = { id: this.#nextId++, rank: RANK[priority], handler };
    // Highest priority first; within a priority the newest registration (the innermost component) first.
    this.#entries = [...this.#entries, entry].sort((a, b) => b.rank - a.rank || b.id - a.id);
    return () => {
      this.#entries = this.#entries.filter((candidate) => candidate !== entry);
    };
  }

  dispatch(press: KeyPress): boolean {
    for (const entry of this.#entries) {
      if (entry.handler(press)) return true;
    }
    return false;
  }
}

/** What a key's help line may name: the profile's server and its units. */
export type KeyServer = Pick<ServerFlavor, 'name' | 'unit' | 'unsealUnit'>;

export interface KeyBinding<Action extends string = string> {
  action: Action;
  keys: readonly string[];
  /** Short label for the footer. */
  label: string;
  /** One line for the help screen; a function when it names the server (read with describeBinding). */
  description: string | ((server: KeyServer) => string);
  /** Shown in the footer (the footer has one row: only the keys one needs to get going). */
  footer: boolean;
}

/** The help line of a binding for the profile's server. */
export function describeBinding(binding: KeyBinding, server: KeyServer): string {
  return typeof binding.description === 'function' ? binding.description(server) : binding.description;
}

export function actionFor<Action extends string>(bindings: readonly KeyBinding<Action>[], press: KeyPress): Action | undefined {
  return bindings.find((binding) => binding.keys.includes(press.name))?.action;
}

export type GlobalAction = 'help' | 'quit' | 'interrupt' | 'next-screen' | 'previous-screen' | 'back' | 'redraw';
export const GLOBAL_KEYS: readonly KeyBinding<GlobalAction>[] = [
  { action: 'next-screen', keys: ['tab'], label: 'next screen', description: 'Go to the next screen (Home, Setup, Profile)', footer: true },
  { action: 'previous-screen', keys: ['shift+tab'], label: 'previous screen', description: 'Go to the previous screen', footer: false },
  { action: 'help', keys: ['?'], label: 'help', description: 'Show this help (every key of every screen)', footer: true },
  { action: 'back', keys: ['esc'], label: 'back', description: 'Go back (close help, leave the profile form)', footer: false },
  { action: 'quit', keys: ['q'], label: 'quit', description: 'Quit (asks first while a step is running)', footer: true },
  {
    action: 'interrupt',
    keys: ['ctrl+c'],
    label: 'cancel',
    description: 'Cancel the running step (progress is kept); press again to quit',
    footer: false,
  },
  {
    action: 'redraw',
    keys: ['ctrl+l'],
    label: 'redraw',
    // Named by the failure itself where one is shown (components/RenderFailure.tsx): the footer row is full.
    description: 'Draw again a part of the screen that could not be drawn (a running step is not affected)',
    footer: false,
  },
];

export type HomeKeyAction = 'unseal' | 'recheck' | 'fix' | 'fix-all' | 'seal' | 'logs' | 'snapshot' | 'select-down' | 'select-up';
/** The Home screen: the server at a glance and one key per day-2 task. Every action key is in the footer (it fits 80 columns). */
export const HOME_KEYS: readonly KeyBinding<HomeKeyAction>[] = [
  { action: 'unseal', keys: ['u'], label: 'unseal', description: (server) => `Unseal ${server.name} (keys from custody, the host keys file, or typed one by one)`, footer: true },
  {
    action: 'recheck',
    keys: ['r'],
    label: 'check',
    description: 'Re-check every step without changing anything: the drift table lists each one not done',
    footer: true,
  },
  { action: 'fix', keys: ['enter'], label: 'fix', description: 'Fix the selected step of the drift table (applies that step alone, then verifies it)', footer: true },
  { action: 'fix-all', keys: ['F'], label: 'all', description: 'Fix every step the re-check found drifted or not done, in plan order', footer: true },
  { action: 'seal', keys: ['s'], label: 'seal', description: (server) => `Seal ${server.name} now (asks first; uses the root token from custody, or asks for a token)`, footer: true },
  { action: 'logs', keys: ['l'], label: 'logs', description: (server) => `Follow the ${unitName(server.unit)} and ${unitName(server.unsealUnit)} service logs on the host live; l or esc stops`, footer: true },
  { action: 'snapshot', keys: ['b'], label: 'snapshot', description: 'Take a raft snapshot into the custody snapshots folder (0600); shows its path and size', footer: true },
  { action: 'select-down', keys: ['j', 'down'], label: 'select', description: 'Select the next row of the drift table', footer: false },
  { action: 'select-up', keys: ['k', 'up'], label: 'select', description: 'Select the previous row of the drift table', footer: false },
];

export type SetupAction = 'run' | 'check' | 'unseal' | 'follow' | 'toggle-view' | 'scroll-down' | 'scroll-up' | 'page-down' | 'page-up' | 'oldest' | 'newest';
export const SETUP_KEYS: readonly KeyBinding<SetupAction>[] = [
  { action: 'run', keys: ['enter', 's'], label: 'run', description: 'Run the setup: check each step, apply what is not done, verify', footer: true },
  { action: 'check', keys: ['c', 'r'], label: 'check', description: 'Check every step without changing anything (done / todo / drift)', footer: true },
  {
    action: 'unseal',
    keys: ['u'],
    label: 'unseal',
    description: (server) => `Unseal ${server.name} now (only the unseal step: keys from custody, the host keys file, or typed one by one)`,
    footer: true,
  },
  { action: 'follow', keys: ['f'], label: 'follow log', description: 'Follow the log (new lines scroll into view) on/off', footer: true },
  {
    action: 'toggle-view',
    keys: ['v'],
    label: 'table/log',
    description: 'Switch the lower pane between the log and the table a step showed (e.g. the self-test)',
    // Named in the lower pane's title instead: the footer row is full at 80 columns.
    footer: false,
  },
  { action: 'scroll-down', keys: ['j', 'down'], label: 'scroll', description: 'Scroll the log down one line', footer: false },
  { action: 'scroll-up', keys: ['k', 'up'], label: 'scroll', description: 'Scroll the log up one line (stops following)', footer: false },
  { action: 'page-down', keys: ['pagedown'], label: 'page', description: 'Scroll the log down one page', footer: false },
  { action: 'page-up', keys: ['pageup'], label: 'page', description: 'Scroll the log up one page (stops following)', footer: false },
  { action: 'oldest', keys: ['g', 'home'], label: 'oldest', description: 'Jump to the oldest log line kept', footer: false },
  { action: 'newest', keys: ['G', 'end'], label: 'newest', description: 'Jump to the newest log line and follow', footer: false },
];

export type ProfileAction = 'next-field' | 'previous-field' | 'edit' | 'choice-next' | 'choice-previous' | 'save' | 'revert';
export const PROFILE_KEYS: readonly KeyBinding<ProfileAction>[] = [
  { action: 'next-field', keys: ['j', 'down'], label: 'move', description: 'Next field', footer: false },
  { action: 'previous-field', keys: ['k', 'up'], label: 'move', description: 'Previous field', footer: false },
  { action: 'edit', keys: ['enter'], label: 'edit', description: 'Edit the field (a choice: switch to the next option)', footer: true },
  { action: 'choice-next', keys: ['space', ' ', 'right'], label: 'change', description: 'Next option of a choice field', footer: false },
  { action: 'choice-previous', keys: ['left'], label: 'change', description: 'Previous option of a choice field', footer: false },
  { action: 'save', keys: ['s'], label: 'save', description: 'Validate every field and save the profile (nothing invalid is saved)', footer: true },
  { action: 'revert', keys: ['u'], label: 'undo all', description: 'Discard unsaved changes (back to the saved profile)', footer: false },
];

export type FieldEditAction = 'accept' | 'cancel' | 'delete-back' | 'clear';
export const FIELD_EDIT_KEYS: readonly KeyBinding<FieldEditAction>[] = [
  { action: 'accept', keys: ['enter'], label: 'accept', description: 'Accept the value (it is validated at once)', footer: true },
  { action: 'cancel', keys: ['esc'], label: 'cancel', description: 'Cancel editing, keep the previous value', footer: true },
  { action: 'delete-back', keys: ['backspace'], label: 'delete', description: 'Delete the last character', footer: false },
  { action: 'clear', keys: ['ctrl+u'], label: 'clear', description: 'Clear the field', footer: true },
];

export type HelpAction = 'scroll-down' | 'scroll-up' | 'close';
export const HELP_KEYS: readonly KeyBinding<HelpAction>[] = [
  { action: 'scroll-down', keys: ['j', 'down', 'pagedown'], label: 'scroll', description: 'Scroll down', footer: true },
  { action: 'scroll-up', keys: ['k', 'up', 'pageup'], label: 'scroll', description: 'Scroll up', footer: false },
  { action: 'close', keys: ['esc', '?'], label: 'close', description: 'Close the help', footer: true },
];

export type DialogAction = 'yes' | 'no' | 'submit' | 'cancel';
export const DIALOG_KEYS: readonly KeyBinding<DialogAction>[] = [
  { action: 'yes', keys: ['y'], label: 'yes', description: 'Answer yes (confirmation)', footer: true },
  { action: 'no', keys: ['n'], label: 'no', description: 'Answer no (confirmation)', footer: true },
  { action: 'submit', keys: ['enter'], label: 'ok', description: 'Submit the answer (a confirmation: its default)', footer: true },
  { action: 'cancel', keys: ['esc'], label: 'cancel', description: 'Cancel the question (the step is cancelled)', footer: true },
];

export type RevealAction = 'acknowledge' | 'scroll-down' | 'scroll-up';
/** The Reveal screen (unseal keys and root token, shown once): nothing closes it but `y`. */
export const REVEAL_KEYS: readonly KeyBinding<RevealAction>[] = [
  { action: 'acknowledge', keys: ['y'], label: 'stored them safely', description: 'Acknowledge: the keys are stored safely (they are not shown again)', footer: true },
  { action: 'scroll-down', keys: ['j', 'down', 'pagedown'], label: 'scroll', description: 'Scroll down (every line must be seen first)', footer: true },
  { action: 'scroll-up', keys: ['k', 'up', 'pageup'], label: 'scroll', description: 'Scroll up', footer: false },
];

export type UnsealAction = 'submit' | 'clear' | 'reset' | 'cancel';
/** Typing an unseal key (masked); the progress k/t is shown above the input. */
export const UNSEAL_KEYS: readonly KeyBinding<UnsealAction>[] = [
  { action: 'submit', keys: ['enter'], label: 'submit key', description: 'Submit the typed key share', footer: true },
  { action: 'clear', keys: ['ctrl+u'], label: 'clear', description: 'Clear the typed key', footer: true },
  { action: 'reset', keys: ['ctrl+r'], label: 'reset progress', description: 'Discard the key shares submitted so far and start over', footer: true },
  { action: 'cancel', keys: ['esc'], label: 'cancel', description: 'Cancel unsealing (the step is cancelled)', footer: true },
];

/** `enter/s run` — how a binding is written in the footer and the help. */
export function describeKeys(keys: readonly string[]): string {
  return keys.filter((key) => key !== ' ').join('/');
}

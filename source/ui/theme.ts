/**
 * Glyphs and colours. Two decisions are made once, at start-up, from the environment:
 *  - Unicode glyphs only when the locale says UTF-8 and the terminal is not `dumb`; otherwise ASCII,
 *    so a serial console or a bare `linux` VT shows `[x]` rather than mojibake.
 *  - Colour only when the caller allows it (`--no-color`, NO_COLOR and TERM=dumb are decided by the
 *    CLI, see cli/color.ts); every component asks the theme for a colour and gets `undefined` when off,
 *    so Ink emits no colour codes at all.
 */
import { createContext, useContext } from 'react';

export type StepVisualState = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'cancelled' | 'drift' | 'todo';

export interface Glyphs {
  state: Record<Exclude<StepVisualState, 'running'>, string>;
  /** cli-spinners name for the running state. */
  spinner: 'dots' | 'line';
  /** Frame for the running state when the spinner is not animated. */
  runningStatic: string;
  selected: string;
  invalid: string;
  rule: string;
  cursor: string;
  separator: string;
  arrow: string;
}

const UNICODE_GLYPHS: Glyphs = {
  state: { pending: '○', done: '✔', skipped: '↷', failed: '✘', cancelled: '■', drift: '≠', todo: '◌' },
  spinner: 'dots',
  runningStatic: '▶',
  selected: '›',
  invalid: '✗',
  rule: '─',
  cursor: '█',
  separator: '·',
  arrow: '→',
};

const ASCII_GLYPHS: Glyphs = {
  state: { pending: '.', done: '+', skipped: '>', failed: 'x', cancelled: '#', drift: '~', todo: 'o' },
  spinner: 'line',
  runningStatic: '*',
  selected: '>',
  invalid: '!',
  rule: '-',
  cursor: '_',
  separator: '|',
  arrow: '->',
};

export type ColorName = 'accent' | 'success' | 'warning' | 'error' | 'muted' | 'running';

const PALETTE: Record<ColorName, string> = {
  accent: 'cyan',
  success: 'green',
  warning: 'yellow',
  error: 'red',
  muted: 'gray',
  running: 'blue',
};

export interface Theme {
  unicode: boolean;
  colorEnabled: boolean;
  glyphs: Glyphs;
  /** An Ink colour name, or undefined when colour is off (Ink then emits no colour codes). */
  color(name: ColorName): string | undefined;
}

export function createTheme(options: { unicode: boolean; color: boolean }): Theme {
  return {
    unicode: options.unicode,
    colorEnabled: options.color,
    glyphs: options.unicode ? UNICODE_GLYPHS : ASCII_GLYPHS,
    color: (name) => (options.color ? PALETTE[name] : undefined),
  };
}

/**
 * Whether the terminal can show Unicode glyphs: the first of LC_ALL, LC_CTYPE, LANG that is set
 * decides (POSIX locale precedence), and TERM=dumb never gets them.
 */
export function terminalSupportsUnicode(env: NodeJS.ProcessEnv): boolean {
  if (env['TERM'] === 'dumb') return false;
  const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
  return /utf-?8/i.test(locale);
}

export const ThemeContext = createContext<Theme>(createTheme({ unicode: false, color: false }));

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

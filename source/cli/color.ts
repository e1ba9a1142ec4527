/**
 * Whether output may be coloured. Off with --no-color, with NO_COLOR set to anything non-empty
 * (https://no-color.org), and on TERM=dumb terminals. Plain (non-TUI) output is also uncoloured
 * when the stream is not a terminal, so pipes and log files never receive escape codes.
 */
export interface ColorOptions {
  /** The --color/--no-color flag (commander sets `color: false` for --no-color). */
  flag?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function colorEnabled(options: ColorOptions = {}): boolean {
  const env = options.env ?? process.env;
  if (options.flag === false) return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return true;
}

/** Colour for one output stream: allowed by colorEnabled() and the stream is a terminal. */
export function streamColorEnabled(stream: { isTTY?: boolean }, options: ColorOptions = {}): boolean {
  return stream.isTTY === true && colorEnabled(options);
}

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
}

const wrap = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const identity = (text: string): string => text;

export function style(enabled: boolean): Style {
  if (!enabled) return { bold: identity, dim: identity, red: identity, yellow: identity, green: identity, cyan: identity };
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), cyan: wrap(36, 39) };
}

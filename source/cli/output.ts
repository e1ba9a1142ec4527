/**
 * The only place the plain CLI writes: results to stdout, messages and errors to stderr.
 * Kept free of heavy imports: every command uses it, including `--version`.
 */
import { streamColorEnabled, style, type Style } from './color.js';

export interface GlobalOptions {
  profile: string;
  /** false with --no-color */
  color: boolean;
}

export interface Output {
  /** A line of results on stdout. */
  out(text: string): void;
  /** A value as pretty JSON on stdout (for --json). */
  json(value: unknown): void;
  /** A message on stderr (notes, progress, errors). */
  err(text: string): void;
  /** Styles for stdout and stderr (identity functions when colour is off for that stream). */
  readonly outStyle: Style;
  readonly errStyle: Style;
}

export function createOutput(colorFlag: boolean | undefined): Output {
  const flag = colorFlag === false ? { flag: false } : {};
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    outStyle: style(streamColorEnabled(process.stdout, flag)),
    errStyle: style(streamColorEnabled(process.stderr, flag)),
  };
}

/** `error: …` and `hint: …` on stderr: the shape of every failure the user can act on. */
export function printProblem(output: Output, message: string, hint?: string): void {
  const s = output.errStyle;
  output.err(`${s.bold(s.red('error:'))} ${message}`);
  if (hint) output.err(`${s.bold(s.yellow('hint:'))} ${hint}`);
}

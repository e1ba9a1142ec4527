/**
 * Errors the user can act on. Every failure that reaches the screen or stderr is a UserError with
 * a message saying what is wrong and a hint saying how to fix it; anything else is a bug and is
 * shown with its stack in the log file only.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  /** How to fix it, in one or two sentences. */
  readonly hint: string | undefined;
  /** Exit code in headless mode (1 = generic failure, 2 = usage/input error). */
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad input from the user (flag, profile field, file): exit code 2. */
export class InputError extends UserError {
  /** The field or flag at fault, e.g. `host.port` or `--profile`. */
  readonly field: string | undefined;
  constructor(message: string, options: { hint?: string; field?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: 2 });
    this.field = options.field;
  }
}

/** The run was cancelled (Ctrl+C, SIGTERM, SIGHUP). */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof CancelledError ||
    (error instanceof Error && (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR'))
  );
}

/** A one-line description of any thrown value, for logs and screens. */
export function describeError(error: unknown): { message: string; hint?: string } {
  if (error instanceof UserError) return error.hint ? { message: error.message, hint: error.hint } : { message: error.message };
  if (error instanceof Error) return { message: error.message };
  return { message: String(error) };
}

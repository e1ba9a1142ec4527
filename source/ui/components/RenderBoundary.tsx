/**
 * A React error boundary around one independently drawn part of the screen (a screen, a pane, the
 * header, the footer). Without it an exception thrown while rendering reaches Ink's own boundary,
 * which exits the app: the unmount aborts the running plan (useRunController) and the step ends up
 * cancelled half-way. With it only that part is replaced by a line saying what failed
 * (RenderFailure); the rest of the app, the run controller and the keyboard stay mounted, so the
 * runner's events keep arriving, the step finishes, and q still quits.
 *
 * The failure goes to the log file with its stacks (a render error is a bug: its details belong
 * there, not on the screen). ctrl+l (render-retry.ts) clears every failed boundary, so a part whose
 * bad input has scrolled away or been replaced can be drawn again without restarting.
 */
import { Component, useCallback, useContext, type ErrorInfo, type ReactNode } from 'react';
import { describeError } from '../../core/errors.js';
import type { LogLine } from '../../core/step.js';
import { DependenciesContext, type AppDependencies } from '../deps.js';
import { useRenderRetry } from '../render-retry.js';
import { RenderFailure } from './RenderFailure.js';

export interface RenderBoundaryProps {
  /** The part as the user knows it: "Log pane", "Setup screen". */
  part: string;
  width: number;
  height: number;
  children: ReactNode;
}

export function RenderBoundary({ part, width, height, children }: RenderBoundaryProps) {
  const retry = useRenderRetry();
  // Optional: components are also rendered on their own (tests), without the app's dependencies.
  const deps = useContext(DependenciesContext);
  const redact = useCallback((text: string): string => (deps ? deps.redactor.redact(text) : text), [deps]);
  const onCaught = useCallback((error: unknown, componentStack: string | undefined) => reportToLogFile(deps, part, error, componentStack, redact), [deps, part, redact]);
  const fallback = useCallback(
    (error: unknown) => <RenderFailure part={part} message={redact(describeError(error).message)} width={width} height={height} />,
    [part, redact, width, height],
  );
  return (
    <Catcher retry={retry} onCaught={onCaught} fallback={fallback}>
      {children}
    </Catcher>
  );
}

interface CatcherProps {
  /** A change clears a caught failure: the children are rendered again. */
  retry: number;
  onCaught(error: unknown, componentStack: string | undefined): void;
  fallback(error: unknown): ReactNode;
  children: ReactNode;
}

interface CatcherState {
  /** Boxed: anything can be thrown, `undefined` included. */
  failure: { error: unknown } | undefined;
}

/** The class part: React catches render errors only in a class component's lifecycle. */
class Catcher extends Component<CatcherProps, CatcherState> {
  override state: CatcherState = { failure: undefined };

  static getDerivedStateFromError(error: unknown): CatcherState {
    return { failure: { error } };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    this.props.onCaught(error, info.componentStack ?? undefined);
  }

  override componentDidUpdate(previous: CatcherProps): void {
    if (this.state.failure && previous.retry !== this.props.retry) this.setState({ failure: undefined });
  }

  override render(): ReactNode {
    return this.state.failure ? this.props.fallback(this.state.failure.error) : this.props.children;
  }
}

/** One error line naming the part and the message, then the error's and React's stacks as debug lines. */
function reportToLogFile(
  deps: AppDependencies | undefined,
  part: string,
  error: unknown,
  componentStack: string | undefined,
  redact: (text: string) => string,
): void {
  const write = deps?.onLogLine;
  if (!write) return;
  const at = Date.now();
  const lines: LogLine[] = [{ at, level: 'error', source: 'ui', text: redact(`${part} could not be drawn: ${describeError(error).message}`) }];
  const stacks = [error instanceof Error ? error.stack : undefined, componentStack === undefined ? undefined : `in the components:${componentStack}`];
  for (const stack of stacks) {
    for (const text of (stack ?? '').split(/\r?\n/)) {
      if (text.trim() !== '') lines.push({ at, level: 'debug', source: 'ui', text: redact(text) });
    }
  }
  try {
    for (const line of lines) write(line);
  } catch {
    // The log file is where the details go; a full disk must not turn one failed pane into a crash.
  }
}

/**
 * The redraw generation: ctrl+l bumps it, and every part of the screen that failed to draw
 * (components/RenderBoundary.tsx) tries again when it changes. A context rather than props: a
 * boundary sits at any depth (around a pane inside a screen) and none of the components in between
 * has a reason to know about it.
 */
import { createContext, useContext } from 'react';

export const RenderRetryContext = createContext(0);

export function useRenderRetry(): number {
  return useContext(RenderRetryContext);
}

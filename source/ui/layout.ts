/**
 * Fixed heights for every region, computed from the terminal size. The frame is at most rows - 1
 * high: when Ink's output reaches the terminal height it clears the whole screen on every frame
 * (visible flicker), so the last row is never used.
 */
import type { TerminalSize } from './hooks/useTerminalSize.js';

export interface FrameLayout {
  width: number;
  frameHeight: number;
  /** Between the header row and the footer row. */
  bodyHeight: number;
}

export function frameLayout(size: TerminalSize): FrameLayout {
  const frameHeight = Math.max(1, size.rows - 1);
  return { width: Math.max(20, size.columns), frameHeight, bodyHeight: Math.max(0, frameHeight - 2) };
}

export interface SetupLayout {
  /** Steps and status side by side, each with a title row. */
  topHeight: number;
  stepsWidth: number;
  statusWidth: number;
  /** Log pane including its title row. */
  logHeight: number;
}

export function setupLayout(bodyHeight: number, width: number): SetupLayout {
  const topHeight = Math.max(Math.min(bodyHeight, 3), Math.ceil(bodyHeight / 2));
  const stepsWidth = Math.floor((width - 1) / 2);
  return { topHeight, stepsWidth, statusWidth: width - 1 - stepsWidth, logHeight: Math.max(0, bodyHeight - topHeight) };
}

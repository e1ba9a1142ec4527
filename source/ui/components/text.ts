/**
 * Text from the outside world (command output, error messages, file paths) can carry escape
 * sequences or control characters that would move the cursor or recolour the terminal; every such
 * string is passed through `sanitize` before Ink renders it.
 */
const ANSI_SEQUENCE = /\u001b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

export function sanitize(text: string): string {
  return text.replace(ANSI_SEQUENCE, '').replace(/\t/g, '  ').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `850ms`, `4.2s`, `3m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** Cuts `text` to `width` columns with an ellipsis (Ink truncates too; this is for composed lines). */
export function fit(text: string, width: number, ellipsis = '...'): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= ellipsis.length) return chars.slice(0, width).join('');
  return chars.slice(0, width - ellipsis.length).join('') + ellipsis;
}

/** `vault` for `vault.service`: how the screens name a unit. */
export function unitName(unit: string): string {
  return unit.replace(/\.service$/, '');
}

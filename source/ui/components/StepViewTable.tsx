/**
 * A table a step presented (StepContext.present, e.g. the self-test: which token, what was tried,
 * what was expected, what happened), in a fixed number of rows. Cells arrive redacted from the
 * runner; they are sanitized here like every outside string. Columns share the width: when they do
 * not fit, the widest is narrowed first (cells are cut with an ellipsis, never wrapped, so the rows
 * stay aligned).
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import type { StepView } from '../../core/step.js';
import { useTheme, type ColorName } from '../theme.js';
import { fit, sanitize } from './text.js';

const GAP = 2;
const MIN_COLUMN = 3;

/** Column widths that fit `width`: natural widths, the widest narrowed one column at a time. */
export function columnWidths(view: StepView, width: number): number[] {
  const count = view.columns.length;
  const widths = view.columns.map((title, index) =>
    Math.max(Array.from(sanitize(title)).length, ...view.rows.map((row) => Array.from(sanitize(row[index] ?? '')).length)),
  );
  const available = Math.max(count * MIN_COLUMN, width - GAP * Math.max(0, count - 1));
  let total = widths.reduce((sum, value) => sum + value, 0);
  while (total > available) {
    let widest = 0;
    for (let index = 1; index < count; index++) if ((widths[index] ?? 0) > (widths[widest] ?? 0)) widest = index;
    if ((widths[widest] ?? 0) <= MIN_COLUMN) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    total--;
  }
  return widths;
}

/** Outcome words get a colour (pass/ok green, fail/error red); other cells stay plain. */
function cellColor(cell: string): ColorName | undefined {
  if (/^(pass(ed)?|ok|yes|allowed as expected|denied as expected)\b/i.test(cell)) return 'success';
  if (/^(fail(ed)?|error|no)\b/i.test(cell)) return 'error';
  return undefined;
}

function pad(text: string, width: number): string {
  const cut = fit(text, width, '~');
  return cut + ' '.repeat(Math.max(0, width - Array.from(cut).length));
}

export const StepViewTable = memo(function StepViewTable({ view, height, width }: { view: StepView; height: number; width: number }) {
  const theme = useTheme();
  const widths = columnWidths(view, width);
  const bodyRows = Math.max(0, height - 1);
  const overflow = view.rows.length > bodyRows;
  const shown = overflow ? view.rows.slice(0, Math.max(0, bodyRows - 1)) : view.rows;
  const gap = ' '.repeat(GAP);
  return (
    <Box flexDirection="column" height={height} width={width} overflow="hidden">
      <Box height={1} width={width} overflow="hidden">
        <Text bold wrap="truncate-end">
          {view.columns.map((title, index) => pad(sanitize(title), widths[index] ?? MIN_COLUMN)).join(gap)}
        </Text>
      </Box>
      {shown.map((row, rowIndex) => (
        <Box key={rowIndex} height={1} width={width} overflow="hidden">
          <Text wrap="truncate-end">
            {view.columns.map((_, index) => {
              const cell = sanitize(row[index] ?? '');
              const color = cellColor(cell);
              return (
                <Text key={index} {...(color ? { color: theme.color(color) } : {})}>
                  {index > 0 ? gap : ''}
                  {pad(cell, widths[index] ?? MIN_COLUMN)}
                </Text>
              );
            })}
          </Text>
        </Box>
      ))}
      {overflow && bodyRows > 0 ? (
        <Text dimColor wrap="truncate-end">
          ... {view.rows.length - shown.length} more rows
        </Text>
      ) : null}
    </Box>
  );
});

import { describe, expect, it } from 'vitest';
import { OPENBAO, VAULT } from '../../source/core/server.js';
import { hiddenCounts, phaseTitle, visibleWindow } from '../../source/ui/components/StepList.js';

describe('step list window', () => {
  it('keeps the focused row in view with a few rows of what comes next', () => {
    const rows = Array.from({ length: 20 }, (_, index) => index);
    expect(visibleWindow(rows, 0, 8)).toEqual({ start: 0, rows: [0, 1, 2, 3, 4, 5, 6, 7] });
    const middle = visibleWindow(rows, 10, 8);
    expect(middle.rows).toContain(10);
    expect(middle.rows.at(-1)).toBeGreaterThan(10);
    expect(visibleWindow(rows, 19, 8).rows.at(-1)).toBe(19);
    expect(visibleWindow([1, 2], 1, 8)).toEqual({ start: 0, rows: [1, 2] });
  });

  it('counts the rows out of sight, including the rows the "more" markers take', () => {
    // 20 rows, 8 shown from the top: the last shown row becomes "… 13 more below" (12 after it + itself).
    expect(hiddenCounts(20, 0, 8)).toEqual({ above: 0, below: 13 });
    // from the middle: both markers
    expect(hiddenCounts(20, 6, 8)).toEqual({ above: 7, below: 7 });
    // at the end: only above
    expect(hiddenCounts(20, 12, 8)).toEqual({ above: 13, below: 0 });
    // everything fits: no marker
    expect(hiddenCounts(5, 0, 5)).toEqual({ above: 0, below: 0 });
  });
});

describe('phase headings', () => {
  it("name the vault phase after the profile's server; the others are fixed", () => {
    expect(phaseTitle('vault', OPENBAO)).toBe('OpenBao');
    expect(phaseTitle('vault', VAULT)).toBe('Vault');
    expect(phaseTitle('host', OPENBAO)).toBe('Host');
    expect(phaseTitle('cluster', OPENBAO)).toBe('Cluster');
  });
});

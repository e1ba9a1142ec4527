/**
 * The log pane shows a journal line at the time journalctl wrote it (`-o short-iso`), not when it
 * arrived: the history lines `l` starts with all arrive at once.
 * https://www.freedesktop.org/software/systemd/man/latest/journalctl.html (short-iso)
 */
import { describe, expect, it } from 'vitest';
import { parseJournalLine } from '../../source/ui/hooks/useHome.js';

describe('parseJournalLine', () => {
  it('splits short-iso lines into their time and the rest', () => {
    expect(parseJournalLine('2026-11-28T19:20:24+0000 pi-lab vault[606]: core: vault is unsealed')).toEqual({
      at: Date.parse('2026-11-28T19:20:24+00:00'),
      text: 'pi-lab vault[606]: core: vault is unsealed',
    });
    expect(parseJournalLine('2026-11-28T20:20:24+01:00 pi-lab systemd[1]: Started vault.service').at).toBe(Date.parse('2026-11-28T19:20:24Z'));
  });

  it('keeps notes and other lines whole, without a time', () => {
    expect(parseJournalLine('-- No entries --')).toEqual({ text: '-- No entries --' });
    expect(parseJournalLine('not a journal line')).toEqual({ text: 'not a journal line' });
  });
});

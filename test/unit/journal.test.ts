/**
 * The pure parts of source/services/host/journal.ts: unit names, the probe's command and parsing,
 * who reads the system journal without sudo, and the journalctl command line.
 * journalctl(1) "Description": members of systemd-journal and adm read the system journal.
 * https://www.freedesktop.org/software/systemd/man/latest/journalctl.html
 */
import { describe, expect, it } from 'vitest';
import { journalCommand, parseProbe, probeCommand, readsSystemJournal, unitName } from '../../source/services/host/journal.js';

describe('journal helpers', () => {
  it('a name without a type means .service; a typed name is kept', () => {
    expect(unitName('vault')).toBe('vault.service');
    expect(unitName('vault-unseal')).toBe('vault-unseal.service');
    expect(unitName('vault.service')).toBe('vault.service');
    expect(unitName('vault.socket')).toBe('vault.socket');
  });

  it('journalctl command: each unit quoted after -u, follow, N lines, short-iso, no pager', () => {
    expect(journalCommand(['vault.service', 'vault-unseal.service'], 50)).toBe(
      "journalctl '-u' 'vault.service' '-u' 'vault-unseal.service' -f -n '50' -o short-iso --no-pager",
    );
    // A hostile name stays one word.
    expect(journalCommand(["x'; rm -rf /; '"], 1)).toBe(`journalctl '-u' 'x'\\''; rm -rf /; '\\''' -f -n '1' -o short-iso --no-pager`);
  });

  it('the probe quotes the unit names', () => {
    expect(probeCommand(['vault.service', 'a b.service'])).toContain("for unit in 'vault.service' 'a b.service'; do");
  });

  it('parses the probe: journalctl present, uid, groups, load states (empty = not-found)', () => {
    const probe = parseProbe(['journalctl=yes', 'uid=1000', 'groups=pi sudo adm', 'unit=vault.service loaded', 'unit=vault-unseal.service not-found', 'unit=x.service ', ''].join('\n'));
    expect(probe).toEqual({
      hasJournalctl: true,
      uid: 1000,
      groups: ['pi', 'sudo', 'adm'],
      loadStates: new Map([
        ['vault.service', 'loaded'],
        ['vault-unseal.service', 'not-found'],
        ['x.service', 'not-found'],
      ]),
    });
    expect(parseProbe('journalctl=no\nuid=0\ngroups=root\n').hasJournalctl).toBe(false);
  });

  it('root and members of systemd-journal or adm read the system journal; others need sudo', () => {
    expect(readsSystemJournal({ uid: 0, groups: ['root'] })).toBe(true);
    expect(readsSystemJournal({ uid: 1000, groups: ['pi', 'adm'] })).toBe(true);
    expect(readsSystemJournal({ uid: 1000, groups: ['pi', 'systemd-journal'] })).toBe(true);
    expect(readsSystemJournal({ uid: 1000, groups: ['pi', 'sudo'] })).toBe(false);
    expect(readsSystemJournal({ uid: undefined, groups: [] })).toBe(false);
  });
});

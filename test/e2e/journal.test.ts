/**
 * followJournal (source/services/host/journal.ts) against the lab host over real SSH (ssh2, as `pi`,
 * who is in neither systemd-journal nor adm, so journalctl runs through sudo), with a unit of this
 * test's own so the shared lab's Vault is never touched: a transient service (systemd-run) that
 * prints a line at start and then echoes whatever is written into its FIFO, so the test decides when
 * a new journal line appears.
 *  - the history line (-n) and a line written after following began both arrive, in short-iso form;
 *  - while following, journalctl runs on the host; after abort the promise resolves and no journalctl
 *    of ours is left on the host;
 *  - a unit that does not exist: left out with a note when another one exists, a UserError when none does.
 * journalctl(1): https://www.freedesktop.org/software/systemd/man/latest/journalctl.html
 * systemd-run(1): https://www.freedesktop.org/software/systemd/man/latest/systemd-run.html
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import { createTransport } from '../../source/services/host/factory.js';
import { followJournal } from '../../source/services/host/journal.js';
import { sh } from '../../source/services/host/shell-quote.js';
import type { Transport } from '../../source/services/host/transport.js';
import { labDir, readLabState, type LabState } from '../lab/lab.js';
import { LabHostShell } from './support/host.js';

const TAG = randomBytes(4).toString('hex');
const UNIT = `pvt-journal-${TAG}.service`;
const FIFO = `/run/pvt-journal-${TAG}.fifo`;

let lab: LabState;
let host: LabHostShell;
let transport: Transport;

/** Polls `probe` every 100 ms until it returns true or `timeoutMs` passes. */
async function until(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Our journalctl processes on the host (matched by this test's unit name), as `pid user args` lines. */
async function ourJournalctls(): Promise<string[]> {
  const out = await host.run(sh`ps -eo pid=,user=,args= | grep -F -- ${`journalctl -u ${UNIT}`} | grep -v grep || true`);
  return out.split('\n').filter((line) => line.trim().length > 0);
}

beforeAll(async () => {
  lab = await readLabState(inject('labDir') ?? labDir());
  host = new LabHostShell(lab);
  const labProfile = JSON.parse(readFileSync(lab.profileFile, 'utf8')) as Record<string, unknown>;
  const profile = ProfileSchema.parse(labProfile);
  transport = await createTransport(profile.host, { knownHostsFile: lab.host.knownHostsFile });
  await host.sudo(sh`mkfifo -m 0600 ${FIFO}`);
  // `cat` blocks on opening the FIFO until a writer comes: no polling on the host.
  await host.sudo(sh`systemd-run --quiet --unit=${UNIT} /bin/sh -c ${`echo started-${TAG}; while :; do cat ${FIFO}; done`}`);
  await until(`the start line of ${UNIT} in the journal`, 10_000, async () => (await host.sudo(sh`journalctl -u ${UNIT} -o cat --no-pager`)).includes(`started-${TAG}`));
});

afterAll(async () => {
  await transport?.close();
  if (host) await host.sudo(sh`systemctl stop ${UNIT} 2>/dev/null || :; rm -f -- ${FIFO}`);
});

describe('followJournal on the lab host', () => {
  it('streams the history line and a line written while following; abort resolves and leaves no journalctl on the host', { timeout: 60_000 }, async () => {
    const groups = (await host.run('id -nG')).trim().split(/\s+/);
    expect(groups).not.toContain('adm');
    expect(groups).not.toContain('systemd-journal');

    const lines: string[] = [];
    const controller = new AbortController();
    const following = followJournal(transport, { units: [UNIT], lines: 10, onLine: (line) => lines.push(line), signal: controller.signal });
    let settled = false;
    void following.then(
      () => (settled = true),
      () => (settled = true),
    );

    await until('the history line', 20_000, () => lines.some((line) => line.endsWith(`started-${TAG}`)));
    const started = lines.find((line) => line.endsWith(`started-${TAG}`))!;
    // short-iso: `2026-11-28T18:53:12+0000 pi-lab sh[123]: started-…`
    expect(started).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d{4} ${lab.host.hostname} sh\\[\\d+\\]: started-${TAG}$`));

    const running = await ourJournalctls();
    expect(running.length, running.join('\n')).toBeGreaterThan(0);
    // pi reads no system journal: the journalctl that follows runs as root (through sudo).
    expect(running.some((line) => /^\s*\d+ root /.test(line) && line.includes(`journalctl -u ${UNIT} -f -n 10 -o short-iso --no-pager`)), running.join('\n')).toBe(true);

    await host.sudo(sh`echo ${`written-while-following-${TAG}`} > ${FIFO}`);
    await until('the line written while following', 20_000, () => lines.some((line) => line.endsWith(`written-while-following-${TAG}`)));
    expect(settled).toBe(false);

    controller.abort();
    await expect(following).resolves.toBeUndefined();
    await until('no journalctl of ours on the host', 10_000, async () => (await ourJournalctls()).length === 0);
  });

  it('a unit that does not exist next to one that does: a note line, then the existing unit is followed', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const following = followJournal(transport, { units: [UNIT, 'pvt-no-such-unit'], lines: 5, onLine: (line) => lines.push(line), signal: controller.signal });
    await until('the history line', 20_000, () => lines.some((line) => line.endsWith(`started-${TAG}`)));
    expect(lines[0]).toBe(`-- pvt-no-such-unit.service not installed on the host; following ${UNIT} --`);
    controller.abort();
    await following;
    await until('no journalctl of ours on the host', 10_000, async () => (await ourJournalctls()).length === 0);
  });

  it('no unit of those asked exists: a UserError naming them, with a hint', async () => {
    const failure = await followJournal(transport, { units: ['pvt-no-such-unit', 'pvt-nor-this-one'], onLine: () => undefined, signal: new AbortController().signal }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).message).toMatch(/^pvt-no-such-unit\.service and pvt-nor-this-one\.service do not exist on ssh pi@127\.0\.0\.1:\d+$/);
    expect((failure as UserError).hint).toContain('systemctl status vault');
  });

  it('an already aborted signal resolves at once without running anything', async () => {
    const controller = new AbortController();
    controller.abort();
    let called = false;
    await followJournal(transport, { units: [UNIT], onLine: () => (called = true), signal: controller.signal });
    expect(called).toBe(false);
  });
});

/**
 * Day 2 in the real binary's TUI (`node bin/picluster-vault-tui.js`, dist/ from `npm run build`) in
 * a real terminal (tmux, 100x30), against a lab host of this file's own (support/labs.ts) set up with
 * `setup --phase host,vault --yes`:
 *  - the TUI opens on Home when the saved progress says the setup is complete; while the plan has
 *    phases not run yet (the cluster phase), on Setup with the first unfinished step selected, and
 *    shift+tab leads to Home: UNSEALED, the units;
 *  - the host's /etc/vault/vault_main.hcl is edited by hand over SSH → `r` → a drift row for
 *    host.config (and one for host.service: Vault runs with a configuration file changed since it
 *    started) → `enter` on each fixes it (the file matches the profile again, Vault restarted) →
 *    `r` → no drift;
 *  - `b` writes a raft snapshot into custody (0600, gzip) and says where and how big;
 *  - `l` streams the vault units' journal into the log pane, `l` stops it (no journalctl left on the host);
 *  - `q` quits with status 0.
 * tmux: https://man7.org/linux/man-pages/man1/tmux.1.html (send-keys, capture-pane)
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import { CliSession, type CliInfo } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { hasTmux, TuiTerminal } from './support/terminal.js';

const CONFIG_FILE = '/etc/vault/vault_main.hcl';
const CONFIG_TITLE = 'Write the Vault server configuration';
const SERVICE_TITLE = 'Install and start the vault.service unit';

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;
let info: CliInfo;
let terminal: TuiTerminal | undefined;
const figures: string[] = [];

/** The rows of the drift table on a screen (between its title row and the footer). */
function driftTable(screen: string): string[] {
  const lines = screen.split('\n');
  const title = lines.findIndex((line) => /^. Drift /.test(line));
  if (title < 0) return [];
  return lines.slice(title + 2).filter((line) => /^([>›] | {2})\S/.test(line));
}

/** Selects the drift row titled `title` with the arrow keys, presses enter, and waits until the fix took it off the table. */
async function fixRow(tui: TuiTerminal, title: string): Promise<void> {
  const selected = (): boolean => driftTable(tui.capture()).some((row) => /^[>›] /.test(row) && row.includes(title));
  for (let moves = 0; !selected() && moves < 20; moves++) {
    tui.keys('Down');
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  expect(selected(), `the row of ${title} selected`).toBe(true);
  tui.keys('Enter');
  await tui.waitForScreen((screen) => screen.includes('fixed in') && !driftTable(screen).some((row) => row.includes(title)), `${title} fixed`, 120_000);
}

beforeAll(async () => {
  if (!hasTmux) return;
  lab = await labs.get('tmux-day2');
  session = await CliSession.create('tmux-day2');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  const begin = Date.now();
  await session.ok(['setup', '--phase', 'host,vault', '--yes'], 300_000);
  figures.push(`lab up ${(lab.upMs / 1000).toFixed(1)} s; setup --phase host,vault --yes ${((Date.now() - begin) / 1000).toFixed(1)} s`);
  info = await session.info();
}, 420_000);

afterAll(async () => {
  terminal?.dispose();
  await session?.dispose();
  await labs.downAll();
  if (figures.length > 0) console.info(`tmux day 2 figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

describe.skipIf(!hasTmux)('day 2 in the TUI (real binary in tmux, 100x30, lab host)', () => {
  it('Home first; r finds the hand-edited config as drift, enter fixes it, r finds none; b snapshot; l live logs; q quits', { timeout: 300_000 }, async () => {
    terminal = TuiTerminal.start(session);
    const started = Date.now();
    const first = await terminal.waitForScreen((screen) => screen.includes('[Home]') || (screen.includes('[Setup]') && screen.includes('Status')), 'the first screen', 30_000);
    if (first.includes('[Setup]')) {
      // Phases after vault are in the plan but were not run: Setup first, at the first of their steps.
      const selected = await terminal.waitForScreen((screen) => /^○›\S/m.test(screen), 'the selected step');
      // Everything above it is done.
      const rows = selected.split('\n').map((line) => line.slice(0, 2));
      expect(rows.slice(2, rows.findIndex((row) => row === '○›')).filter((row) => /^[○✘■◌≠]/.test(row))).toEqual([]);
      terminal.keys('BTab');
    }
    const home = await terminal.waitForScreen((screen) => screen.includes('[Home]') && screen.includes('UNSEALED') && /vault-unseal\s+\S+, \S+/.test(screen), 'the home screen, unsealed, with the units', 60_000);
    figures.push(`home screen with the host's units after ${Date.now() - started} ms`);
    expect(home).toMatch(/Initialised\s+yes/);
    expect(home).toMatch(/Version\s+2\.0\.4/);
    expect(home).toMatch(/Storage\s+raft/);
    expect(home).toMatch(/Certificate\s+8\d\d days left/);
    expect(home).toMatch(/vault\s+active, enabled/);
    expect(home.trimEnd().split('\n').length).toBeLessThanOrEqual(29);

    // A hand edit on the host, as an administrator would make it.
    await lab.host.sudo(sh`printf '%s\n' '# tuned by hand' >> ${CONFIG_FILE}`);
    terminal.keys('r');
    const drift = await terminal.waitForScreen((screen) => screen.includes('re-checked in') && driftTable(screen).some((row) => row.includes(CONFIG_TITLE)), 'the drift row for host.config', 120_000);
    const configRow = driftTable(drift).find((row) => row.includes(CONFIG_TITLE))!;
    expect(configRow).toMatch(/drift\s+\/etc\/vault\/vault_main\.hcl differs/);
    console.info(`after r with the config edited by hand:\n${drift}`);

    const serviceRow = driftTable(drift).find((row) => row.includes(SERVICE_TITLE));
    expect(serviceRow).toMatch(/drift\s+restart needed/);

    await fixRow(terminal, CONFIG_TITLE);
    expect(await lab.host.sudo(sh`cat ${CONFIG_FILE}`)).not.toContain('# tuned by hand');
    await fixRow(terminal, SERVICE_TITLE);

    terminal.keys('r');
    const clean = await terminal.waitForScreen((screen) => screen.includes('re-checked in') && !screen.includes('checking'), 'the second re-check', 120_000);
    expect(driftTable(clean).filter((row) => /\sdrift\s/.test(row))).toEqual([]);
    expect(clean).toMatch(/re-checked in .*: \d+ done, \d+ todo, 0 drift/);
    const after = await terminal.waitForScreen((screen) => screen.includes('UNSEALED'), 'unsealed after the fix', 30_000);
    console.info(`after the fixes and a second r:\n${after}`);

    terminal.keys('b');
    const snapshot = await terminal.waitForScreen((screen) => /snapshot vault-\S+\.snap \(\d/.test(screen), 'the snapshot line', 60_000);
    // The line wraps onto a second row when it is longer than the terminal is wide.
    const [, name, size, dir] = /snapshot (vault-\d{8}T\d{6}Z\.snap) \(([^)]+)\) in\s+(\S+)/.exec(snapshot) ?? [];
    // The session's HOME is its temp dir: the custody dir is shown under ~.
    expect(dir).toBe(`~${path.join(info.custodyDir, 'snapshots').slice(session.home.length)}`);
    const file = path.join(info.custodyDir, 'snapshots', name!);
    expect(size).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
    expect((await stat(file!)).mode & 0o777).toBe(0o600);
    expect((await readFile(file!)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

    terminal.keys('l');
    const logs = await terminal.waitForScreen((screen) => screen.includes('following - l or esc stops') && /\d\d:\d\d:\d\d .*vault/.test(screen.split('Logs: vault, vault-unseal')[1] ?? ''), 'journal lines in the log pane', 60_000);
    console.info(`home screen following the logs:\n${logs}`);
    terminal.keys('l');
    await terminal.waitForScreen((screen) => screen.includes('stopped - l follows again') || (/^. Drift /m.test(screen) && !screen.includes('following')), 'the log stream stopped', 20_000);
    const left = await lab.host.exec('pgrep -a journalctl || true');
    expect(left.stdout.trim()).toBe('');

    terminal.keys('q');
    await terminal.waitForScreen((screen) => screen.includes('exited with status 0'), 'the app to quit', 20_000);
  });
});

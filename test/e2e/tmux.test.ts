/**
 * The real binary (`node bin/picluster-vault-tui.js`, built by `npm run build`) in a real terminal:
 * a detached tmux session of 100x30 on a tmux server of its own (`-L` socket), in temp XDG dirs.
 * Keys are sent with `send-keys`, the screen is read with `capture-pane`. The app runs under a small
 * sh that prints its exit status and then stays (a dead pane reports its cursor as hidden whatever
 * the app did), so after the app ends the test can see that the pane is off the alternate screen with
 * the cursor visible: the terminal was restored.
 * tmux formats used: pane_pid, alternate_on, cursor_flag (https://man7.org/linux/man-pages/man1/tmux.1.html, FORMATS).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FreshLabs } from './support/labs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'picluster-vault-tui.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
/** Lab instances of our own (each in its own LAB_DIR), for the run against a fresh host. */
const labs = new FreshLabs();

let home: string;
let socket: string;
let env: Record<string, string>;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', timeout: 10_000 });
}

function capture(): string {
  return tmux('capture-pane', '-p', '-t', 'tui');
}

function paneInfo(format: string): string {
  return tmux('display-message', '-p', '-t', 'tui', format).trim();
}

/** Text typed as it is (`send-keys -l`: no key names are looked up). */
function typeText(text: string): void {
  tmux('send-keys', '-t', 'tui', '-l', text);
}

/** The custody file `name` in the test's XDG data dir (wherever the profile's custody dir is). */
function findCustodyFile(name: string): string {
  const found = readdirSync(path.join(home, 'data'), { recursive: true, encoding: 'utf8' }).find((entry) => path.basename(entry) === name);
  if (!found) throw new Error(`no ${name} under ${path.join(home, 'data')}`);
  return path.join(home, 'data', found);
}

async function waitForScreen(predicate: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    screen = capture();
    if (predicate(screen)) return screen;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
}

/** Waits until the pane's terminal is in raw mode (no canonical input, no signal keys), as Ink sets it. */
async function waitForRawMode(): Promise<void> {
  const tty = paneInfo('#{pane_tty}');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const settings = execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' });
    if (/(^|\s)-icanon(\s|$)/.test(settings) && /(^|\s)-isig(\s|$)/.test(settings)) return;
    if (Date.now() > deadline) throw new Error(`the app never put ${tty} in raw mode:\n${settings}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for the wrapper's `exited with status N` line; returns N. */
async function waitForExit(): Promise<number> {
  const screen = await waitForScreen((text) => /exited with status \d+/.test(text), 'the app to exit');
  return Number(/exited with status (\d+)/.exec(screen)?.[1]);
}

/** The app's pid: the only child of the pane's sh. */
function appPid(): number {
  const shell = paneInfo('#{pane_pid}');
  const children = readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim().split(/\s+/);
  expect(children).toHaveLength(1);
  return Number(children[0]);
}

/** Starts the binary under sh (which reports its exit status), 100x30, with the test's environment. */
function startApp(): number {
  const started = Date.now();
  const envArgs = Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]);
  const wrapper = '"$0" "$1"; echo "exited with status $?"; exec sleep 600';
  tmux('-f', path.join(home, 'tmux.conf'), 'new-session', '-d', '-s', 'tui', '-x', '100', '-y', '30', ...envArgs, 'sh', '-c', wrapper, process.execPath, bin);
  return started;
}

beforeAll(() => {
  if (hasTmux && !existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it first)');
});

beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), 'pvt-tmux-'));
  socket = `pvt-e2e-${process.pid}-${path.basename(home)}`;
  // Nothing from the user's tmux config is read.
  writeFileSync(path.join(home, 'tmux.conf'), 'set -g default-terminal "tmux-256color"\n');
  env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_STATE_HOME: path.join(home, 'state'),
  };
  // A saved profile, made with the product itself, so the app opens on the Setup screen.
  execFileSync(process.execPath, [bin, 'profile', 'init'], { env, encoding: 'utf8' });
});

afterEach(() => {
  // Only the server this test started, through its own socket.
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  rmSync(home, { recursive: true, force: true });
});

afterAll(async () => {
  await labs.downAll();
}, 120_000);

describe.skipIf(!hasTmux)('the TUI in tmux (real binary, 100x30)', () => {
  it('shows the setup screen, help, the profile form, quits with q and restores the terminal', async () => {
    const started = startApp();
    const first = await waitForScreen((screen) => screen.includes('[Setup]') && screen.includes('Status'), 'the first screen');
    const firstScreenMs = Date.now() - started;
    expect(first).toContain('profile: default');
    expect(first).toContain('ssh pi@raspberrypi.local:22');
    // Never the full height: Ink would clear the screen on every frame.
    expect(first.trimEnd().split('\n').length).toBeLessThanOrEqual(29);
    expect(paneInfo('#{alternate_on} #{cursor_flag}')).toBe('1 0');

    tmux('send-keys', '-t', 'tui', '?');
    const help = await waitForScreen((screen) => screen.includes('[Help]'), 'the help screen');
    expect(help).toContain('Everywhere');
    expect(help).toContain('Setup screen');

    tmux('send-keys', '-t', 'tui', 'Escape');
    await waitForScreen((screen) => screen.includes('[Setup]'), 'the setup screen after esc');

    tmux('send-keys', '-t', 'tui', 'Tab');
    const profile = await waitForScreen((screen) => screen.includes('[Profile]') && screen.includes('Host address'), 'the profile screen');
    expect(profile).toContain('raspberrypi.local');

    tmux('send-keys', '-t', 'tui', 'q');
    expect(await waitForExit()).toBe(0);
    // Back on the normal screen with the cursor shown; the TUI's frame is gone with the alternate screen.
    expect(paneInfo('#{alternate_on} #{cursor_flag}')).toBe('0 1');
    const after = capture();
    expect(after).not.toContain('[Profile]');
    expect(after).toContain('exited with status 0');
    console.info(`first screen after ${firstScreenMs} ms`);
  });

  it('Ctrl+C with nothing running quits with status 0', async () => {
    startApp();
    await waitForScreen((screen) => screen.includes('[Setup]'), 'the first screen');
    // Ctrl+C is a key only once the app has put the terminal in raw mode; before that the terminal
    // turns it into SIGINT for the whole foreground group (the test's sh wrapper included).
    await waitForRawMode();
    tmux('send-keys', '-t', 'tui', 'C-c');
    expect(await waitForExit()).toBe(0);
    expect(paneInfo('#{alternate_on} #{cursor_flag}')).toBe('0 1');
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', 130],
  ] as const)('%s ends it with status %i and restores the terminal', async (signal, status) => {
    startApp();
    await waitForScreen((screen) => screen.includes('[Setup]'), 'the first screen');
    process.kill(appPid(), signal);
    expect(await waitForExit()).toBe(status);
    expect(paneInfo('#{alternate_on} #{cursor_flag}')).toBe('0 1');
  });

  it(
    'against a fresh lab host: phase 1 with enter, init keys on the Reveal screen, self-test table, typed unseal after u, quits cleanly',
    { timeout: 300_000 },
    async () => {
      const lab = await labs.get('tmux');
      execFileSync(process.execPath, [bin, 'profile', 'import', lab.state.profileFile], { env, encoding: 'utf8' });
      // Two of three keys unseal it; no auto-unseal, so a restarted Vault stays sealed until keys are typed.
      execFileSync(process.execPath, [bin, 'profile', 'set', 'vault.keyShares=3', 'vault.keyThreshold=2', 'vault.autoUnseal=false'], { env, encoding: 'utf8' });
      const started = startApp();
      await waitForScreen((screen) => screen.includes('[Setup]') && screen.includes('no CA certificate yet'), 'the setup screen before phase 1');

      tmux('send-keys', '-t', 'tui', 'Enter');
      // Phase 1 runs, then the vault phase initializes Vault and shows the keys once.
      const reveal = await waitForScreen((screen) => screen.includes('Shown once') && screen.includes('Initial Root Token:'), 'the Reveal screen', 180_000);
      const runToRevealMs = Date.now() - started;
      const record = JSON.parse(readFileSync(findCustodyFile('init.json'), 'utf8')) as { keys: string[]; keys_base64: string[]; root_token: string };
      expect(reveal).toContain(`Unseal Key 1: ${record.keys_base64[0]}`);
      expect(reveal).toContain(`Initial Root Token: ${record.root_token}`);
      tmux('send-keys', '-t', 'tui', 'Escape');
      await waitForScreen((screen) => screen.includes('closes only with y'), 'esc refused');
      tmux('send-keys', '-t', 'tui', 'y');
      await waitForScreen((screen) => screen.includes('Vault tokens issued'), 'the tokens Reveal screen', 60_000);
      tmux('send-keys', '-t', 'tui', 'y');

      const table = await waitForScreen((screen) => screen.includes('Policy self-test') && /^readwrite .*pass\s*$/m.test(screen), 'the self-test table', 60_000);
      expect(table).not.toMatch(/FAIL/);
      const unsealed = await waitForScreen((screen) => screen.includes('unsealed, initialized'), 'the status pane: unsealed', 15_000);
      for (const secret of [...record.keys, ...record.keys_base64, record.root_token]) expect(unsealed).not.toContain(secret);
      console.info(`tmux: Reveal screen ${(runToRevealMs / 1000).toFixed(1)} s after start; after the vault phase:\n${unsealed}`);
      // The cluster phase follows (this terminal has no helm: it stops at the ESO install); `u` is
      // for when no run is going on.
      await waitForScreen((screen) => /Now\s+idle/.test(screen), 'the end of the run', 120_000);

      // Custody without the keys (as if they were kept elsewhere), Vault restarted: sealed, keys are typed.
      renameSync(findCustodyFile('init.json'), path.join(home, 'init.json.kept-elsewhere'));
      await lab.host.sudo('systemctl restart vault.service');
      await waitForScreen((screen) => screen.includes('sealed, unseal progress 0/2'), 'the status pane: sealed again', 20_000);
      tmux('send-keys', '-t', 'tui', 'u');
      await waitForScreen((screen) => screen.includes('Keys accepted [--] 0/2'), 'the unseal dialog');
      typeText(record.keys[1]!);
      const typed = await waitForScreen((screen) => screen.includes('*'.repeat(20)), 'the masked key');
      expect(typed).not.toContain(record.keys[1]!);
      tmux('send-keys', '-t', 'tui', 'Enter');
      await waitForScreen((screen) => screen.includes('Keys accepted [#-] 1/2'), 'progress 1/2');
      typeText(record.keys[2]!);
      tmux('send-keys', '-t', 'tui', 'Enter');
      const after = await waitForScreen((screen) => screen.includes('unsealed, initialized') && !screen.includes('Keys accepted'), 'unsealed by typed keys', 20_000);
      for (const key of record.keys) expect(after).not.toContain(key);

      tmux('send-keys', '-t', 'tui', 'q');
      expect(await waitForExit()).toBe(0);
      expect(paneInfo('#{alternate_on} #{cursor_flag}')).toBe('0 1');
    },
  );
});

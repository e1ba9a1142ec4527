/**
 * What `npx picluster-vault-tui` gets: the tarball of `npm pack` (made from the built dist/),
 * installed offline into an empty directory. Nothing else may be needed at install time (the
 * bundle inlines its dependencies), the installed bin must answer, find assets/ through its own
 * files, reach the lab host over SSH with the inlined ssh2 (without its native add-on), and open
 * the TUI in a real terminal (tmux, 100x30) that `q` closes.
 * Also, from the same install: which heavy packages each plain command parses.
 * npm pack / install: https://docs.npmjs.com/cli/v11/commands/npm-pack, https://docs.npmjs.com/cli/v11/commands/npm-install
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { labDir, readLabState } from '../lab/lab.js';
import { loadedModules, REPO_ROOT } from '../bench/support/loaded-modules.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let work: string;
let installDir: string;
let packageDir: string;
let bin: string;
let env: NodeJS.ProcessEnv;
let tarballBytes = 0;

function run(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60_000, cwd: work });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the installed CLI and throws with all it printed unless it exits 0. */
function ok(args: readonly string[]): string {
  const result = run(args);
  if (result.code !== 0) throw new Error(`picluster-vault-tui ${args.join(' ')} exited ${result.code}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

beforeAll(() => {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it first)');
  work = mkdtempSync(path.join(tmpdir(), 'pvt-package-'));
  // --ignore-scripts: `prepare` would rebuild dist/ while other tests run it.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; size: number }[];
  const tarball = path.join(work, packed[0]!.filename);
  tarballBytes = packed[0]!.size;
  installDir = path.join(work, 'app');
  mkdirSync(installDir);
  writeFileSync(path.join(installDir, 'package.json'), '{"private":true}\n');
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: installDir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  packageDir = path.join(installDir, 'node_modules', 'picluster-vault-tui');
  bin = path.join(installDir, 'node_modules', '.bin', 'picluster-vault-tui');
  const home = path.join(work, 'home');
  env = {
    PATH: process.env['PATH'],
    HOME: home,
    LANG: 'C.UTF-8',
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_STATE_HOME: path.join(home, 'state'),
    SSH_AUTH_SOCK: '',
    NO_COLOR: '1',
  };
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball installed offline into an empty directory', () => {
  it('is small and installs the package alone: no dependency tree, no source maps, no build metadata', () => {
    expect(tarballBytes).toBeLessThan(3 * 1024 * 1024);
    const installed = readdirSync(path.join(installDir, 'node_modules')).filter((name) => !name.startsWith('.'));
    expect(installed).toEqual(['picluster-vault-tui']);
    const dist = readdirSync(path.join(packageDir, 'dist'));
    expect(dist).toContain('cli.js');
    expect(dist).toContain('THIRD-PARTY-LICENSES.txt');
    expect(dist.filter((name) => name.endsWith('.map') || name === 'meta.json')).toEqual([]);
    expect(readdirSync(path.join(packageDir, 'assets'))).toContain('vault_main.hcl');
  });

  it('answers --version (the bin fast path) and the CLI prints the same version', () => {
    const fast = run(['--version']);
    expect(fast).toMatchObject({ code: 0, stdout: `${version}\n` });
    // With another option, --version goes through the CLI itself.
    const full = run(['--no-color', '--version']);
    expect(full).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('prints the help of a command', () => {
    const known = run(['--help']).stdout;
    const command = /^\s+status\b/m.test(known) ? 'status' : 'plan';
    const help = run([command, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`Usage: picluster-vault-tui ${command}`);
  });

  it('plain commands parse no heavy module they do not use (Ink, React, ssh2, node-vault, the Kubernetes client, x509)', () => {
    if (run(['profile', 'path']).code !== 0 || !existsSync(run(['profile', 'path']).stdout.trim())) ok(['profile', 'init']);
    expect(loadedModules(['--version'], env, packageDir).chunks).toEqual([]);
    expect(loadedModules(['--help'], env, packageDir).heavy).toEqual(['commander']);
    const tuiOnly = ['ink', 'react', 'react-reconciler', 'yoga-layout'];
    const remote = ['ssh2', 'node-vault', 'axios', '@kubernetes/client-node', '@peculiar/x509'];
    const commands = [['info'], ['profile', 'show'], ['plan', '--offline'], ...(/^\s+status\b/m.test(run(['--help']).stdout) ? [['status', '--no-host']] : [])];
    for (const args of commands) {
      const loaded = loadedModules(args, env, packageDir);
      expect({ command: args.join(' '), heavy: loaded.heavy.filter((name) => [...tuiOnly, ...remote].includes(name)) }).toEqual({ command: args.join(' '), heavy: [] });
    }
  });

  it('reaches the lab host over SSH and reads assets/ from the install (plan --phase host)', { timeout: 120_000 }, async () => {
    const lab = await readLabState(inject('labDir') ?? labDir());
    ok(['--profile', 'pkg', 'profile', 'import', lab.profileFile]);
    const plan = run(['--profile', 'pkg', 'plan', '--phase', 'host', '--json']);
    const steps = (JSON.parse(plan.stdout) as { steps: { id: string; state: string; error?: string; detail?: string }[] }).steps;
    // Every step was checked on the host: the config step compares the host's file with the
    // template it renders from this install's assets/.
    expect(steps.length).toBeGreaterThan(3);
    for (const step of steps) expect({ id: step.id, state: step.state, error: step.error }).toMatchObject({ id: step.id, error: undefined });
    expect(steps.filter((step) => !['done', 'todo', 'drift'].includes(step.state))).toEqual([]);
    expect(plan.stderr).not.toMatch(/assets directory was not found/);
  });

  describe.skipIf(!hasTmux)('in a real terminal (tmux, 100x30)', () => {
    it('opens the TUI on the Setup screen and q quits with status 0', async () => {
      const socket = `pvt-package-${process.pid}`;
      const conf = path.join(work, 'tmux.conf');
      writeFileSync(conf, 'set -g default-terminal "tmux-256color"\n');
      if (!existsSync(run(['profile', 'path']).stdout.trim())) ok(['profile', 'init']);
      const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', timeout: 10_000 });
      const envArgs = Object.entries({ ...env, NO_COLOR: undefined }).flatMap(([name, value]) => (value === undefined ? [] : ['-e', `${name}=${value}`]));
      try {
        tmux('-f', conf, 'new-session', '-d', '-s', 'tui', '-x', '100', '-y', '30', ...envArgs, 'sh', '-c', '"$0"; echo "exited with status $?"; exec sleep 600', bin);
        const waitFor = async (predicate: (screen: string) => boolean, what: string): Promise<string> => {
          const deadline = Date.now() + 20_000;
          let screen = '';
          while (Date.now() < deadline) {
            screen = tmux('capture-pane', '-p', '-t', 'tui');
            if (predicate(screen)) return screen;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
        };
        const first = await waitFor((screen) => screen.includes('[Setup]') && screen.includes('Status'), 'the Setup screen');
        expect(first).toContain('profile: default');
        tmux('send-keys', '-t', 'tui', 'q');
        const end = await waitFor((screen) => /exited with status \d+/.test(screen), 'the app to exit');
        expect(/exited with status (\d+)/.exec(end)?.[1]).toBe('0');
      } finally {
        spawnSync('tmux', ['-L', socket, 'kill-server']);
      }
    });
  });
});

/**
 * The built command line (`node bin/picluster-vault-tui.js`, i.e. dist/ from `npm run build`, which
 * `npm test` runs first), driven as a user would, in temp XDG directories.
 * Terminal cases run under `script` (util-linux) to get a real pseudo-terminal.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'picluster-vault-tui.js');
const packageVersion = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const ESC = '\u001b[';

let home: string;
let env: NodeJS.ProcessEnv;
let profileFile: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Result {
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', input: '', timeout: 15_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Quotes one word for /bin/sh (test-only: the command line handed to `script -c`). */
const quoteForSh = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

/** Runs the CLI with stdin, stdout and stderr on a pseudo-terminal; returns everything it printed. */
function cliInTerminal(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): { code: number | null; output: string } {
  const command = [process.execPath, bin, ...args].map(quoteForSh).join(' ');
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 15_000 });
  return { code: result.status, output: result.stdout };
}

beforeAll(() => {
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it first)');
});

beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), 'pvt-cli-'));
  env = {
    PATH: process.env['PATH'],
    HOME: home,
    TERM: 'xterm-256color',
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_STATE_HOME: path.join(home, 'state'),
  };
  profileFile = path.join(home, 'config', 'picluster-vault-tui', 'profiles', 'default.json');
  return () => rmSync(home, { recursive: true, force: true });
});


function expectUsageError(result: Result, pattern: RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^error: /m);
  expect(result.stderr).toMatch(/^hint: /m);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
}

describe('cli: global flags', () => {
  it('--version prints the package version, fast', () => {
    const start = performance.now();
    const result = cli(['--version']);
    const elapsed = performance.now() - start;
    expect(result).toEqual({ code: 0, stdout: `${packageVersion}\n`, stderr: '' });
    const baselineStart = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    const baseline = performance.now() - baselineStart;
    console.info(`--version: ${elapsed.toFixed(0)} ms (node -e 0: ${baseline.toFixed(0)} ms)`);
    expect(elapsed).toBeLessThan(baseline + 1500);
  });

  it('--help lists the subcommands and global flags on stdout', () => {
    const result = cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const word of ['profile', 'info', 'plan', '--profile <name>', '--no-color', '--version']) expect(result.stdout).toContain(word);
    const profileHelp = cli(['profile', '--help']);
    for (const word of ['list', 'show', 'path', 'keys', 'init', 'set', 'import']) expect(profileHelp.stdout).toMatch(new RegExp(`^  ${word}\\b`, 'm'));
    expect(cli(['help', 'profile'])).toEqual(profileHelp);
  });

  it('unknown flags and commands: commander message, a hint, exit 2', () => {
    expectUsageError(cli(['--bogus']), /unknown option '--bogus'/);
    expectUsageError(cli(['profil']), /unknown command 'profil'[\s\S]*Did you mean profile\?/);
    expectUsageError(cli(['profile', 'shw']), /unknown command 'shw'/);
    expectUsageError(cli(['--profile', '../etc', 'info']), /not a valid profile name/);
    expectUsageError(cli(['profile', 'set']), /missing required argument/);
  });
});

describe('cli: profile commands', () => {
  it('init, show, set, list, path', () => {
    const init = cli(['profile', 'init']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`created profile "default" with default values: ${profileFile}`);
    expect(statSync(profileFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(profileFile)).mode & 0o777).toBe(0o700);

    const shown = cli(['profile', 'show', '--json']);
    expect(shown.code).toBe(0);
    const profile = JSON.parse(shown.stdout);
    expect(profile.host).toMatchObject({ address: 'raspberrypi.local', port: 22, user: 'pi' });

    const set = cli(['profile', 'set', 'host.address=10.0.0.11', 'host.port=2222', 'vault.tls.extraSans=vault.lan,10.0.0.12', 'vault.autoUnseal=false']);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('host.port = 2222');
    expect(set.stderr).toBe('');
    const human = cli(['profile', 'show']);
    expect(human.stdout).toMatch(/^host\.address\s+10\.0\.0\.11$/m);
    expect(human.stdout).toMatch(/^vault\.tls\.extraSans\s+vault\.lan,10\.0\.0\.12$/m);
    expect(human.stdout).toMatch(/^vault\.autoUnseal\s+false$/m);

    expect(cli(['--profile', 'lab', 'profile', 'init']).code).toBe(0);
    expect(cli(['profile', 'list'])).toEqual({ code: 0, stdout: 'default\nlab\n', stderr: '' });
    expect(JSON.parse(cli(['profile', 'list', '--json', '--profile', 'lab']).stdout)).toEqual([
      { name: 'default', file: profileFile, selected: false },
      { name: 'lab', file: path.join(path.dirname(profileFile), 'lab.json'), selected: true },
    ]);
    expect(cli(['profile', 'path']).stdout).toBe(`${profileFile}\n`);
    expect(cli(['profile', 'keys']).stdout).toMatch(/^vault\.tls\.extraSans\s+list \(a,b,c\)\s+\(none\)$/m);
  });

  it('import: a valid file replaces the profile, an invalid one changes nothing', () => {
    cli(['profile', 'init']);
    const exported = path.join(home, 'exported.json');
    cli(['profile', 'set', 'host.user=admin']);
    writeFileSync(exported, cli(['profile', 'show', '--json']).stdout);
    cli(['profile', 'set', 'host.user=pi']);

    const imported = cli(['profile', 'import', exported]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`the previous content is kept in ${profileFile}.bak`);
    expect(JSON.parse(cli(['profile', 'show', '--json']).stdout).host.user).toBe('admin');

    const before = readFileSync(profileFile);
    const bad = path.join(home, 'bad.json');
    writeFileSync(bad, JSON.stringify({ host: { port: 70000, password: 'x' } }));
    const refused = cli(['profile', 'import', bad]);
    expectUsageError(refused, /host\.password: looks like a secret[\s\S]*host\.port: must be from 1 to 65535[\s\S]*Nothing was written/);
    expect(readFileSync(profileFile).equals(before)).toBe(true);
  });

  it('bad values: error + hint + exit 2, and the file is byte-identical afterwards', () => {
    cli(['profile', 'init']);
    const before = readFileSync(profileFile);
    expectUsageError(cli(['profile', 'set', 'host.port=70000']), /host\.port: must be from 1 to 65535/);
    expectUsageError(cli(['profile', 'set', 'vault.version=1.2.3; rm -rf /']), /is not a Vault version/);
    expectUsageError(cli(['profile', 'set', 'host.password=hunter2']), /looks like a secret/);
    expectUsageError(cli(['profile', 'set', 'host.prot=22']), /unknown profile key "host\.prot"[\s\S]*Did you mean host\.port/);
    expectUsageError(cli(['profile', 'set', 'host.port']), /is not KEY=VALUE/);
    expectUsageError(cli(['profile', 'init']), /already exists/);
    expect(readFileSync(profileFile).equals(before)).toBe(true);
  });

  it('a corrupted profile: the error names the file and position, the file is left as it was', () => {
    cli(['profile', 'init']);
    writeFileSync(profileFile, '{\n  "host": {\n    "port": 22,\n  }\n}\n');
    const before = readFileSync(profileFile);
    for (const args of [['profile', 'show'], ['plan'], ['profile', 'set', 'host.port=23']]) {
      const result = cli(args);
      expectUsageError(result, new RegExp(`${profileFile.replaceAll('.', '\\.')} is not valid JSON: trailing comma before "}" at line 4, column 3`));
      expect(result.stderr).toMatch(/left untouched/);
    }
    expect(readFileSync(profileFile).equals(before)).toBe(true);
  });
});

describe('cli: info and plan', () => {
  it('info --json names the files under the XDG directories', () => {
    const result = cli(['info', '--json', '--profile', 'lab']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      version: packageVersion,
      profile: 'lab',
      configDir: path.join(home, 'config', 'picluster-vault-tui'),
      dataDir: path.join(home, 'data', 'picluster-vault-tui'),
      stateDir: path.join(home, 'state', 'picluster-vault-tui'),
      profilesDir: path.join(home, 'config', 'picluster-vault-tui', 'profiles'),
      profileFile: path.join(home, 'config', 'picluster-vault-tui', 'profiles', 'lab.json'),
      profileExists: false,
      custodyDir: path.join(home, 'data', 'picluster-vault-tui', 'custody', 'lab'),
      logFile: path.join(home, 'state', 'picluster-vault-tui', 'logs', 'lab.log'),
    });
    expect(cli(['info']).stdout).toMatch(/^custody dir\s+\S+custody\/default$/m);
  });

  it('plan prints every step of the plan phase by phase (or "no steps"), and needs a profile', () => {
    expectUsageError(cli(['plan']), /profile "default" does not exist[\s\S]*profile init/);
    cli(['profile', 'init']);
    // --offline: describe only. (Without it plan checks each step's state on the host; that is
    // tested against the lab host in host-phase.test.ts. This test must reach no host at all.)
    cli(['profile', 'set', 'host.address=127.0.0.1', 'vault.nodeIp=127.0.0.1']);
    const json = cli(['plan', '--offline', '--json']);
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout) as { profile: string; steps: { id: string; phase: string; title: string; planned: { kind: string; summary: string }[] }[] };
    expect(plan.profile).toBe('default');
    const human = cli(['plan', '--offline']);
    expect(human.code).toBe(0);
    expect(human.stderr).toBe('');
    if (plan.steps.length === 0) {
      expect(human.stdout).toBe('plan for profile "default": no steps\n');
    } else {
      for (const step of plan.steps) {
        expect(human.stdout).toContain(`${step.title} [${step.id}]`);
        for (const item of step.planned) expect(human.stdout).toContain(item.summary);
      }
      const phases = [...new Set(plan.steps.map((step) => step.phase))];
      const headings = human.stdout.split('\n').filter((line) => /^(host|vault|cluster)$/.test(line));
      expect(headings).toEqual(phases);
    }
  });
});

describe('cli: interactive or not', () => {
  it('without a subcommand and without a terminal: a message naming the subcommands, exit 2', () => {
    const result = cli([]);
    expectUsageError(result, /interactive interface needs a terminal \(stdin is not a terminal\)[\s\S]*plan[\s\S]*profile[\s\S]*info/);
  });

  it('on a terminal with CI set: the same message, exit 2', () => {
    const result = cliInTerminal([], { CI: 'true' });
    expect(result.code).toBe(2);
    expect(result.output).toContain('the interactive interface needs a terminal (CI is set)');
  });
});

describe('cli: colour', () => {
  const broken = (): void => writeFileSync(profileFile, '{');

  it('colours errors and headings on a terminal by default', () => {
    cli(['profile', 'init']);
    expect(cliInTerminal(['profile', 'show']).output).toContain(ESC);
    broken();
    expect(cliInTerminal(['profile', 'show']).output).toContain(`${ESC}31m`);
  });

  it.each([
    ['--no-color', ['--no-color'], {}],
    ['NO_COLOR=1', [], { NO_COLOR: '1' }],
    ['TERM=dumb', [], { TERM: 'dumb' }],
  ])('%s: no ANSI escapes at all', (_label, flags, extraEnv) => {
    cli(['profile', 'init']);
    const shown = cliInTerminal([...flags, 'profile', 'show'], extraEnv);
    expect(shown.code).toBe(0);
    expect(shown.output).toContain('host.address');
    expect(shown.output).not.toContain('\u001b');
    broken();
    const failed = cliInTerminal([...flags, 'profile', 'show'], extraEnv);
    expect(failed.code).toBe(2);
    expect(failed.output).toContain('error: ');
    expect(failed.output).not.toContain('\u001b');
    const usage = cliInTerminal([...flags, '--bogus'], extraEnv);
    expect(usage.output).toContain("error: unknown option '--bogus'");
    expect(usage.output).not.toContain('\u001b');
  });

  it('output to a pipe never carries escapes', () => {
    cli(['profile', 'init']);
    expect(cli(['profile', 'show']).stdout).not.toContain('\u001b');
  });
});

describe('cli: unexpected errors', () => {
  it('print the message and the log file, keep the stack in the log (or on stderr with DEBUG)', () => {
    // The config "directory" is a file: creating the profiles dir fails with ENOTDIR.
    writeFileSync(path.join(home, 'config'), 'not a directory');
    const result = cli(['profile', 'init']);
    const logFile = path.join(home, 'state', 'picluster-vault-tui', 'logs', 'default.log');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: .*ENOTDIR/m);
    expect(result.stderr).toContain(`see the log file ${logFile}`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(readFileSync(logFile, 'utf8')).toMatch(/ERROR \[cli\][\s\S]*\n\s+at /);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);

    expect(cli(['profile', 'init'], { DEBUG: 'node-vault' }).stderr).not.toMatch(/^\s+at /m);
    expect(cli(['profile', 'init'], { DEBUG: '1' }).stderr).toMatch(/^\s+at /m);
  });
});

describe('cli: pipes', () => {
  it('exits quietly when the reader of stdout goes away (`profile show | head -1`)', () => {
    expect(cli(['profile', 'init']).code).toBe(0);
    const result = spawnSync('bash', ['-c', `set -o pipefail; ${quoteForSh(process.execPath)} ${quoteForSh(bin)} profile show | head -1`], { env, encoding: 'utf8', timeout: 15_000 });
    expect(result.stdout).toMatch(/^profile default /);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

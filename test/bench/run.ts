/**
 * `npm run bench`: start-up, first TUI frame, `status` against a Vault, the log pane under a flood,
 * a full setup against a fresh lab host, and the package. Prints a table, writes
 * test/bench/results/latest.json (the run before it is kept as previous.json) and compares the two.
 *
 * Every time is a median over several runs, and every start-up figure is also given as a ratio to
 * `node -e 0` measured in the same run, so figures from a busy or a quiet machine can be compared.
 * Tools: hyperfine (Debian package `hyperfine`; https://github.com/sharkdp/hyperfine), util-linux
 * `script` for a pty, curl, Node's perf_hooks. `PVT_BENCH_ONLY=startup,tui,...` runs a subset;
 * `PVT_BENCH_RUNS` sets the hyperfine run count (default 30).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { stripVTControlCharacters } from 'node:util';
import { build } from 'esbuild';
import { bundleOptions } from '../../scripts/build-options.mjs';
import { CliSession, type StepSummary } from '../e2e/support/cli.js';
import { FreshLabs } from '../e2e/support/labs.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable } from '../lab/vault-sim/testing.js';
import { sh } from '../../source/services/host/shell-quote.js';
import { loadedModules, REPO_ROOT } from './support/loaded-modules.js';

const BIN = path.join(REPO_ROOT, 'bin', 'picluster-vault-tui.js');
const RESULTS_DIR = path.join(REPO_ROOT, 'test', 'bench', 'results');
const RUNS = Number(process.env['PVT_BENCH_RUNS'] ?? 30);
const ONLY = process.env['PVT_BENCH_ONLY']?.split(',').map((name) => name.trim());
const SECTIONS = ['startup', 'modules', 'tui', 'status', 'logpane', 'setup', 'package'] as const;
type Section = (typeof SECTIONS)[number];
const enabled = (section: Section): boolean => !ONLY || ONLY.includes(section);

/** One row of the printed table. */
interface Row {
  key: string;
  what: string;
  value: number;
  unit: string;
  /** The target, as text, and whether this value meets it. */
  target?: string;
  ok?: boolean;
}

const rows: Row[] = [];
const details: Record<string, unknown> = {};
const pending: string[] = [];

function row(key: string, what: string, value: number, unit: string, target?: { text: string; ok: boolean }): void {
  rows.push({ key, what, value, unit, ...(target ? { target: target.text, ok: target.ok } : {}) });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** A user of the CLI in a temp HOME (config, custody, logs), removed at the end. */
function tempUser(label: string): { home: string; env: NodeJS.ProcessEnv; dispose(): void } {
  const home = mkdtempSync(path.join(os.tmpdir(), `pvt-bench-${label}-`));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: home,
    LANG: 'C.UTF-8',
    TERM: 'xterm-256color',
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_STATE_HOME: path.join(home, 'state'),
    SSH_AUTH_SOCK: '',
  };
  return { home, env, dispose: () => rmSync(home, { recursive: true, force: true }) };
}

function cli(env: NodeJS.ProcessEnv, ...args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface HyperfineResult {
  command: string;
  median: number;
  user: number;
  system: number;
  times: number[];
  exit_codes: (number | null)[];
}

/** hyperfine without a shell (-N), the commands interleaved in one run; medians in ms. */
function hyperfine(commands: Record<string, string>, env: NodeJS.ProcessEnv, runs = RUNS): Record<string, { medianMs: number; cpuMs: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pvt-bench-hf-'));
  try {
    const json = path.join(dir, 'out.json');
    const names = Object.keys(commands);
    const args = ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', json, '--style', 'none'];
    for (const name of names) args.push('--command-name', name, commands[name]!);
    // --ignore-failure: `status` exits 2 or 3 for a sealed or uninitialized Vault, which is a result, not an error.
    execFileSync('hyperfine', [...args, '--ignore-failure'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const results = (JSON.parse(readFileSync(json, 'utf8')) as { results: HyperfineResult[] }).results;
    return Object.fromEntries(
      results.map((result, index) => [names[index]!, { medianMs: round(result.median * 1000), cpuMs: round((result.user + result.system) * 1000) }]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let nodeBaselineMs = 0;

// (a) --version and --help beside `node -e 0`.
async function benchStartup(): Promise<void> {
  const user = tempUser('startup');
  try {
    const node = process.execPath;
    const times = hyperfine({ 'node -e 0': `${node} -e 0`, 'bin --version': `${node} ${BIN} --version`, 'bin --help': `${node} ${BIN} --help` }, user.env);
    nodeBaselineMs = times['node -e 0']!.medianMs;
    details['startup'] = times;
    row('node', '`node -e 0` (baseline)', nodeBaselineMs, 'ms');
    const ratio = (name: string): number => round(times[name]!.medianMs / nodeBaselineMs, 2);
    row('version', '`--version`', times['bin --version']!.medianMs, 'ms', { text: '≤ 1.2× node', ok: ratio('bin --version') <= 1.2 });
    row('version.ratio', '`--version` / node', ratio('bin --version'), '×');
    row('help', '`--help`', times['bin --help']!.medianMs, 'ms', { text: '≤ 1.5× node', ok: ratio('bin --help') <= 1.5 });
    row('help.ratio', '`--help` / node', ratio('bin --help'), '×');
  } finally {
    user.dispose();
  }
}

// Which heavy packages each command parses (from dist/meta.json).
async function benchModules(): Promise<void> {
  const user = tempUser('modules');
  try {
    cli(user.env, 'profile', 'init');
    cli(user.env, 'profile', 'set', 'host.address=127.0.0.1', 'vault.nodeIp=127.0.0.1');
    const commands: string[][] = [['--version'], ['--help'], ['info'], ['profile', 'show'], ['plan', '--offline'], ...(hasStatus() ? [['status', '--no-host']] : [])];
    const loaded: Record<string, { kib: number; heavy: string[] }> = {};
    for (const args of commands) {
      const result = loadedModules(args, user.env);
      loaded[args.join(' ')] = { kib: result.kib, heavy: result.heavy };
      row(`modules.${args.join('-')}`, `JS parsed by \`${args.join(' ')}\` (${result.heavy.join(', ') || 'no heavy package'})`, result.kib, 'KiB');
    }
    details['modules'] = loaded;
  } finally {
    user.dispose();
  }
}

let statusKnown: boolean | undefined;
function hasStatus(): boolean {
  statusKnown ??= spawnSync(process.execPath, [BIN, 'status', '--help'], { encoding: 'utf8' }).status === 0;
  return statusKnown;
}

/**
 * (b) Time from spawning the CLI in a pty (util-linux `script`, 100x30) to the first frame of the
 * Setup screen on it; `q` then quits. The same wrapper around `node -e 0` is the floor.
 */
async function firstFrameOnce(env: NodeJS.ProcessEnv, command: string, marker: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('script', ['-qfec', `stty cols 100 rows 30; exec ${command}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    let output = '';
    let shownAt: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (marker && shownAt === undefined && stripVTControlCharacters(output).includes(marker)) {
        shownAt = performance.now();
        child.stdin.write('q');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (marker === undefined) resolve(performance.now() - started);
      else if (shownAt !== undefined && code === 0) resolve(shownAt - started);
      else reject(new Error(`no first frame (exit ${code}); output:\n${stripVTControlCharacters(output).slice(-2000)}`));
    });
  });
}

async function benchFirstFrame(): Promise<void> {
  const user = tempUser('tui');
  try {
    cli(user.env, 'profile', 'init');
    const runs = Math.max(5, Math.round(RUNS / 3));
    const floor: number[] = [];
    const frames: number[] = [];
    for (let i = 0; i < runs; i++) {
      floor.push(await firstFrameOnce(user.env, `${process.execPath} -e 0`, undefined));
      frames.push(await firstFrameOnce(user.env, `${process.execPath} ${BIN}`, '[Setup]'));
    }
    const frameMs = round(median(frames));
    const floorMs = round(median(floor));
    details['tui'] = { frames, floor };
    const ratio = round(frameMs / (nodeBaselineMs || floorMs), 2);
    row('tui', 'first TUI frame in a pty (100x30)', frameMs, 'ms', { text: '≤ 2.5× node', ok: ratio <= 2.5 });
    row('tui.ratio', 'first TUI frame / node', ratio, '×');
    row('tui.pty', '`node -e 0` under the same pty wrapper', floorMs, 'ms');
  } finally {
    user.dispose();
  }
}

// (c) `status --no-host` against the lab's Vault simulator, beside curl of the same endpoint with the same CA.
async function benchStatus(): Promise<void> {
  if (!hasStatus()) {
    pending.push('status: the `status` command is not in the CLI yet');
    return;
  }
  const user = tempUser('status');
  const work = mkdtempSync(path.join(os.tmpdir(), 'pvt-bench-vault-'));
  let vault: Awaited<ReturnType<typeof startVault>> | undefined;
  try {
    const tls = await makeTlsMaterial(path.join(work, 'tls'));
    const executable = await writeVaultExecutable(path.join(work, 'bin'), '2.0.4');
    vault = await startVault({ executable, dir: work, tls });
    // Initialized and unsealed, as a user checking on a working Vault finds it.
    const init = await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/init', body: { secret_shares: 1, secret_threshold: 1 } });
    await vaultRequest(vault.url, tls.caPem, { method: 'PUT', path: 'sys/unseal', body: { key: (init.json as { keys: string[] }).keys[0] } });
    cli(user.env, 'profile', 'init');
    cli(user.env, 'profile', 'set', 'host.address=127.0.0.1', 'vault.nodeIp=127.0.0.1', `vault.apiPort=${vault.port}`, 'vault.tls.mode=provided', `vault.tls.caFile=${tls.caFile}`);
    const check = spawnSync(process.execPath, [BIN, 'status', '--no-host'], { env: user.env, encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`status --no-host exited ${check.status}:\n${check.stdout}${check.stderr}`);
    const node = process.execPath;
    const times = hyperfine(
      {
        'node -e 0': `${node} -e 0`,
        'status --no-host': `${node} ${BIN} status --no-host`,
        curl: `curl -sS --fail -o /dev/null --cacert ${tls.caFile} ${vault.url}/v1/sys/seal-status`,
      },
      user.env,
    );
    details['status'] = times;
    const base = times['node -e 0']!.medianMs;
    const ratio = round(times['status --no-host']!.medianMs / base, 2);
    row('status', '`status --no-host` (Vault simulator, TLS with our CA)', times['status --no-host']!.medianMs, 'ms', { text: '≤ 1.5× node', ok: ratio <= 1.5 });
    row('status.ratio', '`status --no-host` / node', ratio, '×');
    row('status.curl', 'curl of /v1/sys/seal-status, same CA (floor)', times['curl']!.medianMs, 'ms');
  } finally {
    await vault?.stop();
    rmSync(work, { recursive: true, force: true });
    user.dispose();
  }
}

// (d) The log pane fed 50,000 lines: bundled like the product (production React), run with --expose-gc.
async function benchLogPane(): Promise<void> {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'pvt-bench-logpane-build-'));
  try {
    await build({ ...bundleOptions({ entryPoints: ['test/bench/logpane.tsx'], outdir }), sourcemap: false, logLevel: 'error' });
    const run = spawnSync(process.execPath, ['--expose-gc', path.join(outdir, 'logpane.js')], { encoding: 'utf8', timeout: 300_000 });
    const line = run.stdout.split('\n').find((text) => text.startsWith('{'));
    if (run.status !== 0 || !line) throw new Error(`the log pane benchmark failed (${run.status}):\n${run.stdout}${run.stderr}`);
    const result = JSON.parse(line) as {
      lines: number;
      ms: number;
      fps: number;
      worstGapMs: number;
      p95GapMs: number;
      renderMedianMs: number;
      peakRssMiB: number;
      heapGrowthKiB: number;
      showedLastLine: boolean;
    };
    details['logpane'] = result;
    row('logpane.ms', `log pane: ${result.lines} lines ingested in`, result.ms, 'ms');
    row('logpane.fps', 'log pane: frames per second during the flood', result.fps, 'fps', { text: '≥ 20', ok: result.fps >= 20 });
    row('logpane.gap', 'log pane: worst gap between frames', result.worstGapMs, 'ms', { text: '≤ 100', ok: result.worstGapMs <= 100 });
    row('logpane.p95gap', 'log pane: 95th percentile gap', result.p95GapMs, 'ms');
    row('logpane.render', "log pane: Ink's render time, median", result.renderMedianMs, 'ms');
    row('logpane.rss', 'log pane: peak RSS', result.peakRssMiB, 'MiB', { text: '< 150', ok: result.peakRssMiB < 150 });
    row('logpane.heap', 'log pane: heap growth over the next 50k lines (after GC)', result.heapGrowthKiB, 'KiB', { text: '≈ 0 (< 1024)', ok: result.heapGrowthKiB < 1024 });
    if (!result.showedLastLine) throw new Error('the log pane did not show the last line of the flood');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * (e) `setup --phase host,vault --yes` against a fresh lab host. sshd on the host logs at VERBOSE
 * for this run: each connection is an "Accepted publickey" line and each command the product runs
 * is a "Starting session: command" line (OpenSSH sshd_config(5) LogLevel; session.c do_exec).
 */
async function benchSetup(): Promise<void> {
  const labs = new FreshLabs();
  let session: CliSession | undefined;
  try {
    const lab = await labs.get('bench');
    await lab.host.sudo("printf 'LogLevel VERBOSE\\n' > /etc/ssh/sshd_config.d/05-bench.conf && systemctl reload ssh");
    const cursor = /cursor: (\S+)/.exec(await lab.host.sudo('journalctl -n 0 --show-cursor -q'))?.[1];
    if (!cursor) throw new Error('no journal cursor on the lab host');
    session = await CliSession.create('bench-setup');
    await session.ok(['profile', 'import', lab.state.profileFile]);
    const started = performance.now();
    const { result, data } = await session.json<{ steps: (StepSummary & { durationMs?: number })[] }>(['setup', '--phase', 'host,vault', '--yes'], 600_000);
    const wallMs = performance.now() - started;
    if (result.code !== 0) throw new Error(`setup failed (${result.code}):\n${result.stderr.slice(-3000)}`);
    // This connection's own port tells its lines apart from the product's.
    // $SSH_CLIENT is "address port 22" of this very connection (sudo would reset it, so it is read first).
    const journal = await lab.host.run(sh`echo "client $SSH_CLIENT"; sudo -n journalctl -q -o cat _COMM=sshd --after-cursor=${cursor}`);
    const ownPort = /^client \S+ (\d+)/.exec(journal)?.[1];
    const productLines = journal.split('\n').filter((text) => !ownPort || !text.includes(`port ${ownPort}`));
    const connections = productLines.filter((text) => /Accepted (publickey|password|keyboard-interactive)/.test(text)).length;
    const commands = productLines.filter((text) => /Starting session: command/.test(text)).length;
    const perPhase: Record<string, number> = {};
    for (const step of data.steps) perPhase[step.phase] = (perPhase[step.phase] ?? 0) + (step.durationMs ?? 0);
    const download = data.steps.find((step) => step.id === 'host.binary')?.durationMs ?? 0;
    details['setup'] = { wallMs: Math.round(wallMs), perPhaseMs: perPhase, binaryStepMs: download, connections, commands, labUpMs: lab.upMs, steps: data.steps.map((step) => ({ id: step.id, ms: step.durationMs })) };
    row('setup.wall', '`setup --phase host,vault --yes`, wall time', round(wallMs / 1000), 's');
    const hostWithoutDownload = ((perPhase['host'] ?? 0) - download) / 1000;
    row('setup.host', 'host phase (steps), minus the binary download step', round(hostWithoutDownload), 's', { text: '≤ 20 s', ok: hostWithoutDownload <= 20 });
    row('setup.binary', 'host.binary step (download, verify, install)', round(download / 1000), 's');
    row('setup.vault', 'vault phase (steps)', round((perPhase['vault'] ?? 0) / 1000), 's');
    row('setup.connections', 'SSH connections opened', connections, '', { text: '1', ok: connections === 1 });
    row('setup.commands', 'commands run over SSH (one channel each)', commands, '');
  } finally {
    await session?.dispose();
    await labs.downAll();
  }
}

// (f) The tarball: size, and install time from it into an empty directory, offline.
async function benchPackage(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'pvt-bench-pack-'));
  try {
    // --ignore-scripts: `prepare` would rebuild dist/ under the feet of anything else using it.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { filename: string; size: number; unpackedSize: number; entryCount: number }[];
    const tarball = path.join(work, packed[0]!.filename);
    const sizeKiB = Math.round(statSync(tarball).size / 1024);
    const installs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = path.join(work, `install-${i}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
      const started = performance.now();
      execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: dir, stdio: 'ignore' });
      installs.push(performance.now() - started);
    }
    const version = execFileSync(path.join(work, 'install-0', 'node_modules', '.bin', 'picluster-vault-tui'), ['--version'], { encoding: 'utf8' }).trim();
    details['package'] = { sizeKiB, unpackedKiB: Math.round(packed[0]!.unpackedSize / 1024), files: packed[0]!.entryCount, installMs: installs.map(Math.round), version };
    row('package.size', 'packed tarball', sizeKiB, 'KiB', { text: '≤ 3 MiB', ok: sizeKiB <= 3072 });
    const installS = round(median(installs) / 1000, 2);
    row('package.install', '`npm install --offline ./tarball` into an empty dir', installS, 's', { text: '≤ 3 s', ok: installS <= 3 });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function machine(): Record<string, unknown> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    hyperfine: spawnSync('hyperfine', ['--version'], { encoding: 'utf8' }).stdout.trim(),
    loadAverage: os.loadavg().map((value) => round(value, 2)),
  };
}

function printTable(previous: { rows?: Row[] } | undefined): void {
  const before = new Map((previous?.rows ?? []).map((entry) => [entry.key, entry]));
  const lines = [['what', 'value', 'target', 'previous', 'change']];
  for (const entry of rows) {
    const old = before.get(entry.key);
    const change = old && old.value !== 0 ? `${entry.value >= old.value ? '+' : ''}${round(((entry.value - old.value) / old.value) * 100, 0)}%` : '';
    lines.push([
      entry.what,
      `${entry.value} ${entry.unit}`.trim(),
      entry.target ? `${entry.target} ${entry.ok ? 'ok' : 'MISSED'}` : '',
      old ? `${old.value} ${old.unit}`.trim() : '',
      change,
    ]);
  }
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  for (const [index, line] of lines.entries()) {
    process.stdout.write(`${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}\n`);
    if (index === 0) process.stdout.write(`${widths.map((width) => '-'.repeat(width)).join('  ')}\n`);
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'meta.json'))) throw new Error('dist/ is missing or old: npm run bench builds it first (npm run build)');
  const started = new Date();
  const benches: Record<Section, () => Promise<void>> = {
    startup: benchStartup,
    modules: benchModules,
    tui: benchFirstFrame,
    status: benchStatus,
    logpane: benchLogPane,
    setup: benchSetup,
    package: benchPackage,
  };
  const failures: string[] = [];
  for (const section of SECTIONS) {
    if (!enabled(section)) continue;
    process.stderr.write(`bench: ${section}...\n`);
    const begin = performance.now();
    try {
      await benches[section]();
    } catch (error) {
      failures.push(`${section}: ${(error as Error).message}`);
    }
    process.stderr.write(`bench: ${section} done in ${round((performance.now() - begin) / 1000)} s\n`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const latestFile = path.join(RESULTS_DIR, 'latest.json');
  const previousFile = path.join(RESULTS_DIR, 'previous.json');
  const previous = existsSync(latestFile) ? (JSON.parse(readFileSync(latestFile, 'utf8')) as { rows?: Row[] }) : undefined;
  printTable(previous);
  for (const note of pending) process.stdout.write(`pending: ${note}\n`);
  for (const failure of failures) process.stdout.write(`FAILED: ${failure}\n`);
  // A partial run (PVT_BENCH_ONLY) or a failed one is printed but not recorded over a full run.
  if (!ONLY && failures.length === 0) {
    if (existsSync(latestFile)) copyFileSync(latestFile, previousFile);
    writeFileSync(latestFile, `${JSON.stringify({ date: started.toISOString(), machine: machine(), runs: RUNS, rows, details, pending }, null, 2)}\n`);
    process.stdout.write(`results: ${path.relative(REPO_ROOT, latestFile)} (the run before: ${path.relative(REPO_ROOT, previousFile)})\n`);
  }
  process.exitCode = failures.length > 0 ? 1 : 0;
}

await main();

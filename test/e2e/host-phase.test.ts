/**
 * Phase 1 (host) end to end: the built CLI (`setup --phase host --yes`, `plan --phase host`) against
 * lab hosts over real SSH as `pi` with sudo, and the hosts inspected afterwards over OpenSSH as an
 * administrator would (systemctl, curl --cacert, openssl, stat).
 *
 * Scenarios that need a bare host or change a host in ways others must not see run on fresh lab
 * instances of their own (test/lab/lab.ts, each in its own LAB_DIR), started in parallel up front and
 * stopped at the end. The suite's shared lab is only used read-only (a wrong SSH key).
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import { pickFreePorts } from '../lab/host/ports.js';
import { labDir, readLabState, type LabState } from '../lab/lab.js';
import { CliSession, describeResult, type CliResult, type PlanSummary, type RunningCli, type SetupSummary, type StepSummary } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import {
  CA_FILE,
  CERT_FILE,
  CONFIG_FILE,
  KEY_FILE,
  VAULT_BINARY,
  VAULT_DIRECTORIES,
  VAULT_UNIT,
  VAULT_UNIT_FILE,
  WRITTEN_BY_SETUP,
  certificatesIn,
  healthStatus,
  phaseSnapshot,
  writeStamps,
  type PhaseSnapshot,
} from './support/vault-host.js';

const SETUP = ['setup', '--phase', 'host', '--yes'];
const PLAN = ['plan', '--phase', 'host'];
/** A setup run on a fresh lab host (download, TLS, service start) should take well under this. */
const RUN_TIMEOUT_MS = 120_000;

const labs = new FreshLabs();
const sessions: CliSession[] = [];
const timings: string[] = [];

/**
 * The node IP the install scenarios give Vault: a loopback address (the lab host shares this
 * machine's network) other than 127.0.0.1, so the certificate's node-IP SAN and the API address the
 * profile names are told apart from the 127.0.0.1 SAN every certificate has.
 */
const NODE_IP = '127.0.0.2';
const EXTRA_SAN = 'vault.lab.test';
const INSTALL_SETTINGS = [`vault.nodeIp=${NODE_IP}`, `vault.tls.extraSans=${EXTRA_SAN}`];

/** A CLI user with the lab instance's profile imported, then `settings` applied with `profile set`. */
async function sessionFor(lab: LabState, label: string, settings: readonly string[] = []): Promise<CliSession> {
  const session = await CliSession.create(label);
  sessions.push(session);
  await session.ok(['profile', 'import', lab.profileFile]);
  if (settings.length > 0) await session.ok(['profile', 'set', ...settings]);
  return session;
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const begin = Date.now();
  try {
    return await work();
  } finally {
    timings.push(`${label}: ${((Date.now() - begin) / 1000).toFixed(1)}s`);
  }
}

/** Runs `setup --phase host --yes --json`; returns the exit code and the parsed summary. */
async function setupJson(session: CliSession): Promise<{ result: CliResult; summary: SetupSummary }> {
  const { result, data } = await session.json<SetupSummary>(SETUP, RUN_TIMEOUT_MS);
  return { result, summary: data };
}

function stepsLine(steps: readonly StepSummary[]): string {
  return steps.map((step) => `${step.id}=${step.state}${step.outcome ? `/${step.outcome}` : ''}${step.error ? ` (${step.error})` : ''}`).join(', ');
}

/** The host phase's steps as the product lists them (`plan --offline`: connects to nothing). */
async function hostSteps(session: CliSession): Promise<StepSummary[]> {
  const { result, data } = await session.json<PlanSummary>([...PLAN, '--offline']);
  expect(result.code, describeResult([...PLAN, '--offline', '--json'], result)).toBe(0);
  expect(data.steps.length, 'the host phase has steps').toBeGreaterThan(0);
  return data.steps;
}

function stepNamed(steps: readonly StepSummary[], pattern: RegExp): StepSummary {
  const step = steps.find((candidate) => pattern.test(candidate.id));
  if (!step) throw new Error(`no host step id matches ${pattern}: ${steps.map((s) => s.id).join(', ')}`);
  return step;
}

/** The headless progress line a step prints when its apply starts: `[N/M] Title ...`. */
function startLine(step: StepSummary): RegExp {
  return new RegExp(`^\\[\\d+/\\d+\\] ${step.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\.\\.\\.$`);
}

/** Log lines of the running step are printed indented under its progress line. */
const STEP_LOG_LINE = /^ {6}\S/;

/**
 * Starts setup and SIGKILLs it in the middle of `step`: after its start line and its first log line
 * (its apply is under way on the host). Returns what the CLI printed.
 */
async function killDuring(session: CliSession, step: StepSummary): Promise<{ running: RunningCli; killed: CliResult }> {
  const running = session.start(SETUP);
  try {
    const started = await running.waitForStderrLine(startLine(step), RUN_TIMEOUT_MS);
    await running.waitForStderrLine(STEP_LOG_LINE, 60_000, started.end);
  } catch (error) {
    await running.kill();
    throw error;
  }
  const killed = await running.kill();
  return { running, killed };
}

/** Files of the local custody directory with their content (the CA and its key live there). */
async function custodyFiles(session: CliSession): Promise<Map<string, string>> {
  const { custodyDir } = await session.info();
  const files = new Map<string, string>();
  for (const name of await readdir(custodyDir).catch(() => [] as string[])) files.set(name, await readFile(path.join(custodyDir, name), 'utf8'));
  return files;
}

/** Every file under a local directory, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

beforeAll(async () => {
  // Fresh hosts for each scenario group, brought up together (a few seconds each from the cache).
  for (const name of ['fresh', 'resume', 'failures']) void labs.get(name);
  const fresh = await labs.get('fresh');
  timings.push(`lab instance up: ${(fresh.upMs / 1000).toFixed(1)}s`);
});

afterAll(async () => {
  const begin = Date.now();
  await Promise.all(sessions.map((session) => session.dispose()));
  await labs.downAll();
  timings.push(`lab instances down: ${((Date.now() - begin) / 1000).toFixed(1)}s`);
  console.log(`host phase e2e timings:\n  ${timings.join('\n  ')}`);
});

/** The reference end state of an uninterrupted run (taken on the 'fresh' host). */
let uninterrupted: PhaseSnapshot | undefined;

describe('setup --phase host on a fresh host', () => {
  let lab: FreshLab;
  let session: CliSession;
  let steps: StepSummary[];
  let firstRunOk = false;

  beforeAll(async () => {
    lab = await labs.get('fresh');
    session = await sessionFor(lab.state, 'fresh', INSTALL_SETTINGS);
    steps = await hostSteps(session);
  });

  it('installs Vault: service active and enabled, API answers 501 over TLS verified with our CA, SANs, owners and modes', { timeout: 180_000 }, async () => {
    const { result, summary } = await timed('first setup on a fresh host', () => setupJson(session));
    expect(result.code, describeResult(SETUP, result)).toBe(0);
    expect(summary.result).toBe('ok');
    expect(summary.steps.map((step) => step.id)).toEqual(steps.map((step) => step.id));
    expect(summary.steps.filter((step) => step.state !== 'done'), stepsLine(summary.steps)).toEqual([]);
    firstRunOk = true;
    const { host } = lab;
    const apiPort = lab.state.vaultApiPort;

    expect(await host.unitState(VAULT_UNIT)).toEqual({ active: 'active', enabled: 'enabled' });

    // On the host, with the CA file the product put there (in /etc/vault/tls, which only root and vault may enter).
    const curl = await host.sudoExec(sh`curl -sS -o /dev/null -w '%{http_code}' --cacert ${CA_FILE} ${`https://127.0.0.1:${apiPort}/v1/sys/health`}`);
    expect(curl.stdout, curl.stderr).toBe('501'); // 501: initialized false (https://developer.hashicorp.com/vault/api-docs/system/health)

    // From here, with the CA kept in local custody: it is the one on the host, and it verifies the API.
    const { custodyDir } = await session.info();
    const custodyCas = [...(await certificatesIn(custodyDir)).values()];
    expect(custodyCas.length, `a CA certificate in custody (${custodyDir})`).toBeGreaterThan(0);
    const hostCa = await host.readFile(CA_FILE);
    expect(custodyCas.map((pem) => pem.trim())).toContain(hostCa.trim());
    expect(await healthStatus(apiPort, hostCa)).toBe(501);
    expect(await healthStatus(apiPort, hostCa, NODE_IP)).toBe(501);
    for (const file of await readdir(custodyDir)) expect(((await stat(path.join(custodyDir, file))).mode & 0o777).toString(8), `custody file ${file}`).toBe('600');

    // The server certificate: SANs for loopback, the node IP, the host's name and the extra name; signed by our CA.
    const sans = await host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -ext subjectAltName`);
    for (const san of ['IP Address:127.0.0.1', `IP Address:${NODE_IP}`, 'DNS:localhost', `DNS:${lab.state.host.hostname}`, `DNS:${EXTRA_SAN}`]) expect(sans).toContain(san);
    expect(await host.sudo(sh`openssl verify -CAfile ${CA_FILE} ${CERT_FILE}`)).toContain(': OK');

    const entries = new Map((await host.list([...VAULT_DIRECTORIES, KEY_FILE, VAULT_BINARY])).map((entry) => [entry.path, entry]));
    for (const dir of VAULT_DIRECTORIES) {
      const entry = entries.get(dir);
      // The config tree is root's (Vault reads it through its group); only data and logs are Vault's.
      const owner = dir === '/var/lib/vault' || dir === '/var/log/vault' ? 'vault' : 'root';
      expect(entry && `${entry.type} ${entry.owner}:${entry.group} ${entry.mode}`, dir).toBe(`d ${owner}:vault 750`);
    }
    // The key: 0640 root:vault or 0600 vault, never readable by others.
    const key = entries.get(KEY_FILE);
    expect(key && `${key.owner}:${key.group} ${key.mode}`).toMatch(/^(root:vault 640|vault:vault 600)$/);
    const binary = entries.get(VAULT_BINARY);
    expect(binary && `${binary.type} ${binary.owner} ${binary.mode}`).toBe('f root 755');
    expect(await host.run(sh`${VAULT_BINARY} version`)).toContain(`Vault v${lab.state.vault.latest}`);

    // The server key was made for the host: it is not on this machine in the clear.
    const serverKey = (await host.readFile(KEY_FILE)).trim();
    expect(serverKey).toContain('PRIVATE KEY-----');
    for (const file of await filesUnder(session.home)) expect((await readFile(file, 'utf8')).includes(serverKey), `server key found in ${file}`).toBe(false);

    uninterrupted = await phaseSnapshot(host, { apiPort, clusterPort: lab.state.vaultClusterPort });
  });

  it('a second run reports every step already done, writes no file and restarts nothing', { timeout: 120_000 }, async () => {
    expect(firstRunOk, 'needs the first run to have succeeded').toBe(true);
    const { host } = lab;
    const before = writeStamps(await host.list(WRITTEN_BY_SETUP));
    const started = await host.unitProperties(VAULT_UNIT, ['ExecMainStartTimestampMonotonic', 'ExecMainPID', 'NRestarts']);
    expect(Number(started['ExecMainStartTimestampMonotonic'])).toBeGreaterThan(0);

    const { result, summary } = await timed('second setup (all done)', () => setupJson(session));
    expect(result.code, describeResult(SETUP, result)).toBe(0);
    expect(summary.steps.map((step) => `${step.id} ${step.state} ${step.outcome}`)).toEqual(steps.map((step) => `${step.id} done already-done`));
    // Nothing applied: no step's start line was printed.
    expect(result.stderr).not.toMatch(/^\[\d+\/\d+\] .* \.\.\.$/m);

    expect(writeStamps(await host.list(WRITTEN_BY_SETUP))).toEqual(before);
    expect(await host.unitProperties(VAULT_UNIT, ['ExecMainStartTimestampMonotonic', 'ExecMainPID', 'NRestarts'])).toEqual(started);
  });

  it('drift: an edited config, a loosened directory and a stopped service show in plan, and setup fixes them', { timeout: 180_000 }, async () => {
    expect(firstRunOk, 'needs the first run to have succeeded').toBe(true);
    const { host } = lab;
    const config = stepNamed(steps, /config/);
    const directories = stepNamed(steps, /director/);
    const service = stepNamed(steps, /service/);
    const handEdit = '# added by hand on the host';
    await host.sudo(sh`echo ${handEdit} >> ${CONFIG_FILE} && chmod 0755 /etc/vault/policy && systemctl stop ${VAULT_UNIT}`);

    const { result: planResult, data: planned } = await timed('plan (drift)', () => session.json<PlanSummary>(PLAN, RUN_TIMEOUT_MS));
    expect(planResult.code, describeResult([...PLAN, '--json'], planResult)).toBe(0);
    const stateOf = (summary: PlanSummary | SetupSummary, id: string): string | undefined => summary.steps.find((step) => step.id === id)?.state;
    for (const step of [config, directories, service]) expect(['drift', 'todo'], `${step.id}: ${stepsLine(planned.steps)}`).toContain(stateOf(planned, step.id));
    for (const step of steps.filter((candidate) => ![config.id, directories.id, service.id].includes(candidate.id) && !/verify/.test(candidate.id))) {
      expect(stateOf(planned, step.id), `${step.id} was not touched: ${stepsLine(planned.steps)}`).toBe('done');
    }
    // What is wrong is said: the directory by name and mode, the config by name (or its diff).
    expect(planned.steps.find((step) => step.id === directories.id)?.detail).toMatch(/\/etc\/vault\/policy/);
    expect(planned.steps.find((step) => step.id === directories.id)?.detail).toMatch(/755/);

    const plain = await session.run(PLAN, RUN_TIMEOUT_MS);
    expect(plain.code, describeResult(PLAN, plain)).toBe(0);
    const lineOf = (step: StepSummary): string => plain.stdout.split('\n').find((line) => line.includes(`[${step.id}]`)) ?? '';
    expect(lineOf(config), plain.stdout).toMatch(/\] (drift|todo) .*vault_main\.hcl/);
    expect(lineOf(directories), plain.stdout).toMatch(/\] (drift|todo) .*\/etc\/vault\/policy/);
    expect(lineOf(service), plain.stdout).toMatch(/\] (drift|todo)/);
    // The config's diff: in the log file after plan, on stderr while setup fixes it.
    const diffLine = new RegExp(`^.*-${handEdit}$`, 'm');
    expect(await readFile((await session.info()).logFile, 'utf8')).toMatch(diffLine);

    const { result, summary } = await timed('setup fixing drift', () => setupJson(session));
    expect(result.code, describeResult(SETUP, result)).toBe(0);
    for (const step of [config, directories, service]) expect(summary.steps.find((candidate) => candidate.id === step.id)?.outcome, stepsLine(summary.steps)).toBe('applied');
    expect(result.stderr).toMatch(new RegExp(`^ {6}-${handEdit}$`, 'm'));

    const after = await session.json<PlanSummary>(PLAN, RUN_TIMEOUT_MS);
    expect(after.result.code).toBe(0);
    expect(after.data.steps.filter((step) => step.state !== 'done'), stepsLine(after.data.steps)).toEqual([]);
    expect(await host.readFile(CONFIG_FILE)).not.toContain(handEdit);
    expect((await host.list(['/etc/vault/policy']))[0]?.mode).toBe('750');
    expect(await host.unitState(VAULT_UNIT)).toEqual({ active: 'active', enabled: 'enabled' });
  });
});

describe('resume after the CLI is killed', () => {
  it('SIGKILL in the binary step, then in the service step: the next run completes to the same end state as an uninterrupted run, reusing the CA and key', { timeout: 300_000 }, async () => {
    const lab = await labs.get('resume');
    const session = await sessionFor(lab.state, 'resume', INSTALL_SETTINGS);
    const steps = await hostSteps(session);
    const binary = stepNamed(steps, /binary/);
    const service = stepNamed(steps, /service/);
    const { host } = lab;

    const first = await timed('setup killed in the binary step', () => killDuring(session, binary));
    expect(first.killed.signal).toBe('SIGKILL');
    let profile = await session.profile();
    expect(profile.lastRun?.startedAt, 'a run was recorded').toBeTruthy();
    expect(profile.lastRun?.endedAt, 'the killed run is recorded as interrupted').toBeUndefined();
    expect(profile.progress[binary.id]?.state, `killed while ${binary.id} ran: ${JSON.stringify(profile.progress)}`).toBe('running');
    const plainShow = await session.run(['profile', 'show']);
    expect(plainShow.stdout).toContain('did not finish (interrupted)');

    const second = await timed('setup killed in the service step', () => killDuring(session, service));
    expect(second.killed.signal).toBe('SIGKILL');
    // The resumed run went past the binary step before it was killed.
    expect(second.running.stderr).toMatch(new RegExp(`\\] ${binary.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (done|already done)`));
    profile = await session.profile();
    expect(profile.lastRun?.endedAt).toBeUndefined();
    expect(profile.progress[service.id]?.state, JSON.stringify(profile.progress)).toBe('running');
    // TLS was done before the service step: its material must survive the next run unchanged.
    const tlsBefore = await host.sha256([CERT_FILE, KEY_FILE, CA_FILE]);
    expect(tlsBefore.size).toBe(3);
    const custodyBefore = await custodyFiles(session);
    expect(custodyBefore.size).toBeGreaterThan(0);

    const { result, summary } = await timed('setup resuming', () => setupJson(session));
    expect(result.code, describeResult(SETUP, result)).toBe(0);
    expect(summary.steps.filter((step) => step.state !== 'done'), stepsLine(summary.steps)).toEqual([]);
    profile = await session.profile();
    expect(profile.lastRun?.endedAt).toBeTruthy();
    expect(profile.lastRun?.result).toBe('ok');

    expect(await host.sha256([CERT_FILE, KEY_FILE, CA_FILE])).toEqual(tlsBefore);
    expect(await custodyFiles(session)).toEqual(custodyBefore);
    expect(await healthStatus(lab.state.vaultApiPort, await host.readFile(CA_FILE))).toBe(501);

    expect(uninterrupted, 'the uninterrupted run on the other fresh host must have succeeded to compare with').toBeDefined();
    const resumed = await phaseSnapshot(host, { apiPort: lab.state.vaultApiPort, clusterPort: lab.state.vaultClusterPort });
    expect(resumed).toEqual(uninterrupted);
  });
});

describe('failures: a clear message with a hint, a non-zero exit, nothing installed or saved wrongly', () => {
  let lab: FreshLab;

  beforeAll(async () => {
    lab = await labs.get('failures');
  });

  it('a checksum mismatch stops the binary step: exit 1, the checksum named with a hint, no vault binary, no temp dir left', { timeout: 180_000 }, async () => {
    const session = await sessionFor(lab.state, 'checksum');
    const [corrupt] = lab.state.vault.corrupt as [string];
    await session.ok(['profile', 'set', `vault.version=${corrupt}`]);
    const binary = stepNamed(await hostSteps(session), /binary/);
    const { host } = lab;
    const tmpBefore = (await host.sudo('ls -A /tmp /var/tmp')).split('\n').sort();

    const { result, summary } = await timed('setup with a corrupted release', () => setupJson(session));
    expect(result.code, describeResult(SETUP, result)).toBe(1);
    expect(summary.result).toBe('failed');
    const failed = summary.steps.find((step) => step.id === binary.id);
    expect(failed?.state, stepsLine(summary.steps)).toBe('failed');
    expect(failed?.error).toMatch(/checksum|sha-?256/i);
    expect(failed?.hint, 'the failure comes with a hint').toBeTruthy();
    expect(result.stderr).toMatch(/failed: .*(checksum|sha-?256)/i);
    expect(result.stderr).toMatch(/^ +hint: \S/m);
    // Nothing after the failed step ran.
    const after = summary.steps.slice(summary.steps.findIndex((step) => step.id === binary.id) + 1);
    expect(after.filter((step) => step.state !== 'not-run'), stepsLine(summary.steps)).toEqual([]);

    expect(await host.exists(VAULT_BINARY)).toBe(false);
    expect(await host.exists(VAULT_UNIT_FILE)).toBe(false);
    expect((await host.sudo('ls -A /tmp /var/tmp')).split('\n').sort()).toEqual(tmpBefore);
    const profile = await session.profile();
    expect(profile.lastRun).toMatchObject({ result: 'failed', failedStep: binary.id });
  });

  it('an unreachable host: exit != 0 with the address, a hint, and the profile unchanged', { timeout: 60_000 }, async () => {
    const session = await sessionFor(lab.state, 'unreachable');
    // A port nothing listens on (picked free on this machine, which the lab host shares).
    const [closedPort] = (await pickFreePorts(1)) as [number];
    await session.ok(['profile', 'set', `host.port=${closedPort}`]);
    const before = await readFile((await session.info()).profileFile, 'utf8');

    const result = await timed('setup against an unreachable host', () => session.run(SETUP, 60_000));
    expect(result.code, describeResult(SETUP, result)).not.toBe(0);
    expect(result.stderr).not.toContain('[test] killed');
    // Says where it tried: the address and port, so a typo in either is visible.
    expect(result.stderr).toContain(`127.0.0.1:${closedPort}`);
    expect(result.stderr).toMatch(/hint: \S/);
    const after = JSON.parse(await readFile((await session.info()).profileFile, 'utf8')) as Record<string, unknown>;
    const { progress: _p, lastRun: _l, ...settingsAfter } = after;
    const { progress: _p0, lastRun: _l0, ...settingsBefore } = JSON.parse(before) as Record<string, unknown>;
    expect(settingsAfter).toEqual(settingsBefore);
  });

  it('a wrong SSH key: exit != 0, authentication named with a hint, nothing changed on the host', { timeout: 60_000 }, async () => {
    // The suite's shared lab, used read-only: a login that fails changes nothing there.
    const shared = await readLabState(inject('labDir') ?? labDir());
    const session = await sessionFor(shared, 'wrong-key');
    const strangerKey = path.join(session.home, 'stranger_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', strangerKey]);
    await session.ok(['profile', 'set', `host.keyFile=${strangerKey}`]);
    const pinned = (JSON.parse(await readFile((await session.info()).profileFile, 'utf8')) as { host: { hostKey: unknown } }).host.hostKey;

    const result = await timed('setup with a wrong SSH key', () => session.run(SETUP, 60_000));
    expect(result.code, describeResult(SETUP, result)).not.toBe(0);
    expect(result.stderr).not.toContain('[test] killed');
    expect(result.stderr).toMatch(/refused the login|authenticat|permission denied/i);
    expect(result.stderr).toMatch(/hint: \S/);
    expect((JSON.parse(await readFile((await session.info()).profileFile, 'utf8')) as { host: { hostKey: unknown } }).host.hostKey).toEqual(pinned);
  });

  it('an unsupported architecture (uname -m says i686): exit != 0 naming it, with a hint, nothing installed', { timeout: 90_000 }, async () => {
    const session = await sessionFor(lab.state, 'arch');
    const { host } = lab;
    // systemd's Personality=x86 makes uname(2) report i686 to sshd and every login it serves, as on a
    // 32-bit x86 system (systemd.exec(5), Personality=: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html).
    const dropInDir = '/etc/systemd/system/ssh.service.d';
    const dropIn = `${dropInDir}/10-personality.conf`;
    if ((await host.run('uname -m')).trim() !== 'x86_64') throw new Error('this test makes an x86_64 lab host look like i686; the lab host is not x86_64');
    try {
      await host.sudo(sh`mkdir -p ${dropInDir} && printf '%s\\n' '[Service]' 'Personality=x86' > ${dropIn} && systemctl daemon-reload && systemctl restart ssh`);
      expect((await host.run('uname -m')).trim()).toBe('i686');

      const result = await timed('setup on an i686 host', () => session.run(SETUP, 60_000));
      expect(result.code, describeResult(SETUP, result)).not.toBe(0);
      expect(result.stderr).toMatch(/i686/);
      expect(result.stderr).toMatch(/architecture/i);
      expect(result.stderr).toMatch(/hint: \S/);
      expect(await host.exists(VAULT_BINARY)).toBe(false);
    } finally {
      await host.sudo(sh`rm -f ${dropIn} && systemctl daemon-reload && systemctl restart ssh`);
    }
    expect((await host.run('uname -m')).trim()).toBe('x86_64');
  });

  it('sudo needing a password with no terminal to ask: exit != 0 promptly, saying a password is needed and how to give it', { timeout: 90_000 }, async () => {
    const session = await sessionFor(lab.state, 'sudo-password');
    // Written from outside (the host's root directory is on this machine): pi loses NOPASSWD, and
    // the change is undone the same way, since pi then has no sudo without a password.
    const dropIn = path.join(lab.state.host.root, 'etc', 'sudoers.d', '010_pi-nopasswd');
    const original = await readFile(dropIn, 'utf8');
    try {
      await writeFile(dropIn, 'pi ALL=(ALL:ALL) ALL\n', { mode: 0o440 });
      const probe = await lab.host.exec('sudo -n true');
      expect(probe.code, 'sudo -n now needs a password on the host').not.toBe(0);
      expect(probe.stderr).toMatch(/password is required/);

      const result = await timed('setup with sudo needing a password', () => session.run(SETUP, 60_000));
      expect(result.code, describeResult(SETUP, result)).not.toBe(0);
      expect(result.stderr, 'did not hang waiting for a password').not.toContain('[test] killed');
      expect(result.stderr).toMatch(/sudo/i);
      expect(result.stderr).toMatch(/password/i);
      expect(result.stderr).toMatch(/hint: \S/);
    } finally {
      await writeFile(dropIn, original, { mode: 0o440 });
    }
  });
});

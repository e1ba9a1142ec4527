/**
 * The host phase's steps through the real runner (runPlan) against a fresh lab host over SSH:
 * a bare host set up, a second run that changes nothing, hand-made drift noticed and fixed, version
 * changes (also from a local zip) restarting vault, a corrupted release refused with nothing
 * installed, a vault that cannot start reported with its journal, and the listener port check.
 *
 * The lab instance is this file's own (test/e2e/support/labs.ts), so other suites never see it.
 */
import { VAULT } from '../../source/core/server.js';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTemplate, readAsset } from '../../source/core/assets.js';
import { Redactor } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { LogLine, Prompter, RunnerEvent, Step } from '../../source/core/step.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { createTransport } from '../../source/services/host/factory.js';
import { sh } from '../../source/services/host/shell-quote.js';
import type { Transport } from '../../source/services/host/transport.js';
import { hostSteps, HOST_STEP_IDS } from '../../source/steps/host/index.js';
import { preflightStep } from '../../source/steps/host/preflight.js';
import { serviceStep, systemdQuotedPath } from '../../source/steps/host/service.js';
import { FreshLabs, type FreshLab } from '../e2e/support/labs.js';
import { labProfile } from '../lab/lab.js';
import { scriptedPrompter } from '../support/test-steps.js';

const PROFILE_NAME = 'host-steps-test';
const DIRECTORIES = ['/etc/vault', '/etc/vault/tls', '/etc/vault/policy', '/etc/vault/plugin', '/var/lib/vault', '/var/log/vault'];
const WRITTEN = ['/usr/local/bin/vault', '/etc/vault/vault_main.hcl', '/etc/systemd/system/vault.service', '/etc/vault/tls', '/etc/vault/.vault-service-inputs.json'];

const labs = new FreshLabs();
let lab: FreshLab;
let baseProfile: Profile;
let transport: Transport;
let xdg: string;
const savedXdg = process.env['XDG_DATA_HOME'];

interface Run {
  done: PlanDoneEvent;
  events: RunnerEvent[];
  logs: LogLine[];
  outcome(stepId: string): string | undefined;
  failure(stepId: string): { message: string; hint?: string } | undefined;
  logOf(stepId: string): string[];
}

function profileWith(vault: Record<string, unknown> = {}, extra: { localZip?: string } = {}): Profile {
  return ProfileSchema.parse({ ...labProfile(lab.state), vault: { ...labProfile(lab.state).vault, ...vault, ...extra } });
}

async function runHost(mode: 'apply' | 'check', options: { profile?: Profile; prompt?: Prompter; steps?: Step[] } = {}): Promise<Run> {
  const events: RunnerEvent[] = [];
  const done = await runPlan(
    { steps: options.steps ?? hostSteps() },
    { profile: options.profile ?? baseProfile, profileName: PROFILE_NAME, services: { host: async () => transport }, prompt: options.prompt ?? scriptedPrompter(), redactor: new Redactor() },
    { mode, onEvent: (event) => events.push(event) },
  );
  const logs = events.flatMap((event) => (event.type === 'log' ? [event.line] : []));
  return {
    done,
    events,
    logs,
    outcome: (stepId) => events.flatMap((e) => (e.type === 'step-done' && e.stepId === stepId ? [e.outcome] : [])).at(-1),
    failure: (stepId) => events.flatMap((e) => (e.type === 'step-failed' && e.stepId === stepId ? [{ message: e.message, ...(e.hint ? { hint: e.hint } : {}) }] : [])).at(-1),
    logOf: (stepId) => logs.filter((line) => line.stepId === stepId).map((line) => line.text),
  };
}

function summary(run: Run): string {
  return run.events
    .filter((e) => e.type === 'step-done' || e.type === 'step-failed' || e.type === 'step-skipped')
    .map((e) => ('outcome' in e ? `${e.stepId}=${e.outcome}` : 'message' in e ? `${e.stepId} FAILED ${e.message}` : `${e.stepId} skipped`))
    .join('\n');
}

async function serviceStart(): Promise<Record<string, string>> {
  return lab.host.unitProperties('vault.service', ['InvocationID', 'ExecMainPID', 'ExecMainStartTimestampMonotonic', 'NRestarts']);
}

async function healthCode(): Promise<string> {
  return (
    await lab.host.sudo(sh`curl --silent --output /dev/null --write-out '%{http_code}' --cacert /etc/vault/tls/vault-ca.crt https://127.0.0.1:${lab.state.vaultApiPort}/v1/sys/health`)
  ).trim();
}

beforeAll(async () => {
  lab = await labs.get('host-steps');
  xdg = await mkdtemp(path.join(tmpdir(), 'host-steps-xdg-'));
  process.env['XDG_DATA_HOME'] = xdg;
  baseProfile = profileWith();
  transport = await createTransport(baseProfile.host, { knownHostsFile: lab.state.host.knownHostsFile });
}, 180_000);

afterAll(async () => {
  await transport?.close();
  await labs.downAll();
  if (savedXdg === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = savedXdg;
  if (xdg) await rm(xdg, { recursive: true, force: true });
}, 120_000);

describe('host steps on a fresh lab host, through the runner', () => {
  it('refuses listener ports something else holds, naming the holder (before anything is installed)', { timeout: 60_000 }, async () => {
    const run = await runHost('check', { profile: profileWith({ apiPort: lab.state.host.sshPort }), steps: [preflightStep] });
    expect(run.done.result).toBe('failed');
    expect(run.failure('host.preflight')?.message).toMatch(new RegExp(`port ${lab.state.host.sshPort} is taken by sshd \\(pid \\d+\\)`));
    expect(run.failure('host.preflight')?.hint).toMatch(/vault\.apiPort/);
  });

  it('a missing tool is a todo of the preflight; apply installs it with apt-get, its output in the log', { timeout: 180_000 }, async () => {
    await lab.host.sudo('DEBIAN_FRONTEND=noninteractive apt-get remove -y jq >/dev/null 2>&1', { timeoutMs: 120_000 });
    const check = await runHost('check', { steps: [preflightStep] });
    expect(check.done.checks['host.preflight']).toEqual({ state: 'todo', detail: 'missing tools: jq (installed with apt-get)' });
    const apply = await runHost('apply', { steps: [preflightStep] });
    expect(apply.done.result, summary(apply)).toBe('ok');
    expect(apply.logOf('host.preflight')).toContain('Setting up jq (' + (await lab.host.run("dpkg-query -W -f '${Version}' jq")).trim() + ') ...');
    expect((await lab.host.run('command -v jq')).trim()).toBe('/usr/bin/jq');
  });

  it('sets up a bare host: every step applied in order, vault running, API 501 over TLS with our CA', { timeout: 120_000 }, async () => {
    const begin = Date.now();
    const run = await runHost('apply');
    console.log(`host phase on a fresh lab host: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    expect(run.done.result, summary(run)).toBe('ok');
    const started = run.events.flatMap((e) => (e.type === 'step-start' ? [e.stepId] : []));
    expect(started).toEqual([...HOST_STEP_IDS]);
    for (const id of ['host.account', 'host.directories', 'host.tls', 'host.binary', 'host.config', 'host.service']) expect(run.outcome(id), id).toBe('applied');
    // Command output reached the log line by line while it ran.
    expect(run.logOf('host.binary')).toContain(`vault_${lab.state.vault.latest}_linux_${lab.state.vault.hostArch}.zip: OK`);
    expect(run.logs.find((line) => line.stepId === 'host.service' && /Created symlink/.test(line.text))?.source).toBe('stderr');
    expect(run.logOf('host.verify').join('\n')).toMatch(/Initialized\s+false[\s\S]*Sealed\s+true[\s\S]*Storage Type\s+raft/);

    expect(await lab.host.unitState('vault.service')).toEqual({ active: 'active', enabled: 'enabled' });
    expect(await healthCode()).toBe('501');
    const entries = new Map((await lab.host.list([...DIRECTORIES, '/usr/local/bin/vault', '/etc/systemd/system/vault.service'])).map((e) => [e.path, e]));
    // The config tree is root's (Vault reads it through its group); only data and logs are Vault's.
    for (const dir of DIRECTORIES) {
      const owner = dir === '/var/lib/vault' || dir === '/var/log/vault' ? 'vault' : 'root';
      expect(`${entries.get(dir)?.type} ${entries.get(dir)?.owner}:${entries.get(dir)?.group} ${entries.get(dir)?.mode}`, dir).toBe(`d ${owner}:vault 750`);
    }
    const mode = (file: string) => `${entries.get(file)?.owner}:${entries.get(file)?.group} ${entries.get(file)?.mode}`;
    expect(mode('/etc/vault/vault_main.hcl')).toBe('root:vault 640');
    expect(mode('/usr/local/bin/vault')).toBe('root:root 755');
    expect(mode('/etc/systemd/system/vault.service')).toBe('root:root 644');
    expect(mode('/etc/vault/.vault-service-inputs.json')).toBe('root:root 600');
    expect((await lab.host.run('getent passwd vault')).trim()).toMatch(/^vault:x:\d+:\d+:HashiCorp Vault:\/nonexistent:\/usr\/sbin\/nologin$/);
    // systemd itself accepts the unit as installed (the binary now exists).
    expect(await lab.host.sudoExec('systemd-analyze verify /etc/systemd/system/vault.service')).toMatchObject({ code: 0, stderr: '' });
    const temp = await lab.host.sudo("find /tmp -maxdepth 1 -name 'picluster-vault-release.*'");
    expect(temp.trim()).toBe('');
  });

  it('a second run finds every step done, writes no file and restarts nothing', { timeout: 60_000 }, async () => {
    const filesBefore = await lab.host.list(WRITTEN);
    const startBefore = await serviceStart();
    const begin = Date.now();
    const run = await runHost('apply');
    console.log(`second run (all checks): ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    expect(run.done.result, summary(run)).toBe('ok');
    for (const id of HOST_STEP_IDS) expect(run.outcome(id), id).toBe('already-done');
    expect(run.events.some((e) => e.type === 'step-applying')).toBe(false);
    expect(await lab.host.list(WRITTEN)).toEqual(filesBefore);
    expect(await serviceStart()).toEqual(startBefore);
  });

  it('a hand-edited config is drift with a diff in the log; apply restores it, and vault (started with that content) is not restarted', { timeout: 60_000 }, async () => {
    const startBefore = await serviceStart();
    await lab.host.sudo(`sed -i 's/^ui = true$/ui = false/; $a log_level = "trace"' /etc/vault/vault_main.hcl`);
    const check = await runHost('check');
    expect(check.done.result).toBe('drift');
    expect(check.done.checks['host.config']?.state).toBe('drift');
    expect(check.done.checks['host.service']).toEqual({ state: 'drift', detail: 'restart needed: /etc/vault/vault_main.hcl changed since vault started' });
    const diff = check.logs.filter((line) => line.stepId === 'host.config' && line.source === 'diff').map((line) => line.text);
    expect(diff).toEqual(expect.arrayContaining(['--- /etc/vault/vault_main.hcl (on the host)', '+++ /etc/vault/vault_main.hcl (from the profile)', '-ui = false', '-log_level = "trace"', '+ui = true']));

    const apply = await runHost('apply');
    expect(apply.done.result, summary(apply)).toBe('ok');
    expect(apply.outcome('host.config')).toBe('applied');
    expect(apply.outcome('host.service')).toBe('already-done');
    expect(await lab.host.readFile('/etc/vault/vault_main.hcl')).toMatch(/^ui = true$/m);
    expect(await serviceStart()).toEqual(startBefore);
  });

  it('directory owner/mode drift is detected and fixed without touching the files inside', { timeout: 60_000 }, async () => {
    await lab.host.sudo('chmod 0755 /etc/vault/policy && chown root:root /var/log/vault && install -m 0644 /dev/null /etc/vault/policy/mine.hcl');
    const check = await runHost('check', { steps: hostSteps().slice(0, 3) });
    expect(check.done.checks['host.directories']).toEqual({
      state: 'drift',
      detail: '/etc/vault/policy is mode 0755, want root:vault 0750; /var/log/vault is owned by root:root, want vault:vault 0750',
    });
    const apply = await runHost('apply');
    expect(apply.done.result, summary(apply)).toBe('ok');
    expect(apply.outcome('host.directories')).toBe('applied');
    const entries = await lab.host.list(['/etc/vault/policy', '/var/log/vault']);
    expect(entries.map((e) => `${e.path} ${e.owner}:${e.group} ${e.mode}`)).toEqual([
      '/etc/vault/policy root:vault 750',
      '/etc/vault/policy/mine.hcl root:root 644',
      '/var/log/vault vault:vault 750',
    ]);
    await lab.host.sudo('rm -f /etc/vault/policy/mine.hcl');
  });

  it('a stopped service is drift; apply starts it and waits for the API', { timeout: 60_000 }, async () => {
    await lab.host.sudo('systemctl stop vault.service');
    const check = await runHost('check', { steps: [serviceStep(VAULT)] });
    expect(check.done.checks['host.service']).toEqual({ state: 'drift', detail: 'not running (inactive/dead)' });
    const apply = await runHost('apply');
    expect(apply.outcome('host.service'), summary(apply)).toBe('applied');
    expect(apply.logOf('host.service')).toContain('vault answers: HTTP 501 from /v1/sys/health');
    expect(await healthCode()).toBe('501');
  });

  it('another version (here from a local zip, a downgrade the user confirms) is installed and vault restarted; back to the newest from the site', { timeout: 120_000 }, async () => {
    const [older] = lab.state.vault.versions as [string];
    const arch = lab.state.vault.hostArch;
    const local = await mkdtemp(path.join(tmpdir(), 'host-steps-zip-'));
    try {
      const from = path.join(lab.state.mirror.root, 'vault', older);
      await copyFile(path.join(from, `vault_${older}_linux_${arch}.zip`), path.join(local, `vault_${older}_linux_${arch}.zip`));
      await copyFile(path.join(from, `vault_${older}_SHA256SUMS`), path.join(local, `vault_${older}_SHA256SUMS`));
      const before = await serviceStart();
      const down = await runHost('apply', { profile: profileWith({ version: older }, { localZip: path.join(local, `vault_${older}_linux_${arch}.zip`) }), prompt: scriptedPrompter({ confirm: [true] }) });
      expect(down.done.result, summary(down)).toBe('ok');
      expect(down.logOf('host.binary').join('\n')).toMatch(new RegExp(`checksum OK here; uploading[\\s\\S]*installed vault ${older.replaceAll('.', '\\.')} at /usr/local/bin/vault \\(was ${lab.state.vault.latest.replaceAll('.', '\\.')}\\)`));
      expect(down.logOf('host.service')).toContain('changed since vault started: /usr/local/bin/vault');
      expect(down.done.checks['host.verify']?.detail).toContain(`version ${older}`);
      const after = await serviceStart();
      expect(after['InvocationID']).not.toBe(before['InvocationID']);

      const up = await runHost('apply');
      expect(up.done.result, summary(up)).toBe('ok');
      expect(up.outcome('host.binary')).toBe('applied');
      expect(up.outcome('host.service')).toBe('applied');
      expect((await lab.host.run('/usr/local/bin/vault version')).trim()).toMatch(new RegExp(`^Vault v${lab.state.vault.latest.replaceAll('.', '\\.')} `));
      expect((await serviceStart())['InvocationID']).not.toBe(after['InvocationID']);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });

  it('a corrupted release is refused with a clear error: nothing installed, no temp dir left, vault untouched', { timeout: 60_000 }, async () => {
    const [corrupt] = lab.state.vault.corrupt as [string];
    // What a run killed mid-download leaves behind; the next run removes it.
    await lab.host.sudo('mkdir -m 0700 /tmp/picluster-vault-release.KILLED && touch /tmp/picluster-vault-release.KILLED/vault.zip');
    const binaryBefore = await lab.host.sha256(['/usr/local/bin/vault']);
    const startBefore = await serviceStart();
    // 2.0.3 is older than the installed 2.0.4: the downgrade question is answered yes to reach the download.
    const run = await runHost('apply', { profile: profileWith({ version: corrupt }), prompt: scriptedPrompter({ confirm: [true] }) });
    expect(run.done.result).toBe('failed');
    const failure = run.failure('host.binary');
    expect(failure?.message).toMatch(new RegExp(`^checksum mismatch for vault_${corrupt.replaceAll('.', '\\.')}_linux_${lab.state.vault.hostArch}\\.zip \\(checked on the host\\): vault_${corrupt.replaceAll('.', '\\.')}_SHA256SUMS lists [0-9a-f]{64}, the file has [0-9a-f]{64}$`));
    expect(failure?.hint).toMatch(/^nothing was installed/);
    expect(run.events.some((e) => 'stepId' in e && (e.stepId === 'host.config' || e.stepId === 'host.service'))).toBe(false);
    expect(await lab.host.sha256(['/usr/local/bin/vault'])).toEqual(binaryBefore);
    expect((await lab.host.sudo("find /tmp -maxdepth 1 -name 'picluster-vault-release.*'")).trim()).toBe('');
    expect(await serviceStart()).toEqual(startBefore);
  });

  it('a corrupted local zip is refused here, before anything is uploaded', { timeout: 60_000 }, async () => {
    const [corrupt] = lab.state.vault.corrupt as [string];
    const arch = lab.state.vault.hostArch;
    const zip = path.join(lab.state.mirror.root, 'vault', corrupt, `vault_${corrupt}_linux_${arch}.zip`);
    const run = await runHost('apply', { profile: profileWith({ version: corrupt }, { localZip: zip }), prompt: scriptedPrompter({ confirm: [true] }) });
    expect(run.failure('host.binary')?.message).toMatch(/^checksum mismatch for .* \(checked here, before uploading it\)/);
    expect((await lab.host.sudo("find /tmp -maxdepth 1 -name 'picluster-vault-release.*'")).trim()).toBe('');
  });

  it('a vault that cannot start fails the service step with the last journal lines; the next full run repairs it', { timeout: 120_000 }, async () => {
    await lab.host.sudo(`printf 'listener "tcp" {\\n' > /etc/vault/vault_main.hcl`);
    const begin = Date.now();
    const broken = await runHost('apply', { steps: [serviceStep(VAULT)] });
    console.log(`service step giving up on a vault that cannot start: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    const failure = broken.failure('host.service');
    expect(failure?.message).toMatch(/^vault did not answer on https:\/\/127\.0\.0\.1:\d+\/v1\/sys\/health/);
    expect(failure?.message).toMatch(/last \d+ journal lines:\n/);
    expect(failure?.message).toMatch(/[Ee]rror loading configuration from \/etc\/vault\/vault_main\.hcl/);
    expect(failure?.hint).toMatch(/journalctl -u vault\.service/);

    const repaired = await runHost('apply');
    expect(repaired.done.result, summary(repaired)).toBe('ok');
    expect(repaired.outcome('host.config')).toBe('applied');
    expect(repaired.outcome('host.service')).toBe('applied');
    expect(await healthCode()).toBe('501');
  });

  it('systemd reads the unit\'s escaped values back as the paths they were (space and %)', { timeout: 60_000 }, async () => {
    const unit = renderTemplate(readAsset('vault.service'), { configFile: '/etc/my vault%h/vault_main.hcl', user: 'vault', group: 'vault', binary: '/usr/local/bin/vault', dataDir: systemdQuotedPath('/var/lib/my vault%h') }, 'systemd');
    const probe = '/etc/systemd/system/escape-probe.service';
    try {
      await lab.host.sudo(sh`cat > ${probe} && systemctl daemon-reload`, { input: unit });
      const execStart = (await lab.host.run('systemctl show -p ExecStart escape-probe.service')).trim();
      expect(execStart).toContain('argv[]=/usr/local/bin/vault server -config=/etc/my vault%h/vault_main.hcl ;');
      // systemd shows a path with a space quoted, beside the mounts it adds itself (PrivateTmp's
      // /var/tmp, in an order of its own).
      const mounts = (await lab.host.run('systemctl show -p RequiresMountsFor escape-probe.service')).trim();
      expect(mounts).toMatch(/^RequiresMountsFor=/);
      expect(mounts).toContain('"/var/lib/my vault%h"');
    } finally {
      await lab.host.sudo(sh`rm -f ${probe} && systemctl daemon-reload`);
    }
  });
});

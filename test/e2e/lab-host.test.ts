/**
 * The lab host behaves like the Raspberry Pi the product sets up: reachable over real OpenSSH with
 * strict host key checking, real systemd, passwordless sudo, system users and services that run the
 * lab's node, and the release mirror reachable from inside it. Also: the lab commands are idempotent
 * and `down` leaves no process or mount behind.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import { createLabLog, seconds } from '../lab/host/log.js';
import { pickFreePorts } from '../lab/host/ports.js';
import { CommandError, containerAlive, isAlive, mountsUnder, processesUsing } from '../lab/host/process.js';
import { fingerprintOf, parsePublicKey, sshRun, type SshTarget } from '../lab/host/ssh.js';
import { labDir, labDown, readLabFile, readLabState, type LabState } from '../lab/lab.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(REPO_ROOT, 'test', 'lab', 'cli.ts');

let lab: LabState;
let scratch: string;
let target: SshTarget;

/** Runs a remote command; resolves with stdout, rejects with CommandError (exit code, stderr). */
async function onHost(command: string, input?: string): Promise<string> {
  return (await sshRun(target, command, input === undefined ? {} : { input })).stdout;
}

/** Runs `cli.ts <command>` like `npm run lab:<command>` does, with its own LAB_DIR. */
function labCommand(command: string, env: NodeJS.ProcessEnv, asUser?: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const begin = Date.now();
  const nodeArgs = ['--import', 'tsx', CLI, command];
  // As another user, the process keeps the capability to read (and tsx to cache) files wherever the
  // checkout is: only "not root" differs, not whether the code can be loaded.
  const readAnywhere = ['--inh-caps=+dac_read_search,+dac_override', '--ambient-caps=+dac_read_search,+dac_override'];
  const [program, args] =
    asUser === undefined
      ? [process.execPath, nodeArgs]
      : ['setpriv', [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', ...readAnywhere, process.execPath, ...nodeArgs]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program as string, args as string[], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: Date.now() - begin }));
  });
}

beforeAll(async () => {
  const dir = inject('labDir') ?? labDir();
  lab = await readLabState(dir);
  scratch = await mkdtemp(join(tmpdir(), 'lab-host-test-'));
  // Our own known_hosts, written from the key the lab recorded: ssh must refuse any other key.
  const knownHostsFile = join(scratch, 'known_hosts');
  await writeFile(knownHostsFile, `[${lab.host.address}]:${lab.host.sshPort} ${lab.host.hostKeyPublic}\n`);
  target = { address: lab.host.address, port: lab.host.sshPort, user: lab.host.user, keyFile: lab.host.keyFile, knownHostsFile };
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('lab host over OpenSSH with strict host key checking', () => {
  it('records the host key fingerprint the way ssh-keygen prints it', () => {
    const { base64 } = parsePublicKey(lab.host.hostKeyPublic);
    expect(lab.host.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintOf(base64)).toBe(lab.host.hostKeyFingerprint);
  });

  it('refuses to connect when known_hosts holds another key for the host', async () => {
    const wrong = join(scratch, 'wrong_known_hosts');
    // A well-formed ed25519 key that is not the host's: 32 zero bytes behind the key type.
    const typeName = Buffer.from('ssh-ed25519');
    const blob = Buffer.concat([Buffer.from([0, 0, 0, typeName.length]), typeName, Buffer.from([0, 0, 0, 32]), Buffer.alloc(32)]);
    await writeFile(wrong, `[${lab.host.address}]:${lab.host.sshPort} ssh-ed25519 ${blob.toString('base64')}\n`);
    const error = await sshRun({ ...target, knownHostsFile: wrong }, 'true').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).stderr).toMatch(/host key|HOST IDENTIFICATION/i);
  });

  it('runs systemd as PID 1 and reports running or degraded', async () => {
    const state = await onHost('systemctl is-system-running').catch((error: unknown) => (error as CommandError).stdout);
    expect(['running', 'degraded']).toContain(state.trim());
    expect((await onHost('cat /proc/1/comm')).trim()).toBe('systemd');
    expect((await onHost('hostname')).trim()).toBe(lab.host.hostname);
  });

  it('lets pi use sudo without a password', async () => {
    expect((await onHost('id -un')).trim()).toBe('pi');
    expect((await onHost('sudo -n true && sudo -n id -u')).trim()).toBe('0');
  });

  it('creates a system user and runs a systemd service with the lab node that answers on loopback', async () => {
    const [port] = (await pickFreePorts(1)) as [number];
    const name = `labprobe${port}`;
    const unit = `${name}.service`;
    // ExecStart quoting follows systemd.service(5), "COMMAND LINES": one double-quoted argument.
    const unitText = [
      '[Unit]',
      'Description=lab probe service',
      '[Service]',
      `User=${name}`,
      `ExecStart=/usr/local/bin/node -e "require('node:http').createServer((request, response) => response.end(String(process.getuid()))).listen(${port}, '127.0.0.1')"`,
      '',
    ].join('\n');
    try {
      await onHost(sh`sudo -n useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`);
      await onHost(sh`sudo -n tee ${`/etc/systemd/system/${unit}`} >/dev/null`, unitText);
      await onHost(sh`sudo -n systemctl daemon-reload && sudo -n systemctl start ${unit}`);
      const uid = (await onHost(sh`id -u ${name}`)).trim();
      expect(Number(uid)).toBeLessThan(1000); // a system account
      const insideBody = await onHost(sh`curl -fsS --retry 20 --retry-connrefused --retry-delay 1 ${`http://127.0.0.1:${port}/`}`);
      expect(insideBody).toBe(uid);
      // The host shares this machine's network: the service is reachable from here on the same port.
      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(await response.text()).toBe(uid);
      expect((await onHost(sh`systemctl is-active ${unit}`)).trim()).toBe('active');
    } finally {
      await onHost(
        sh`sudo -n systemctl stop ${unit}; sudo -n rm -f ${`/etc/systemd/system/${unit}`}; sudo -n systemctl daemon-reload; sudo -n userdel ${name}; true`,
      );
    }
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});

describe('release mirror seen from the lab host', () => {
  it('serves a release whose zip matches its SHA256SUMS when downloaded with curl on the host', async () => {
    const version = lab.vault.latest;
    const zip = `vault_${version}_linux_${lab.vault.hostArch}.zip`;
    const sums = `vault_${version}_SHA256SUMS`;
    const base = `${lab.mirror.url}/vault/${version}`;
    const output = await onHost(
      sh`set -e; dir=$(mktemp -d); cd "$dir"; curl -fsS -o ${sums} ${`${base}/${sums}`}; curl -fsS -o ${zip} ${`${base}/${zip}`}; sha256sum --check --ignore-missing ${sums}; rm -rf "$dir"`,
    );
    expect(output).toContain(`${zip}: OK`);
    // The release runs on the host as a real one would, with the lab's node.
    const reported = await onHost(
      sh`set -e; dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"; curl -fsS -o ${zip} ${`${base}/${zip}`}; unzip -q ${zip}; ./vault version`,
    );
    expect(reported).toContain(`Vault v${version}`);
    const index = JSON.parse(await onHost(sh`curl -fsS ${`${lab.mirror.url}/vault/index.json`}`)) as { versions: Record<string, unknown> };
    expect(Object.keys(index.versions)).toEqual(expect.arrayContaining(lab.vault.versions));
  });

  it('serves a deliberately corrupted release whose checksum does not match', async () => {
    const [version] = lab.vault.corrupt as [string];
    const zip = `vault_${version}_linux_${lab.vault.hostArch}.zip`;
    const sums = `vault_${version}_SHA256SUMS`;
    const base = `${lab.mirror.url}/vault/${version}`;
    const error = await onHost(
      sh`set -e; dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"; curl -fsS -o ${sums} ${`${base}/${sums}`}; curl -fsS -o ${zip} ${`${base}/${zip}`}; sha256sum --check --ignore-missing ${sums}`,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).stdout).toContain(`${zip}: FAILED`);
  });

  it('serves the real OpenBao as GitHub does: curl -L resolves latest to tag/v<latest>, the archive matches checksums.txt, tar -xzf, and bao version runs on the host', async () => {
    const { latest, hostArch, releaseBaseUrl: base } = lab.openbao;
    expect(base).toBe(`${lab.mirror.url}/openbao/releases`);
    const effective = await onHost(sh`curl -fsSL -o /dev/null -w '%{url_effective}' ${`${base}/latest`}`);
    expect(effective).toBe(`${base}/tag/v${latest}`);
    const archive = `openbao_${latest}_linux_${hostArch}.tar.gz`;
    const dir = `${base}/download/v${latest}`;
    const output = await onHost(
      sh`set -e; dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"; curl -fsSLO ${`${dir}/checksums.txt`}; curl -fsSLO ${`${dir}/${archive}`}; sha256sum --check --ignore-missing checksums.txt; tar -tzf ${archive}; tar -xzf ${archive}; ./bao version`,
    );
    expect(output).toContain(`${archive}: OK`);
    expect(output).toContain('bao\nLICENSE\nREADME.md\nCHANGELOG.md\n');
    expect(output).toMatch(new RegExp(`^OpenBao v${latest.replaceAll('.', '\\.')} \\([0-9a-f]{40}\\)`, 'm'));
    // The profile for it: OpenBao from this mirror, its directories left to the product's defaults.
    const profile = JSON.parse(await readFile(lab.profileOpenBaoFile, 'utf8')) as { vault: Record<string, unknown> };
    expect(profile.vault).toMatchObject({ server: 'openbao', version: latest, releaseBaseUrl: base });
    expect(profile.vault).not.toHaveProperty('configDir');
    expect(profile.vault).not.toHaveProperty('dataDir');
  });

  it('serves a deliberately corrupted OpenBao release whose archive does not match checksums.txt', async () => {
    const [version] = lab.openbao.corrupt as [string];
    const archive = `openbao_${version}_linux_${lab.openbao.hostArch}.tar.gz`;
    const dir = `${lab.openbao.releaseBaseUrl}/download/v${version}`;
    const error = await onHost(
      sh`set -e; dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"; curl -fsSLO ${`${dir}/checksums.txt`}; curl -fsSLO ${`${dir}/${archive}`}; sha256sum --check --ignore-missing checksums.txt`,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).stdout).toContain(`${archive}: FAILED`);
  });
});

describe('lab commands', () => {
  it('refuses to run without root, saying why', async () => {
    const result = await labCommand('up', { LAB_DIR: join(scratch, 'never-started') }, 65534);
    expect(result.code).toBe(1);
    await expect(stat(join(scratch, 'never-started'))).rejects.toThrow(/ENOENT/);
    expect(result.stderr).toContain('the lab needs root (systemd-nspawn, debootstrap)');
  });

  it('up twice is idempotent, status reports it, an unhealthy lab is replaced, and down leaves no process or mount behind', { timeout: 300_000 }, async () => {
    // A second instance beside the suite's lab, in its own LAB_DIR, on its own ports.
    const dir = join(scratch, 'second-lab');
    const env = { LAB_DIR: dir };
    try {
      await exerciseSecondLab(dir, env);
    } finally {
      // A failed assertion must not leave the second instance running (nor delete its files under it).
      if (await readLabFile(dir)) await labDown({ dir, log: createLabLog() });
    }
  });
});

/** Up twice, status, replacing an unhealthy lab, down: on a second instance in `dir`. */
async function exerciseSecondLab(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const first = await labCommand('up', env);
  expect(first.code, first.stderr).toBe(0);
  const state = await readLabState(dir);
  expect(state.host.sshPort).not.toBe(lab.host.sshPort);
  expect(await isAlive(state.host.nspawnPid)).toBe(true);
  expect(await containerAlive(state.host.leaderPid, state.host.pidNamespace)).toBe(true);

  const second = await labCommand('up', env);
  expect(second.code, second.stderr).toBe(0);
  expect(second.stderr).toContain('already up');
  const again = await readLabState(dir);
  expect(again.host.nspawnPid).toBe(state.host.nspawnPid);
  expect(again.mirror.pid).toBe(state.mirror.pid);
  expect(again.startedAt).toBe(state.startedAt);

  const status = await labCommand('status', env);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`pi@127.0.0.1:${state.host.sshPort}`);
  const profile = JSON.parse(await readFile(state.profileFile, 'utf8')) as { host: { port: number }; vault: { releaseBaseUrl: string } };
  expect(profile.host.port).toBe(state.host.sshPort);
  expect(profile.vault.releaseBaseUrl).toBe(state.mirror.url);

  // A recorded lab that no longer answers is replaced, its processes stopped.
  const secondTarget: SshTarget = { ...target, port: state.host.sshPort, keyFile: state.host.keyFile, knownHostsFile: state.host.knownHostsFile };
  await sshRun(secondTarget, 'sudo -n systemctl stop ssh.service');
  const replaced = await labCommand('up', env);
  expect(replaced.code, replaced.stderr).toBe(0);
  expect(replaced.stderr).toContain('unhealthy');
  const fresh = await readLabState(dir);
  expect(fresh.host.nspawnPid).not.toBe(state.host.nspawnPid);
  expect(await isAlive(state.host.nspawnPid)).toBe(false);
  expect(await isAlive(state.mirror.pid)).toBe(false);
  expect(await containerAlive(state.host.leaderPid, state.host.pidNamespace)).toBe(false);

  const down = await labCommand('down', env);
  expect(down.code, down.stderr).toBe(0);
  expect(await isAlive(fresh.host.nspawnPid)).toBe(false);
  expect(await isAlive(fresh.mirror.pid)).toBe(false);
  expect(fresh.host.pidNamespace).toMatch(/^pid:\[\d+\]$/);
  expect(await containerAlive(fresh.host.leaderPid, fresh.host.pidNamespace)).toBe(false);
  expect(await processesUsing(dir)).toEqual([]);
  expect(await mountsUnder(dir)).toEqual([]);
  await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  expect(await readLabFile(dir)).toBeUndefined();

  const after = await labCommand('status', env);
  expect(after.code).toBe(3);
  expect(after.stdout).toContain('lab: down');

  // The suite's lab was not touched by the second one's up and down.
  expect((await onHost('systemctl is-system-running').catch((error: unknown) => (error as CommandError).stdout)).trim()).toMatch(/^(running|degraded)$/);

  const t = state.timings;
  console.log(
    [
      'lab timings:',
      t.rootfsBuildMs === undefined ? '  rootfs: from cache' : `  debootstrap (fresh rootfs): ${seconds(t.rootfsBuildMs)}s`,
      `  up (\`lab:up\` command, cached rootfs): ${seconds(first.ms)}s (in-process ${seconds(t.totalMs)}s: extract ${seconds(t.extractMs)}s, boot to ready ${seconds(t.bootMs)}s, mirror ${seconds(t.mirrorMs)}s, openbao archives ${seconds(t.openbaoMs ?? 0)}s)`,
      `  up again (already up): ${seconds(second.ms)}s`,
      `  down (\`lab:down\` command): ${seconds(down.ms)}s`,
    ].join('\n'),
  );
}

/**
 * SshTransport against a real OpenSSH server started by the test (see sshd-fixture.ts), as root:
 * sshd must run as root, and the sudo password path needs a throwaway local user and sudoers drop-in
 * (created here, removed afterwards).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAbortError, UserError } from '../../source/core/errors.js';
import { createTransport } from '../../source/services/host/factory.js';
import type { HostKeyPin } from '../../source/services/host/known-hosts.js';
import { SshTransport, type SshTransportOptions, type UnknownHostKeyInfo } from '../../source/services/host/ssh.js';
import { descendantsOf, fingerprintOfPublicLine, startSshd, waitUntil, type SshdFixture } from './sshd-fixture.js';

const SUDO_USER = 'pvt-sudo-test';
const SUDOERS_DROP_IN = `/etc/sudoers.d/${SUDO_USER}`;

let sshd: SshdFixture;
let dir: string;
let emptyKnownHosts: string;
let userPassword: string;
let agent: ChildProcess | undefined;
const transports: SshTransport[] = [];

function pin(): HostKeyPin {
  return { algorithm: sshd.hostKey.algorithm, fingerprint: sshd.hostKey.fingerprint };
}

function never(what: string) {
  return async (): Promise<never> => {
    throw new Error(`${what} should not have been asked`);
  };
}

function transportFor(overrides: Partial<SshTransportOptions> = {}): SshTransport {
  const transport = new SshTransport({
    host: sshd.host,
    port: sshd.port,
    username: 'root',
    auth: { method: 'key', keyFile: sshd.clientKeyFile },
    knownHostsFile: emptyKnownHosts,
    // Never this machine's /etc/ssh/ssh_known_hosts: the tests say what is trusted system-wide.
    systemKnownHostsFile: emptyKnownHosts,
    pinnedHostKey: pin(),
    onUnknownHostKey: never('the host key'),
    askSudoPassword: never('the sudo password'),
    ...overrides,
  });
  transports.push(transport);
  return transport;
}

function acceptedLogins(): number {
  return (readFileSync(join(sshd.dir, 'sshd.log'), 'utf8').match(/Accepted (publickey|password) for /g) ?? []).length;
}

/** pids below the sshd listener running exactly `sleep <seconds>`. */
function remoteSleeps(seconds: string): number[] {
  return descendantsOf(sshd.pid()).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\u0000${seconds}\u0000`;
    } catch {
      return false;
    }
  });
}

function allCommandLines(): string {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\u0000', ' ');
      } catch {
        return '';
      }
    })
    .join('\n');
}

function createSudoUser(): void {
  userPassword = `pw-${randomBytes(9).toString('base64url')}`;
  try {
    execFileSync('id', [SUDO_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', SUDO_USER]);
  }
  // The password goes on stdin, as chpasswd expects.
  execFileSync('chpasswd', [], { input: `${SUDO_USER}:${userPassword}\n` });
  setSudoersRule(`${SUDO_USER} ALL=(ALL:ALL) ALL\n`);
}

function setSudoersRule(rule: string): void {
  const staged = join(dir, 'sudoers-drop-in');
  writeFileSync(staged, rule, { mode: 0o440 });
  execFileSync('visudo', ['-c', '-q', '-f', staged]);
  writeFileSync(SUDOERS_DROP_IN, rule, { mode: 0o440 });
}

function removeSudoUser(): void {
  rmSync(SUDOERS_DROP_IN, { force: true });
  try {
    execFileSync('userdel', [SUDO_USER], { stdio: 'ignore' });
  } catch {
    // Not created.
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'pvt-ssh-test-'));
  emptyKnownHosts = join(dir, 'known_hosts_empty');
  writeFileSync(emptyKnownHosts, '');
  createSudoUser();
});

afterAll(async () => {
  await Promise.all(transports.map((transport) => transport.close()));
  if (agent?.pid) agent.kill('SIGTERM');
  removeSudoUser();
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('exec over SSH', () => {
  it('returns exit codes, stdout and stderr, reusing one connection', async () => {
    const transport = transportFor();
    const before = acceptedLogins();
    expect(await transport.exec('echo out; echo err >&2; exit 7')).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    expect((await transport.exec('exit 0')).code).toBe(0);
    const parallel = await Promise.all([1, 2, 3].map((n) => transport.exec(`echo ${n}`)));
    expect(parallel.map((result) => result.stdout)).toEqual(['1\n', '2\n', '3\n']);
    await waitUntil(() => acceptedLogins() - before >= 1, 2000, 'the login to be logged');
    expect(acceptedLogins() - before).toBe(1);
    expect(transport.description).toBe(`ssh root@127.0.0.1:${sshd.port}`);
  });

  it('streams lines while the command runs', async () => {
    const transport = transportFor();
    const seen: { line: string; at: number }[] = [];
    const started = Date.now();
    await transport.exec('echo first; sleep 0.5; echo second; printf tail', {
      onStdoutLine: (line) => seen.push({ line, at: Date.now() - started }),
    });
    expect(seen.map((entry) => entry.line)).toEqual(['first', 'second', 'tail']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(400);
  });

  it('feeds stdin and ends it (EOF) when there is none', async () => {
    const transport = transportFor();
    const big = 'x'.repeat(300_000);
    expect((await transport.exec('wc -c', { stdin: big })).stdout.trim()).toBe('300000');
    expect((await transport.exec('cat')).stdout).toBe('');
  });

  it('reports 128+N for a command killed by signal N', async () => {
    const transport = transportFor();
    expect((await transport.exec('kill -TERM $$')).code).toBe(143);
  });

  it('runs commands with /bin/sh whatever the login shell is', async () => {
    const transport = transportFor();
    expect((await transport.exec('[ "$0" = /bin/sh ] && echo posix')).stdout).toBe('posix\n');
  });

  it('cancels a command through AbortSignal: it rejects and its processes are gone', async () => {
    const transport = transportFor();
    const controller = new AbortController();
    const running = transport.exec('sleep 4811 & sleep 4812; echo never', { signal: controller.signal });
    await waitUntil(() => remoteSleeps('4812').length === 1, 5000, 'the remote command to start');
    const started = Date.now();
    controller.abort();
    await expect(running).rejects.toSatisfy(isAbortError);
    expect(Date.now() - started).toBeLessThan(1500);
    await waitUntil(() => remoteSleeps('4811').length + remoteSleeps('4812').length === 0, 4000, 'remote processes to end');
    // The connection stays usable.
    expect((await transport.exec('echo still here')).stdout).toBe('still here\n');
  });

  it('stops a command that exceeds timeoutMs with a UserError', async () => {
    const transport = transportFor();
    const error = await transport.exec('sleep 4821', { timeoutMs: 400 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect(String((error as Error).message)).toMatch(/sleep 4821.*did not finish/);
    await waitUntil(() => remoteSleeps('4821').length === 0, 4000, 'the timed-out process to end');
  });

  it('runs sudo commands as root when logged in as root', async () => {
    const transport = transportFor();
    expect((await transport.exec('id -u', { sudo: true })).stdout).toBe('0\n');
  });
});

describe('files over SSH', () => {
  it('writes atomically with mode and owner, then reads and stats it', async () => {
    const transport = transportFor();
    const path = join(dir, "vault dir/it's.hcl");
    await transport.exec(`mkdir -p '${join(dir, 'vault dir')}'`);
    await transport.writeFile(path, 'storage "raft" {}\n', { mode: 0o640, owner: 'nobody', group: 'nogroup', sudo: true });
    const info = statSync(path);
    expect(info.mode & 0o7777).toBe(0o640);
    expect(readFileSync(path, 'utf8')).toBe('storage "raft" {}\n');
    expect(await transport.stat(path)).toMatchObject({ exists: true, type: 'file', mode: 0o640, owner: 'nobody', group: 'nogroup', uid: info.uid });
    expect((await transport.readFile(path)).toString('utf8')).toBe('storage "raft" {}\n');
    expect(readdirSync(join(dir, 'vault dir'))).toEqual(["it's.hcl"]);
  });

  it('reading a missing file is a UserError; stat says it does not exist', async () => {
    const transport = transportFor();
    await expect(transport.readFile('/nonexistent-pvt/file')).rejects.toThrow(UserError);
    await expect(transport.readFile('/nonexistent-pvt/file')).rejects.toThrow(/does not exist on root@127\.0\.0\.1/);
    expect(await transport.stat('/nonexistent-pvt/file')).toEqual({ exists: false });
  });
});

describe('dropped connections', () => {
  it('rejects the running command as lost, then reconnects transparently on the next call', async () => {
    const transport = transportFor();
    expect((await transport.exec('echo up')).code).toBe(0);
    const marker = join(dir, 'ran-twice');
    const outcome = transport.exec(`echo run >> '${marker}'; sleep 4831`).catch((caught: unknown) => caught);
    await waitUntil(() => remoteSleeps('4831').length === 1, 5000, 'the remote command to start');
    const before = acceptedLogins();
    await sshd.dropConnections();
    const error = await outcome;
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/connection to root@127\.0\.0\.1:\d+ was lost while running `echo run/);
    expect((await transport.exec('echo again')).stdout).toBe('again\n');
    // sshd's log arrives through a pipe: wait for the line, then check there was exactly one login.
    await waitUntil(() => acceptedLogins() - before >= 1, 2000, 'the login to be logged');
    expect(acceptedLogins() - before).toBe(1);
    // The lost command was not re-run.
    expect(readFileSync(marker, 'utf8')).toBe('run\n');
  });

  it('reconnects after an idle connection was dropped', async () => {
    const transport = transportFor();
    await transport.exec('true');
    await sshd.dropConnections();
    await waitUntil(() => !transport.connected, 3000, 'the client to notice the drop');
    expect((await transport.exec('echo back')).stdout).toBe('back\n');
  });
});

describe('host keys', () => {
  it('asks about an unknown key; accepting pins it and reports the pin', async () => {
    const asked: unknown[] = [];
    const pinned: HostKeyPin[] = [];
    const transport = transportFor({
      pinnedHostKey: undefined,
      onUnknownHostKey: async (info) => {
        asked.push(info);
        return true;
      },
      onPinned: (newPin) => {
        pinned.push(newPin);
      },
    });
    expect((await transport.exec('echo ok')).stdout).toBe('ok\n');
    // Known under no other key type either (knownOtherKeys: the warning's material).
    expect(asked).toEqual([{ host: '127.0.0.1', port: sshd.port, ...pin(), knownOtherKeys: [] }]);
    // Fingerprint as ssh-keygen computes it for the server's public key file.
    expect(pinned).toEqual([{ algorithm: 'ssh-ed25519', fingerprint: fingerprintOfPublicLine(sshd.hostKey.publicLine) }]);
    expect(transport.hostKeyPin).toEqual(pin());
    // A reconnect checks the pin and does not ask again.
    await sshd.dropConnections();
    await waitUntil(() => !transport.connected, 3000, 'the drop');
    await transport.exec('true');
    expect(asked).toHaveLength(1);
  });

  it('an answer slower than the handshake timeout still connects, without asking twice', async () => {
    let asked = 0;
    const transport = transportFor({
      pinnedHostKey: undefined,
      readyTimeoutMs: 1000,
      onUnknownHostKey: async () => {
        asked += 1;
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return true;
      },
    });
    expect((await transport.exec('echo patient')).stdout).toBe('patient\n');
    expect(asked).toBe(1);
  });

  it('refusing an unknown key fails with a UserError and sends no credentials', async () => {
    const before = acceptedLogins();
    const transport = transportFor({ pinnedHostKey: undefined, onUnknownHostKey: async () => false });
    await expect(transport.exec('true')).rejects.toThrow(/host key of 127\.0\.0\.1:\d+ \(ssh-ed25519 SHA256:.{43}\) was not accepted/);
    expect(transport.hostKeyPin).toBeUndefined();
    expect(acceptedLogins()).toBe(before);
  });

  it('an unknown key with no way to ask is refused', async () => {
    const transport = transportFor({ pinnedHostKey: undefined, onUnknownHostKey: undefined });
    await expect(transport.exec('true')).rejects.toThrow(/is not known and cannot be confirmed/);
  });

  it('accepts a plain entry written by ssh-keyscan without asking', async () => {
    const file = join(dir, 'known_hosts_scanned');
    const scanned = execFileSync('ssh-keyscan', ['-p', String(sshd.port), '-t', 'ed25519', '127.0.0.1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(scanned).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `);
    writeFileSync(file, scanned);
    const transport = transportFor({ pinnedHostKey: undefined, knownHostsFile: file });
    expect((await transport.exec('echo scanned')).stdout).toBe('scanned\n');
  });

  it('accepts a hashed known_hosts entry ([host]:port form) without asking', async () => {
    const file = join(dir, 'known_hosts_hashed');
    writeFileSync(file, `[127.0.0.1]:${sshd.port} ${sshd.hostKey.publicLine}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    const transport = transportFor({ pinnedHostKey: undefined, knownHostsFile: file });
    expect((await transport.exec('echo trusted')).stdout).toBe('trusted\n');
  });

  it('refuses a key that differs from the known_hosts entry, showing both fingerprints and the fix', async () => {
    const otherKey = join(dir, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey], { stdio: 'ignore' });
    const otherLine = readFileSync(`${otherKey}.pub`, 'utf8').trim();
    const file = join(dir, 'known_hosts_other');
    writeFileSync(file, `[127.0.0.1]:${sshd.port} ${otherLine}\n`);
    const transport = transportFor({ pinnedHostKey: undefined, knownHostsFile: file, onUnknownHostKey: never('the host key') });
    const error = (await transport.exec('true').catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain('HOST KEY CHANGED');
    expect(error.message).toContain(fingerprintOfPublicLine(otherLine));
    expect(error.message).toContain(sshd.hostKey.fingerprint);
    expect(error.hint).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}'`);
  });
});

describe('host keys: system-wide known hosts, @revoked, other key types', () => {
  const hostName = () => `[127.0.0.1]:${sshd.port}`;
  const otherTypeLine = (): string => {
    const file = join(dir, `other_type_${Math.random().toString(36).slice(2)}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', file], { stdio: 'ignore' });
    return readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  };

  it('trusts a key listed only in the system-wide known hosts file, without asking', async () => {
    const system = join(dir, 'ssh_known_hosts_trusted');
    writeFileSync(system, `${hostName()} ${sshd.hostKey.publicLine}\n`);
    const transport = transportFor({ pinnedHostKey: undefined, systemKnownHostsFile: system });
    expect((await transport.exec('echo system-wide')).stdout).toBe('system-wide\n');
  });

  it('refuses a key marked @revoked in the system-wide file even though the profile pins it', async () => {
    const system = join(dir, 'ssh_known_hosts_revoked');
    writeFileSync(system, `# revoked after the old disk was lost\n@revoked * ${sshd.hostKey.publicLine}\n`);
    const before = acceptedLogins();
    const transport = transportFor({ systemKnownHostsFile: system });
    const error = (await transport.exec('true').catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`the host key of 127.0.0.1:${sshd.port} (${sshd.hostKey.algorithm} ${sshd.hostKey.fingerprint}) is marked @revoked in ${system}:2; refusing to connect`);
    expect(error.hint).toMatch(/new host key.*profile set host\.hostKey=/);
    expect(acceptedLogins()).toBe(before);
  });

  it('refuses a key marked @revoked in the user file over a pin as well', async () => {
    const user = join(dir, 'known_hosts_revoked');
    writeFileSync(user, `@revoked ${hostName()} ${sshd.hostKey.publicLine}\n`);
    const error = (await transportFor({ knownHostsFile: user }).exec('true').catch((caught: unknown) => caught)) as UserError;
    expect(error.message).toContain(`is marked @revoked in ${user}:1`);
  });

  it('a host known under another key type: the question carries the known key, never a plain first-time prompt', async () => {
    const user = join(dir, 'known_hosts_other_type');
    const line = otherTypeLine();
    writeFileSync(user, `${hostName()} ${line}\n`);
    const asked: UnknownHostKeyInfo[] = [];
    const transport = transportFor({
      pinnedHostKey: undefined,
      knownHostsFile: user,
      onUnknownHostKey: async (info) => {
        asked.push(info);
        return false;
      },
    });
    await expect(transport.exec('true')).rejects.toThrow(/was not accepted/);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.algorithm).toBe(sshd.hostKey.algorithm);
    expect(asked[0]?.knownOtherKeys).toEqual([{ algorithm: 'ecdsa-sha2-nistp256', fingerprint: fingerprintOfPublicLine(line), where: `${user}:1` }]);
  });

  it('a host known under another key type with no way to ask: the refusal says so', async () => {
    const system = join(dir, 'ssh_known_hosts_other_type');
    writeFileSync(system, `${hostName()} ${otherTypeLine()}\n`);
    const transport = transportFor({ pinnedHostKey: undefined, systemKnownHostsFile: system, onUnknownHostKey: undefined });
    await expect(transport.exec('true')).rejects.toThrow(new RegExp(`it is known under another key type \\(ecdsa-sha2-nistp256 SHA256:\\S+ \\(${system.replace(/[/.]/g, '\\$&')}:1\\)\\), which the server did not offer`));
  });
});

describe('authentication', () => {
  it('logs in with a passphrase-protected key, asking the passphrase once', async () => {
    let asked = 0;
    const transport = transportFor({
      auth: { method: 'key', keyFile: sshd.encryptedClientKeyFile },
      askKeyPassphrase: async ({ keyFile }) => {
        asked += 1;
        expect(keyFile).toBe(sshd.encryptedClientKeyFile);
        return sshd.encryptedClientKeyPassphrase;
      },
    });
    expect((await transport.exec('echo in')).stdout).toBe('in\n');
    await sshd.dropConnections();
    await waitUntil(() => !transport.connected, 3000, 'the drop');
    await transport.exec('true');
    expect(asked).toBe(1);
  });

  it('a wrong key passphrase is a clear UserError', async () => {
    const transport = transportFor({
      auth: { method: 'key', keyFile: sshd.encryptedClientKeyFile },
      askKeyPassphrase: async () => 'wrong passphrase',
    });
    await expect(transport.exec('true')).rejects.toThrow(/wrong passphrase for the SSH key/);
  });

  it('logs in with a password asked through the callback; a wrong one is refused clearly', async () => {
    const good = transportFor({ username: SUDO_USER, auth: { method: 'password' }, askPassword: async () => userPassword });
    expect((await good.exec('id -un')).stdout).toBe(`${SUDO_USER}\n`);
    const bad = transportFor({ username: SUDO_USER, auth: { method: 'password' }, askPassword: async () => 'not-the-password' });
    await expect(bad.exec('true')).rejects.toThrow(/refused the login as pvt-sudo-test \(password\)/);
  });

  it('logs in through ssh-agent', async () => {
    const socket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    await waitUntil(() => existsSync(socket), 5000, 'ssh-agent to listen');
    execFileSync('ssh-add', ['-q', sshd.clientKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
    const transport = transportFor({ auth: { method: 'agent', socket } });
    expect((await transport.exec('echo agent')).stdout).toBe('agent\n');
  });

  it('builds an SSH transport from the profile host section (factory)', async () => {
    const transport = (await createTransport(
      { transport: 'ssh', address: sshd.host, port: sshd.port, user: 'root', auth: 'key', keyFile: sshd.clientKeyFile, hostKey: pin() },
      { knownHostsFile: emptyKnownHosts, systemKnownHostsFile: emptyKnownHosts },
    )) as SshTransport;
    transports.push(transport);
    expect(transport.kind).toBe('ssh');
    expect((await transport.exec('echo factory')).stdout).toBe('factory\n');
  });
});

describe('sudo with a password', () => {
  it('asks once, feeds the password on stdin only, and keeps the command stdin intact', async () => {
    let asked = 0;
    const transport = transportFor({
      username: SUDO_USER,
      askSudoPassword: async () => {
        asked += 1;
        return userPassword;
      },
    });
    expect((await transport.exec('id -u')).stdout).toBe(`${execFileSync('id', ['-u', SUDO_USER], { encoding: 'utf8' })}`);
    expect((await transport.exec('id -u', { sudo: true })).stdout).toBe('0\n');
    // The command reads exactly its own input: the password line was consumed by sudo.
    expect((await transport.exec('cat', { sudo: true, stdin: 'line one\nline two\n' })).stdout).toBe('line one\nline two\n');
    expect((await transport.exec('cat', { sudo: true })).stdout).toBe('');
    // While a sudo command runs, the password is in no process's argv.
    const running = transport.exec('sleep 4841', { sudo: true });
    await waitUntil(() => remoteSleeps('4841').length === 1, 5000, 'the sudo command to start');
    const commandLines = allCommandLines() + execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(commandLines).toContain('sleep 4841');
    expect(commandLines).not.toContain(userPassword);
    execFileSync('kill', ['-TERM', ...remoteSleeps('4841').map(String)]);
    expect((await running).code).toBe(143);
    // Root-owned atomic write through sudo.
    const path = join(dir, 'root-owned');
    await transport.writeFile(path, 'secret=1\n', { mode: 0o600, owner: 'root', group: 'root', sudo: true });
    expect(statSync(path).uid).toBe(0);
    expect((await transport.readFile(path, { sudo: true })).toString()).toBe('secret=1\n');
    expect(asked).toBe(1);
    expect(readFileSync(join(sshd.dir, 'sshd.log'), 'utf8')).not.toContain(userPassword);
  });

  it('LocalTransport, run by that user, uses the same password path', () => {
    // A separate node process as the throwaway user; the password reaches it on stdin, like everywhere.
    const local = pathToFileURL(resolve('source/services/host/local.ts')).href;
    const script = `
      import { LocalTransport } from ${JSON.stringify(local)};
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const password = input.trim();
      let asked = 0;
      const transport = new LocalTransport({ askSudoPassword: async () => { asked += 1; return password; } });
      const uid = (await transport.exec('id -u', { sudo: true })).stdout;
      const echoed = (await transport.exec('cat', { sudo: true, stdin: 'a\\nb\\n' })).stdout;
      const wrong = new LocalTransport({ askSudoPassword: async () => 'not-it' });
      const error = await wrong.exec('id -u', { sudo: true }).then(() => 'no error', (caught) => caught.message);
      console.log(JSON.stringify({ uid, echoed, asked, error }));
    `;
    // tsx keeps a per-user cache in TMPDIR: give the user one that is removed afterwards.
    const userTmp = mkdtempSync(join(tmpdir(), 'pvt-sudo-user-'));
    chmodSync(userTmp, 0o777);
    let output: string;
    try {
      output = execFileSync('runuser', ['-u', SUDO_USER, '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        input: `${userPassword}\n`,
        env: { ...process.env, TMPDIR: userTmp },
      });
    } finally {
      rmSync(userTmp, { recursive: true, force: true });
    }
    expect(JSON.parse(output)).toEqual({ uid: '0\n', echoed: 'a\nb\n', asked: 1, error: 'the sudo password for this machine is wrong' });
  });

  it('a wrong sudo password is a clear UserError and runs nothing as root', async () => {
    const marker = join(dir, 'ran-as-root');
    const transport = transportFor({ username: SUDO_USER, askSudoPassword: async () => 'wrong-password' });
    const error = (await transport.exec(`touch '${marker}'`, { sudo: true }).catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`the sudo password for ${SUDO_USER}@127.0.0.1:${sshd.port} is wrong`);
    expect(existsSync(marker)).toBe(false);
  });

  it('uses sudo -n without asking when the host allows it (NOPASSWD), and cancels through sudo', async () => {
    setSudoersRule(`${SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`);
    try {
      const transport = transportFor({ username: SUDO_USER });
      expect((await transport.exec('id -u', { sudo: true })).stdout).toBe('0\n');
      const controller = new AbortController();
      const running = transport.exec('sleep 4851', { sudo: true, signal: controller.signal });
      await waitUntil(() => remoteSleeps('4851').length === 1, 5000, 'the sudo command to start');
      const started = Date.now();
      controller.abort();
      await expect(running).rejects.toSatisfy(isAbortError);
      // Within the SIGTERM grace period: sudo relayed the signal, nothing needed SIGKILL.
      expect(Date.now() - started).toBeLessThan(1500);
      await waitUntil(() => remoteSleeps('4851').length === 0, 1000, 'the root process to end');
    } finally {
      setSudoersRule(`${SUDO_USER} ALL=(ALL:ALL) ALL\n`);
    }
  });
});

describe('a changed host key', () => {
  it('is refused against the pin, loudly, with both fingerprints', async () => {
    const oldPin = pin();
    const transport = transportFor({ pinnedHostKey: oldPin });
    await transport.exec('true');
    await sshd.restart({ newHostKey: true });
    expect(sshd.hostKey.fingerprint).not.toBe(oldPin.fingerprint);
    await waitUntil(() => !transport.connected, 3000, 'the restart to drop the connection');
    const error = (await transport.exec('true').catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain('HOST KEY CHANGED');
    expect(error.message).toContain(oldPin.fingerprint);
    expect(error.message).toContain(sshd.hostKey.fingerprint);
    expect(error.hint).toContain('profile set host.hostKey=');
  });
});

/**
 * A real OpenSSH server for integration tests: `sshd -D -e -f <config>` on 127.0.0.1 with a free
 * port, a throwaway host key and a throwaway client key, everything under one temp dir.
 * It runs as root (sshd must, to switch to the logged-in user); the tests fail clearly otherwise.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD_BINARY = '/usr/sbin/sshd';

export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(
      'these integration tests start a real sshd and create a throwaway user: run them as root ' +
        '(CI does; locally: sudo -E npx vitest run test/integration/ssh-transport.test.ts)',
    );
  }
}

export interface HostKeyInfo {
  algorithm: string;
  fingerprint: string;
  /** The `ssh-ed25519 AAAA...` line of the public key. */
  publicLine: string;
}

export interface SshdFixture {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  /** Unencrypted client private key authorized for every user. */
  readonly clientKeyFile: string;
  /** Passphrase-protected client key, also authorized. */
  readonly encryptedClientKeyFile: string;
  readonly encryptedClientKeyPassphrase: string;
  readonly hostKey: HostKeyInfo;
  /** pid of the listening sshd. */
  pid(): number;
  /** pids of every process below the listening sshd (per-connection sshd processes and their sessions). */
  connectionPids(): number[];
  /** Kills every per-connection process (drops all client connections); the listener stays up. */
  dropConnections(): Promise<void>;
  /** Stops and starts again on the same port, optionally with a new host key. */
  restart(options?: { newHostKey?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** OpenSSH fingerprint of a public key line, computed independently of the product's code. */
export function fingerprintOfPublicLine(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function readHostKey(file: string): HostKeyInfo {
  const publicLine = readFileSync(`${file}.pub`, 'utf8').trim();
  return { algorithm: publicLine.split(' ')[0] ?? '', fingerprint: fingerprintOfPublicLine(publicLine), publicLine };
}

function generateKey(file: string, passphrase = ''): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'throwaway', '-f', file], { stdio: 'ignore' });
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which is in parentheses and may contain spaces.
      const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(afterName[1]) === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

export function descendantsOf(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of childrenOf(next)) {
      all.push(child);
      queue.push(child);
    }
  }
  return all;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function startSshd(): Promise<SshdFixture> {
  requireRoot();
  // sshd's privilege-separation directory; Debian's package creates it at boot only.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'pvt-sshd-'));
  // Other users (the throwaway sudo user) must read authorized_keys: sshd reads it as the user.
  chmodSync(dir, 0o755);
  const hostKeyFile = join(dir, 'host_ed25519');
  const clientKeyFile = join(dir, 'client_ed25519');
  const encryptedClientKeyFile = join(dir, 'client_encrypted');
  const encryptedClientKeyPassphrase = `pass ${Math.random().toString(36).slice(2)}`;
  generateKey(hostKeyFile);
  generateKey(clientKeyFile);
  generateKey(encryptedClientKeyFile, encryptedClientKeyPassphrase);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKeyFile}.pub`, 'utf8') + readFileSync(`${encryptedClientKeyFile}.pub`, 'utf8'), { mode: 0o644 });
  const port = await freePort();
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'LogLevel VERBOSE',
      'MaxStartups 50',
      'MaxSessions 50',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let log = '';
  let removed = false;
  const logFile = join(dir, 'sshd.log');

  const start = async (): Promise<void> => {
    const started = spawn(SSHD_BINARY, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s:\n${log}`)), 10_000);
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        log += chunk;
        // Session processes share this pipe: their last lines may arrive after stop() removed the
        // directory, and are of no use then.
        if (!removed) appendFileSync(logFile, chunk);
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${String(code)}:\n${log}`));
      });
    });
    log = '';
  };

  const stopListener = async (): Promise<void> => {
    const running = child;
    if (!running?.pid || running.exitCode !== null) return;
    const pid = running.pid;
    const descendants = descendantsOf(pid);
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    for (const descendant of descendants) killQuietly(descendant, 'SIGKILL');
    await exited;
    await waitUntil(() => descendants.every((p) => !isAlive(p)), 5000, 'sshd sessions to end');
  };

  await start();

  const fixture = {
    host: '127.0.0.1' as const,
    port,
    dir,
    clientKeyFile,
    encryptedClientKeyFile,
    encryptedClientKeyPassphrase,
    hostKey: readHostKey(hostKeyFile),
    pid: () => child?.pid ?? -1,
    connectionPids: () => (child?.pid ? descendantsOf(child.pid) : []),
    async dropConnections() {
      const pids = fixture.connectionPids();
      for (const pid of pids) killQuietly(pid, 'SIGKILL');
      await waitUntil(() => pids.every((p) => !isAlive(p)), 5000, 'dropped sshd connections to end');
    },
    async restart(options: { newHostKey?: boolean } = {}) {
      await stopListener();
      if (options.newHostKey) {
        generateKey(hostKeyFile);
        fixture.hostKey = readHostKey(hostKeyFile);
      }
      await start();
    },
    async stop() {
      await stopListener();
      removed = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Adds a line to a known_hosts-style file. */
export function appendLine(file: string, line: string): void {
  appendFileSync(file, line.endsWith('\n') ? line : `${line}\n`);
}

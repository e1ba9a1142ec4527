/**
 * SSH from this machine into the lab host with the OpenSSH client, the way a user would: the lab's
 * own key, and strict host key checking against a known_hosts file written from the host key the
 * lab generated (never "accept whatever answers").
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, type RunOptions, type RunResult } from './process.js';

export interface SshTarget {
  address: string;
  port: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
}

/** Generates an ed25519 key pair without passphrase at `path` (and `path`.pub). */
export async function generateEd25519Key(path: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

/** Splits an OpenSSH public key line into its type and base64 blob. */
export function parsePublicKey(line: string): { algorithm: string; base64: string } {
  const [algorithm, base64] = line.trim().split(/\s+/);
  if (!algorithm || !base64) throw new Error(`not an OpenSSH public key: ${line.slice(0, 40)}`);
  return { algorithm, base64 };
}

/**
 * The fingerprint `ssh-keygen -l` prints: SHA256 of the key blob, base64 without padding
 * (https://man.openbsd.org/ssh-keygen, "-l"; format of the blob: RFC 4253 section 6.6).
 */
export function fingerprintOf(base64Blob: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(base64Blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export async function readPublicKey(pubPath: string): Promise<{ algorithm: string; base64: string; fingerprint: string }> {
  const key = parsePublicKey(await readFile(pubPath, 'utf8'));
  return { ...key, fingerprint: fingerprintOf(key.base64) };
}

/** known_hosts line for a non-default port: `[address]:port type key` (https://man.openbsd.org/sshd.8, SSH_KNOWN_HOSTS FILE FORMAT). */
export async function writeKnownHosts(path: string, address: string, port: number, algorithm: string, base64: string): Promise<void> {
  await writeFile(path, `[${address}]:${port} ${algorithm} ${base64}\n`, { mode: 0o644 });
}

export function sshArgs(target: SshTarget): string[] {
  return [
    '-F', '/dev/null', // no user or system client configuration changes what the lab does
    '-i', target.keyFile,
    '-p', String(target.port),
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${target.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    `${target.user}@${target.address}`,
  ];
}

/** Runs one remote command (already a shell command line: quote its values with `sh`). */
export function sshRun(target: SshTarget, remoteCommand: string, options: RunOptions = {}): Promise<RunResult> {
  return run('ssh', [...sshArgs(target), '--', remoteCommand], { timeoutMs: 60_000, ...options });
}

/** Resolves with the server's identification line once something on the port speaks SSH. */
export function readSshBanner(address: string, port: number, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port });
    let received = '';
    const timer = setTimeout(() => socket.destroy(new Error('no SSH banner in time')), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const line = received.split('\r\n')[0] ?? '';
      if (received.includes('\n')) {
        clearTimeout(timer);
        socket.destroy();
        if (line.startsWith('SSH-')) resolve(line.trim());
        else reject(new Error(`not an SSH server: ${line.slice(0, 60)}`));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('connection closed before the SSH banner'));
    });
  });
}

/** Polls until sshd answers; `stillBooting` lets the caller stop early when the machine died. */
export async function waitForSsh(address: string, port: number, timeoutMs: number, stillBooting: () => Promise<boolean>): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'nothing tried yet';
  while (Date.now() < deadline) {
    if (!(await stillBooting())) throw new Error(`the host stopped before sshd answered (last attempt: ${lastError})`);
    try {
      return await readSshBanner(address, port);
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`sshd on ${address}:${port} did not answer within ${Math.round(timeoutMs / 1000)}s (last attempt: ${lastError})`);
}

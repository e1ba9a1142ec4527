/**
 * known_hosts matching, checked against files written by the real OpenSSH tools: keys from
 * `ssh-keygen -t`, fingerprints from `ssh-keygen -l -E sha256`, hashed names from `ssh-keygen -H`.
 * Format: https://man.openbsd.org/sshd.8#SSH_KNOWN_HOSTS_FILE_FORMAT
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkKnownHosts,
  describeKnown,
  fingerprintOf,
  hostFieldMatches,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  pinOf,
} from '../../source/services/host/known-hosts.js';

interface GeneratedKey {
  type: string;
  base64: string;
  blob: Buffer;
  /** As `ssh-keygen -l -E sha256` prints it. */
  fingerprint: string;
}

let dir: string;
const keys: Record<'ed25519' | 'ed25519b' | 'ecdsa' | 'rsa', GeneratedKey> = {} as never;

function generate(name: string, type: string, bits?: string): GeneratedKey {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-f', file], { stdio: 'ignore' });
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ') as [string, string];
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  return { type: keyType, base64, blob: Buffer.from(base64, 'base64'), fingerprint };
}

/** Writes plain lines, then lets `ssh-keygen -H` hash them in place, and returns the hashed file. */
function hashedWithSshKeygen(lines: string[]): string {
  const file = join(dir, `known_hosts_${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, lines.join('\n') + '\n');
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  return readFileSync(file, 'utf8');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvt-known-hosts-'));
  keys.ed25519 = generate('ed25519', 'ed25519');
  keys.ed25519b = generate('ed25519b', 'ed25519');
  keys.ecdsa = generate('ecdsa', 'ecdsa', '256');
  keys.rsa = generate('rsa', 'rsa', '2048');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fingerprints', () => {
  it('equal what ssh-keygen -l prints, for every key type', () => {
    for (const key of Object.values(keys)) {
      expect(fingerprintOf(key.blob)).toBe(key.fingerprint);
      expect(fingerprintOf(key.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    }
  });

  it('read the key type from the blob', () => {
    expect(keyTypeOf(keys.ed25519.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(keys.ecdsa.blob)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOf(keys.rsa.blob)).toBe('ssh-rsa');
    expect(pinOf(keys.rsa.blob)).toEqual({ algorithm: 'ssh-rsa', fingerprint: keys.rsa.fingerprint });
    expect(keyTypeOf(Buffer.from([0, 0]))).toBe('unknown');
  });
});

describe('knownHostsName', () => {
  it('uses the bare name for port 22 and [host]:port otherwise', () => {
    expect(knownHostsName('Pi.Local', 22)).toBe('pi.local');
    expect(knownHostsName('10.0.0.11', 2222)).toBe('[10.0.0.11]:2222');
  });
});

describe('plain entries (ssh-keyscan style lines)', () => {
  it('match the host, comma lists and [host]:port entries', () => {
    const text = [
      '# comment line',
      '',
      `pi.local,10.0.0.11 ${keys.ed25519.type} ${keys.ed25519.base64}`,
      `[10.0.0.12]:2222 ${keys.ecdsa.type} ${keys.ecdsa.base64} comment words`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(2);
    expect(checkKnownHosts(entries, '10.0.0.11', 22, keys.ed25519.blob).status).toBe('match');
    expect(checkKnownHosts(entries, 'PI.local', 22, keys.ed25519.blob).status).toBe('match');
    expect(checkKnownHosts(entries, '10.0.0.12', 2222, keys.ecdsa.blob).status).toBe('match');
    // The same address on port 22 is another entry in OpenSSH's eyes.
    expect(checkKnownHosts(entries, '10.0.0.12', 22, keys.ecdsa.blob).status).toBe('unknown');
    // A port-22 entry does not cover another port.
    expect(checkKnownHosts(entries, '10.0.0.11', 2200, keys.ed25519.blob).status).toBe('unknown');
  });

  it('report a different key of the same type as a mismatch, with the expected entry', () => {
    const entries = parseKnownHosts(`pi.local ${keys.ed25519.type} ${keys.ed25519.base64}\n`);
    const verdict = checkKnownHosts(entries, 'pi.local', 22, keys.ed25519b.blob);
    expect(verdict.status).toBe('mismatch');
    if (verdict.status !== 'mismatch') return;
    expect(verdict.expected[0]?.line).toBe(1);
    expect(fingerprintOf(verdict.expected[0]?.key ?? Buffer.alloc(0))).toBe(keys.ed25519.fingerprint);
  });

  it('treat a host known only with other key types as unknown, naming those types', () => {
    const entries = parseKnownHosts(`pi.local ${keys.rsa.type} ${keys.rsa.base64}\n`);
    expect(checkKnownHosts(entries, 'pi.local', 22, keys.ed25519.blob)).toEqual({ status: 'unknown', otherTypes: ['ssh-rsa'], known: entries });
    expect(knownKeyTypes(entries, 'pi.local', 22)).toEqual(['ssh-rsa']);
  });

  it('an unknown verdict carries the entries of other key types with their file and line, for the warning', () => {
    const entries = [
      ...parseKnownHosts(`# user file\npi.local ${keys.rsa.type} ${keys.rsa.base64}\n`, '~/.ssh/known_hosts'),
      ...parseKnownHosts(`other.host ${keys.ed25519.type} ${keys.ed25519.base64}\n`, '/etc/ssh/ssh_known_hosts'),
    ];
    const verdict = checkKnownHosts(entries, 'pi.local', 22, keys.ed25519.blob);
    expect(verdict.status).toBe('unknown');
    const known = verdict.status === 'unknown' ? verdict.known : [];
    expect(known.map((entry) => [entry.file, entry.line, entry.keyType])).toEqual([['~/.ssh/known_hosts', 2, 'ssh-rsa']]);
    expect(describeKnown(known.map((entry) => ({ ...pinOf(entry.key), where: `${entry.file}:${entry.line}` })))).toBe(
      `ssh-rsa ${fingerprintOf(keys.rsa.blob)} (~/.ssh/known_hosts:2)`,
    );
  });

  it('a key @revoked in the system file is revoked whichever file trusts it', () => {
    const entries = [
      ...parseKnownHosts(`pi.local ${keys.ed25519.type} ${keys.ed25519.base64}\n`, '~/.ssh/known_hosts'),
      ...parseKnownHosts(`@revoked * ${keys.ed25519.type} ${keys.ed25519.base64}\n`, '/etc/ssh/ssh_known_hosts'),
    ];
    const verdict = checkKnownHosts(entries, 'pi.local', 22, keys.ed25519.blob);
    expect(verdict).toMatchObject({ status: 'revoked', entry: { file: '/etc/ssh/ssh_known_hosts', line: 1 } });
  });

  it('honour wildcards and negation', () => {
    expect(hostFieldMatches('*.lab,!evil.lab', 'pi.lab')).toBe(true);
    expect(hostFieldMatches('*.lab,!evil.lab', 'evil.lab')).toBe(false);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.17')).toBe(false);
    // Dots are literal, not regex wildcards.
    expect(hostFieldMatches('10.0.0.1', '10x0x0x1')).toBe(false);
  });

  it('skip @cert-authority lines and corrupt lines, and refuse @revoked keys', () => {
    const text = [
      `@cert-authority *.lab ${keys.ecdsa.type} ${keys.ecdsa.base64}`,
      `@revoked * ${keys.ed25519b.type} ${keys.ed25519b.base64}`,
      'pi.lab ssh-ed25519 not*base64',
      `pi.lab ssh-rsa ${keys.ed25519.base64}`, // type in the line does not match the blob
      'only-two fields',
      `@unknown-marker pi.lab ${keys.ed25519.type} ${keys.ed25519.base64}`,
      `pi.lab ${keys.ed25519b.type} ${keys.ed25519b.base64}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((entry) => entry.marker ?? entry.hosts)).toEqual(['cert-authority', 'revoked', 'pi.lab']);
    // The CA key is not a host key for pi.lab.
    expect(checkKnownHosts(entries, 'pi.lab', 22, keys.ecdsa.blob).status).toBe('unknown');
    // Revoked wins even over a plain entry for the same key.
    expect(checkKnownHosts(entries, 'pi.lab', 22, keys.ed25519b.blob).status).toBe('revoked');
  });
});

describe('hashed entries written by ssh-keygen -H', () => {
  it('match the hashed host name and [host]:port form, and nothing else', () => {
    const hashed = hashedWithSshKeygen([
      `pi.local ${keys.ed25519.type} ${keys.ed25519.base64}`,
      `[127.0.0.1]:2222 ${keys.rsa.type} ${keys.rsa.base64}`,
    ]);
    expect(hashed).not.toContain('pi.local');
    expect(hashed).not.toContain('127.0.0.1');
    expect(hashed.split('\n').filter((line) => line.startsWith('|1|'))).toHaveLength(2);
    const entries = parseKnownHosts(hashed);
    expect(checkKnownHosts(entries, 'pi.local', 22, keys.ed25519.blob).status).toBe('match');
    expect(checkKnownHosts(entries, '127.0.0.1', 2222, keys.rsa.blob).status).toBe('match');
    expect(checkKnownHosts(entries, 'pi.local', 22, keys.ed25519b.blob).status).toBe('mismatch');
    expect(checkKnownHosts(entries, 'pi.other', 22, keys.ed25519.blob).status).toBe('unknown');
    expect(checkKnownHosts(entries, '127.0.0.1', 22, keys.rsa.blob).status).toBe('unknown');
  });

  it('splits a comma-separated host list into one hashed line per name', () => {
    const entries = parseKnownHosts(hashedWithSshKeygen([`pi.local,10.0.0.11 ${keys.ecdsa.type} ${keys.ecdsa.base64}`]));
    expect(entries).toHaveLength(2);
    expect(checkKnownHosts(entries, '10.0.0.11', 22, keys.ecdsa.blob).status).toBe('match');
    expect(checkKnownHosts(entries, 'pi.local', 22, keys.ecdsa.blob).status).toBe('match');
  });

  it('agrees with ssh-keygen -F on which host a hashed file knows', () => {
    const file = join(dir, 'known_hosts_lookup');
    writeFileSync(file, `[10.1.2.3]:2022 ${keys.ed25519.type} ${keys.ed25519.base64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const found = execFileSync('ssh-keygen', ['-F', '[10.1.2.3]:2022', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.ed25519.base64);
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(checkKnownHosts(entries, '10.1.2.3', 2022, keys.ed25519.blob).status).toBe('match');
  });
});

/**
 * OpenSSH known_hosts parsing and matching, and host key fingerprints as OpenSSH prints them.
 * Pure functions: the SSH transport reads the file and decides what to do with the answer.
 *
 * Format (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT": https://man.openbsd.org/sshd.8#SSH_KNOWN_HOSTS_FILE_FORMAT):
 *   [@marker] hostpatterns keytype base64-key [comment]
 * - hostpatterns: comma-separated names, `*` and `?` wildcards, `!` negation, `[host]:port` for a
 *   port other than 22, or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`
 *   (written by `ssh-keygen -H` and HashKnownHosts=yes).
 * - markers: `@cert-authority` (we do not use certificates: ignored) and `@revoked` (the key must be
 *   refused for every host).
 * Fingerprint: `SHA256:` + base64 of the SHA-256 of the key blob, without `=` padding
 * (ssh-keygen -l, the default FingerprintHash since OpenSSH 6.8).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface HostKeyPin {
  /** Key type, e.g. ssh-ed25519. */
  algorithm: string;
  /** `SHA256:...` as OpenSSH prints it. */
  fingerprint: string;
}

export interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written (plain patterns or one hashed name). */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** 1-based line number, for messages such as `known_hosts:12`. */
  line: number;
  /** The file the entry was read from, when known (messages name it). */
  file?: string;
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside the blob (RFC 4253 §6.6: string "ssh-ed25519", ...). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || length > 64 || keyBlob.length < 4 + length) return 'unknown';
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

export function pinOf(keyBlob: Buffer): HostKeyPin {
  return { algorithm: keyTypeOf(keyBlob), fingerprint: fingerprintOf(keyBlob) };
}

/** The name a host is stored under: `host` for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

export function parseKnownHosts(text: string, file?: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return; // Unknown marker: OpenSSH skips such lines too.
    }
    const [hosts, keyType, keyText] = fields;
    if (!hosts || !keyType || !keyText || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) return;
    const key = Buffer.from(keyText, 'base64');
    // A key whose blob does not name its own type is corrupt: skip it rather than trust it.
    if (keyTypeOf(key) !== keyType) return;
    entries.push({ marker, hosts, keyType, key, line: index + 1, ...(file === undefined ? {} : { file }) });
  });
  return entries;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function hashedNameMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const expected = Buffer.from(parts[3] ?? '', 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether an entry's host field names this host (OpenSSH match_hostname semantics, negation included). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedNameMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.length === 0) continue;
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (globToRegExp(body).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type KnownHostsVerdict =
  | { status: 'match'; entry: KnownHostEntry }
  /** The host is listed with a different key of the same type: the key changed (or an attack). */
  | { status: 'mismatch'; expected: KnownHostEntry[] }
  /** The key is listed under @revoked. */
  | { status: 'revoked'; entry: KnownHostEntry }
  /**
   * Not listed under this key; `known` holds the host's entries of other key types, if any: a server
   * that offers a type other than the one it is known by may be an impostor (OpenSSH warns too).
   */
  | { status: 'unknown'; otherTypes: string[]; known: KnownHostEntry[] };

export function checkKnownHosts(entries: readonly KnownHostEntry[], host: string, port: number, keyBlob: Buffer): KnownHostsVerdict {
  const name = knownHostsName(host, port);
  const presentedType = keyTypeOf(keyBlob);
  const revoked = entries.find((entry) => entry.marker === 'revoked' && entry.key.equals(keyBlob));
  if (revoked) return { status: 'revoked', entry: revoked };
  const forHost = entries.filter((entry) => entry.marker === undefined && hostFieldMatches(entry.hosts, name));
  const exact = forHost.find((entry) => entry.key.equals(keyBlob));
  if (exact) return { status: 'match', entry: exact };
  const sameType = forHost.filter((entry) => entry.keyType === presentedType);
  if (sameType.length > 0) return { status: 'mismatch', expected: sameType };
  return { status: 'unknown', otherTypes: [...new Set(forHost.map((entry) => entry.keyType))], known: forHost };
}

/** Key types known for a host, to ask the server for one of those first (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [
    ...new Set(entries.filter((entry) => entry.marker === undefined && hostFieldMatches(entry.hosts, name)).map((entry) => entry.keyType)),
  ];
}

/** A key the host is known by, with where it is listed. */
export interface KnownOtherKey extends HostKeyPin {
  /** e.g. `~/.ssh/known_hosts:12` */
  where: string;
}

/** `ssh-ed25519 SHA256:… (~/.ssh/known_hosts:3)`, joined: for warnings and refusals. */
export function describeKnown(keys: readonly KnownOtherKey[]): string {
  return keys.map((key) => `${key.algorithm} ${key.fingerprint} (${key.where})`).join(', ');
}

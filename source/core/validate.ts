/**
 * Field validators shared by the profile schema, the profile form and the CLI. Each returns
 * `undefined` when the value is acceptable, or a message saying what is wrong and how to fix it.
 * Values that end up in shell commands are still shell-quoted; these checks make bad input fail
 * early with a clear message instead of producing a broken host.
 */
import { isIP } from 'node:net';

export type Validator<T = string> = (value: T) => string | undefined;

const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const trimmed = value.endsWith('.') ? value.slice(0, -1) : value;
  return trimmed.split('.').every((label) => HOSTNAME_LABEL.test(label));
}

/** A host to connect to: an IPv4/IPv6 address or a DNS name. */
export const validateHost: Validator = (value) => {
  if (value.trim() !== value || value.length === 0) return 'enter a hostname or IP address (no spaces)';
  if (isIP(value) !== 0 || isHostname(value)) return undefined;
  return `"${printable(value)}" is not a hostname or IP address (letters, digits, dots and dashes only)`;
};

export const validateIp: Validator = (value) =>
  isIP(value) !== 0 ? undefined : `"${printable(value)}" is not an IPv4 or IPv6 address (e.g. 10.0.0.11)`;

export const validatePort: Validator<number> = (value) =>
  Number.isInteger(value) && value >= 1 && value <= 65535 ? undefined : `port must be a whole number from 1 to 65535, got ${String(value)}`;

/** Parses a port typed as text (form, `profile set`). */
export function parsePort(text: string): number | undefined {
  return /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

/** A Linux user name as useradd accepts it. */
export const validateUserName: Validator = (value) =>
  /^[a-z_][a-z0-9_-]{0,31}$/.test(value) ? undefined : `"${printable(value)}" is not a valid user name (lowercase letters, digits, _ and -, starting with a letter)`;

/** `latest` or an exact release version such as 1.21.2 or 2.0.4 (optionally with +ent etc. is refused: OSS only). */
export const validateVaultVersion: Validator = (value) =>
  value === 'latest' || /^\d{1,3}\.\d{1,3}\.\d{1,3}(-(rc|beta|alpha)\d{1,3})?$/.test(value)
    ? undefined
    : `"${printable(value)}" is not a Vault version: use "latest" or an exact version like 2.0.4`;

/** A subjectAltName entry: a DNS name (wildcards allowed in the first label) or an IP address. */
export const validateSan: Validator = (value) => {
  if (isIP(value) !== 0) return undefined;
  const name = value.startsWith('*.') ? value.slice(2) : value;
  return isHostname(name) ? undefined : `"${printable(value)}" is not a DNS name or IP address for the certificate`;
};

/** An absolute path with no control characters (newlines in paths break unit files and logs). */
export const validateAbsolutePath: Validator = (value) => {
  if (!value.startsWith('/')) return `"${printable(value)}" must be an absolute path (starting with /)`;
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'path must not contain control characters such as newlines';
  return undefined;
};

/**
 * Directories no server path may be: the directories step makes a server path belong to the
 * server's account (as root), so `/var/lib` (a missing `/vault`) or `/` would hand the system to it.
 * The FHS top level, the directories beside and above the ones the product writes into, and the
 * program directories root runs from. Their parents are refused too (`/` is in the list).
 */
const SYSTEM_DIRECTORIES = new Set([
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt',
  '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var',
  '/etc/systemd', '/etc/systemd/system', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/sbin', '/usr/share',
  '/usr/local', '/usr/local/bin', '/usr/local/lib', '/usr/local/sbin', '/usr/local/share',
  '/var/cache', '/var/lib', '/var/local', '/var/log', '/var/opt', '/var/spool', '/var/tmp',
]);

/**
 * Virtual or emptied at every boot: a server's data or keys there never reach a disk. (/tmp is not
 * among them: it is a disk directory on many systems, and a scratch install under it is legitimate.)
 */
const VOLATILE_TREES = ['/dev', '/proc', '/run', '/sys'];

/**
 * A directory on the host the server owns (configDir, dataDir): absolute, written plainly (no `.`,
 * `..` or empty segments, so what is checked is what is used), and a directory of its own, never a
 * system directory or one inside a virtual or volatile tree.
 */
export const validateServerDirectory: Validator = (value) => {
  const shape = validateAbsolutePath(value);
  if (shape) return shape;
  const segments = value.split('/').slice(1);
  if (value !== '/' && segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return `"${printable(value)}" must be written plainly: no "..", "." or empty segments (repeated or trailing /); write the directory itself, e.g. /var/lib/vault`;
  }
  if (SYSTEM_DIRECTORIES.has(value)) {
    return `"${printable(value)}" is a system directory: the server's account would own it; use a directory of the server's own inside it, e.g. /etc/vault or /var/lib/vault`;
  }
  const volatile = VOLATILE_TREES.find((tree) => value.startsWith(`${tree}/`));
  if (volatile) {
    return `"${printable(value)}" is inside ${volatile}, which is virtual or emptied at boot: the server's files would not survive a restart; use a directory on disk, e.g. /var/lib/vault`;
  }
  return undefined;
};

/** A local path the user types: absolute or ~/…, no control characters. */
export const validateLocalPath: Validator = (value) => {
  if (value.length === 0) return 'enter a path';
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'path must not contain control characters such as newlines';
  return undefined;
};

/** An http(s) URL (release mirror, proxy, Kubernetes API address). */
export const validateUrl: Validator = (value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${printable(value)}" is not a URL (e.g. https://releases.hashicorp.com)`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `"${printable(value)}" must start with http:// or https://`;
  if (url.username || url.password) return 'put no credentials in the URL';
  return undefined;
};

export const validateHttpsUrl: Validator = (value) =>
  validateUrl(value) ?? (value.startsWith('https://') ? undefined : `"${printable(value)}" must use https://`);

/** The number of key shares alone: a whole number from 1 to 10. */
export function validateShareCount(shares: number): string | undefined {
  if (!Number.isInteger(shares) || shares < 1 || shares > 10) return `key shares must be a whole number from 1 to 10, got ${String(shares)}`;
  return undefined;
}

/** The key threshold alone (before the shares are known): a whole number from 1 to 10. */
export function validateThresholdAlone(threshold: number): string | undefined {
  if (!Number.isInteger(threshold) || threshold < 1) return `key threshold must be a whole number of at least 1, got ${String(threshold)}`;
  if (threshold > 10) return `key threshold (${threshold}) cannot be larger than key shares (at most 10)`;
  return undefined;
}

/**
 * Key shares and threshold for init: 1 ≤ threshold ≤ shares ≤ 10, and a threshold of 1 only with a
 * single share. A threshold of 1 with several shares makes every share a full unseal key on its own:
 * the extra shares are extra copies to lose, not a quorum (1 share and threshold 1 is allowed, with a
 * warning at init: the homelab trade-off said plainly).
 */
export function validateShares(shares: number, threshold: number): string | undefined {
  const count = validateShareCount(shares);
  if (count) return count;
  if (!Number.isInteger(threshold) || threshold < 1) return `key threshold must be a whole number of at least 1, got ${String(threshold)}`;
  if (threshold > shares) return `key threshold (${threshold}) cannot be larger than key shares (${shares})`;
  if (threshold === 1 && shares > 1) {
    return (
      `a key threshold of 1 with ${shares} key shares lets any single key holder unseal alone: the other ${shares - 1} shares are copies of the same power, not a quorum; ` +
      'set vault.keyThreshold to at least 2 (e.g. 3 of 5), or vault.keyShares to 1'
    );
  }
  return undefined;
}

/** A Kubernetes object name (RFC 1123 label/subdomain). */
export const validateK8sName: Validator = (value) =>
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value) ? undefined : `"${printable(value)}" is not a valid Kubernetes name (lowercase letters, digits and -)`;

/** A Vault mount path segment, e.g. `kubernetes` or `k3s-auth`. */
export const validateMountPath: Validator = (value) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(value) ? undefined : `"${printable(value)}" is not a valid mount path (letters, digits, _ . -)`;

/** A profile name: it becomes a file name. */
export const validateProfileName: Validator = (value) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(value) && !value.includes('..')
    ? undefined
    : `"${printable(value)}" is not a valid profile name (letters, digits, _ . -; at most 64 characters)`;

/** Shows control characters visibly so an error message never breaks the terminal. */
export function printable(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

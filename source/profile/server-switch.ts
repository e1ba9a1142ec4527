/**
 * Switching a profile between Vault and OpenBao (`vault.server`): the settings that only held the
 * old server's defaults follow the new server. Profiles written before `vault.server` existed, and
 * profiles saved by older versions, spell the defaults out (`configDir: "/etc/vault"`,
 * `releaseBaseUrl: "https://releases.hashicorp.com"`); left in place they would install OpenBao
 * into Vault's directories from HashiCorp's site. A value the user chose (anything but the old
 * default), or one assigned in the same change, is kept.
 *
 * This only changes the profile: the host is never migrated. A host that already runs the other
 * server is refused by the setup's preflight (steps/host/preflight.ts).
 */
import { SERVERS, type ServerKind } from '../core/server.js';

/** Profile keys whose default depends on the server. */
export const SERVER_DEFAULTED_KEYS = ['vault.configDir', 'vault.dataDir', 'vault.releaseBaseUrl'] as const;

function defaultFor(kind: ServerKind, key: (typeof SERVER_DEFAULTED_KEYS)[number]): string {
  const server = SERVERS[kind];
  if (key === 'vault.configDir') return server.defaultConfigDir;
  if (key === 'vault.dataDir') return server.defaultDataDir;
  return server.release.defaultBaseUrl;
}

function serverKindOf(raw: unknown): ServerKind {
  const vault = typeof raw === 'object' && raw !== null ? (raw as { vault?: unknown }).vault : undefined;
  const server = typeof vault === 'object' && vault !== null ? (vault as { server?: unknown }).server : undefined;
  return server === 'openbao' ? 'openbao' : 'vault';
}

/**
 * In `after` (raw profile JSON, changed in place): when its server differs from `before`'s, removes
 * each server-defaulted key that still holds the old server's default and was not in `assigned`.
 * Returns the keys removed, for the message that says what followed the switch.
 */
export function followServerDefaults(before: unknown, after: Record<string, unknown>, assigned: ReadonlySet<string> = new Set()): string[] {
  const from = serverKindOf(before);
  const to = serverKindOf(after);
  if (from === to) return [];
  const vault = after['vault'];
  if (typeof vault !== 'object' || vault === null) return [];
  const fields = vault as Record<string, unknown>;
  const removed: string[] = [];
  for (const key of SERVER_DEFAULTED_KEYS) {
    if (assigned.has(key)) continue;
    const name = key.slice('vault.'.length);
    if (fields[name] === defaultFor(from, key)) {
      delete fields[name];
      removed.push(key);
    }
  }
  return removed;
}

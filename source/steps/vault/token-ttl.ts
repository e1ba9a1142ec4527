/**
 * The TTL of a created token as Vault granted it, not as the product asked for it. Vault answers
 * auth/token/create with `auth.lease_duration` (seconds), and grants less than the `ttl` asked when
 * a limit caps it: the token auth mount's max_lease_ttl (by default the server's, 768h), or the
 * creating token's own remaining TTL for a child token. What is shown and recorded is that answer;
 * when it is less than asked, the text says so.
 * API: https://developer.hashicorp.com/vault/api-docs/auth/token#create-token
 */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds of a duration as the profile writes it (`768h`, `30d`, `45m`, `3600s`); undefined when it is not one. */
export function durationSeconds(duration: string): number | undefined {
  const match = /^(\d{1,9})([smhd])$/.exec(duration.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}

/** Seconds in Vault's duration syntax, in the largest of h, m, s that is whole: 2764800 → `768h`, 90 → `90s`. */
export function formatDurationSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export interface GrantedTtl {
  /** What Vault granted, in Vault's duration syntax (`768h`); `none` for a token without expiry. */
  ttl: string;
  /** Seconds Vault granted (auth.lease_duration); 0 = no expiry. */
  seconds: number;
  /** The TTL the product asked for, as written in the profile. */
  asked: string;
  /** Vault granted less than asked. */
  capped: boolean;
  /** For the user: `768h`, or `768h (asked 8760h; capped by Vault's max TTL)`. */
  text: string;
}

/**
 * The TTL to show for a token created with `ttl: asked` whose create answer carried
 * `auth.lease_duration = leaseDuration` seconds.
 */
export function grantedTtl(asked: string, leaseDuration: number, serverName = 'Vault'): GrantedTtl {
  const seconds = Number.isFinite(leaseDuration) && leaseDuration > 0 ? Math.round(leaseDuration) : 0;
  const askedSeconds = durationSeconds(asked);
  if (seconds === 0) {
    return { ttl: 'none', seconds, asked, capped: false, text: `no expiry (asked ${asked}; ${serverName} gave the token no TTL)` };
  }
  const ttl = formatDurationSeconds(seconds);
  if (askedSeconds === undefined || seconds === askedSeconds) {
    // Granted as asked: shown as the user wrote it (30d stays 30d), the seconds being the same.
    const shown = askedSeconds === undefined ? ttl : asked;
    return { ttl: shown, seconds, asked, capped: false, text: shown };
  }
  if (seconds < askedSeconds) {
    return { ttl, seconds, asked, capped: true, text: `${ttl} (asked ${asked}; capped by ${serverName}'s max TTL)` };
  }
  return { ttl, seconds, asked, capped: false, text: `${ttl} (asked ${asked})` };
}

/** What to do about a cap: ask for less, or raise the token auth mount's limit. */
export function cappedTtlHint(granted: GrantedTtl, server: { name: string; binaryName: string } = { name: 'Vault', binaryName: 'vault' }): string {
  return (
    `${server.name} granted ${granted.ttl}, less than the ${granted.asked} vault.accessTtl asks for: its max TTL caps it. ` +
    `Set vault.accessTtl to at most ${granted.ttl} (what it grants anyway), or raise the token auth mount's max TTL (\`${server.binaryName} auth tune -max-lease-ttl=${granted.asked} token/\`; the server's own max_lease_ttl setting, or a creating token with a shorter TTL of its own, can cap it too) for the tokens issued after that.`
  );
}

/**
 * The three clocks the cluster phase depends on, compared: the Vault host's (`date +%s` over the
 * host transport), the Kubernetes API server's (the Date header of its answer) and this machine's.
 *
 * The pair that breaks logins is the Vault host against the API: the API signs ESO's service
 * account token (iat/nbf/exp from its clock; ESO asks for 600 s tokens) and Vault checks those
 * claims against the Vault host's clock with hashicorp/cap's leeway of 150 s
 * (vault-plugin-auth-kubernetes path_login.go → capjwt ValidateAllowMissingIatNbfExp;
 * cap/jwt DefaultLeewaySeconds = 150). Further apart, every ESO login is refused ("token is expired"
 * or "not valid yet", in Vault's debug log only) and the store stays not Ready. This machine's clock
 * decides nothing there, but a clock that far off here points at the same missing time sync.
 * A Raspberry Pi has no battery-backed clock: one that booted without network keeps the last time
 * it saved until NTP reaches it.
 *
 * Each comparison is judged on the least the clocks can be apart (core/clock.ts: both readings have
 * whole-second resolution and are bracketed by the round trip).
 */
import { describeOffset, leastApart, offsetBetween, offsetFromLocal, type ClockOffset, type ClockReading } from '../../core/clock.js';

/** Above this, clocks are said to be apart (the figures shown), though nothing fails yet. */
export const CLOCK_WARN_SECONDS = 60;
/** hashicorp/cap's JWT leeway, which Vault's kubernetes auth method applies to exp and nbf. */
export const JWT_LEEWAY_SECONDS = 150;

export interface ClockComparison {
  /** Vault host minus API (the pair that decides logins). */
  hostVsApi: ClockOffset;
  /** Vault host minus this machine. */
  hostVsLocal: ClockOffset;
  /** API minus this machine. */
  apiVsLocal: ClockOffset;
}

export function compareClocks(host: ClockReading, api: ClockReading): ClockComparison {
  const hostVsLocal = offsetFromLocal(host);
  const apiVsLocal = offsetFromLocal(api);
  return { hostVsLocal, apiVsLocal, hostVsApi: offsetBetween(hostVsLocal, apiVsLocal) };
}

export type ClockVerdict =
  | { kind: 'ok'; detail: string }
  | { kind: 'warn'; warnings: string[]; detail: string }
  /** The Vault host and the API are further apart than the leeway: ESO could never log in. */
  | { kind: 'refuse'; message: string; hint: string };

const NTP_HINT =
  'Turn on time sync where the clock is wrong: sudo timedatectl set-ntp true (systemd-timesyncd; chrony works too), then check with timedatectl status that "System clock synchronized: yes". A Raspberry Pi has no battery-backed clock, so one that booted without network keeps an old time until NTP reaches it.';

function finite(offset: ClockOffset): boolean {
  return Number.isFinite(offset.low) && Number.isFinite(offset.high);
}

export function judgeClocks(comparison: ClockComparison, vaultHostName: string): ClockVerdict {
  const { hostVsApi, hostVsLocal, apiVsLocal } = comparison;
  const host = `the ${vaultHostName} host`;
  const figures = [
    finite(hostVsApi) ? describeOffset(host, 'the Kubernetes API', hostVsApi) : `${host}'s or the Kubernetes API's clock could not be read`,
    finite(hostVsLocal) ? describeOffset(host, 'this machine', hostVsLocal) : undefined,
    finite(apiVsLocal) ? describeOffset('the Kubernetes API', 'this machine', apiVsLocal) : undefined,
  ].filter((line): line is string => line !== undefined);
  if (finite(hostVsApi) && leastApart(hostVsApi) > JWT_LEEWAY_SECONDS) {
    return {
      kind: 'refuse',
      message: `${describeOffset(host, 'the Kubernetes API', hostVsApi)}, more than the ${JWT_LEEWAY_SECONDS} s Vault allows when it checks a service account token's time claims: every login of External Secrets Operator would be refused (${figures.slice(1).join('; ') || 'this machine\'s clock was not compared'})`,
      hint: NTP_HINT,
    };
  }
  const warnings: string[] = [];
  if (finite(hostVsApi) && leastApart(hostVsApi) > CLOCK_WARN_SECONDS) warnings.push(`${describeOffset(host, 'the Kubernetes API', hostVsApi)}: logins still work within Vault's ${JWT_LEEWAY_SECONDS} s leeway, but not for long if it drifts further; turn on time sync (timedatectl set-ntp true)`);
  for (const [offset, a] of [[hostVsLocal, host], [apiVsLocal, 'the Kubernetes API']] as const) {
    if (finite(offset) && leastApart(offset) > CLOCK_WARN_SECONDS) warnings.push(`${describeOffset(a, 'this machine', offset)}: one of them is not time-synced (timedatectl status)`);
  }
  if (!finite(hostVsApi)) warnings.push(figures[0]!);
  const detail = finite(hostVsApi) ? `clocks: ${describeOffset(host, 'the API', hostVsApi).replace(/^the /, '')}` : 'clocks: not compared';
  return warnings.length > 0 ? { kind: 'warn', warnings, detail } : { kind: 'ok', detail };
}

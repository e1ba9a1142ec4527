/**
 * What the Home screen's one-key actions do, outside React: seal Vault (`s`), take a raft snapshot
 * (`b`) and follow the service logs (`l`). Each runs the product's own code — the vault steps' way
 * of finding the API, our CA and the root token (custody init.json; asked in a dialog when custody
 * has none or it was revoked), services/snapshot.ts, services/host/journal.ts — loaded on first use
 * so the TUI's start does not pay for node-vault.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal
 */
import { VAULT, type ServerFlavor } from '../core/server.js';
import type { StepContext } from '../core/step.js';
import { commandStepContext } from '../cli/status.js';
import type { Transport } from '../services/host/transport.js';
import type { SnapshotResult } from '../services/snapshot.js';

/** What an action runs with: the same as a command's step context (onLog gets redacted lines). */
export type ActionEnvironment = Parameters<typeof commandStepContext>[0];

function actionContext(env: ActionEnvironment): StepContext {
  return commandStepContext({
    profileName: env.profileName,
    profile: env.profile,
    services: env.services,
    prompt: env.prompt,
    redactor: env.redactor,
    ...(env.signal ? { signal: env.signal } : {}),
    ...(env.onLog ? { onLog: env.onLog } : {}),
  });
}

/** PUT sys/seal with the root token (custody, or typed). */
export async function sealVault(env: ActionEnvironment): Promise<void> {
  const { VaultSession, openVault, adminToken } = await import('../steps/vault/session.js');
  const ctx = actionContext(env);
  const session = new VaultSession();
  const api = await openVault(ctx);
  await api.withToken(await adminToken(ctx, session)).seal();
}

/** A raft snapshot into `<custody>/snapshots/vault-<UTC>.snap` (0600). */
export async function snapshotVault(env: ActionEnvironment): Promise<SnapshotResult> {
  const [{ takeSnapshot }, { VaultSession, apiAddress, caPemFor, adminToken }] = await Promise.all([
    import('../services/snapshot.js'),
    import('../steps/vault/session.js'),
  ]);
  const ctx = actionContext(env);
  const session = new VaultSession();
  const address = apiAddress(ctx);
  const caPem = await caPemFor(ctx);
  const token = await adminToken(ctx, session);
  return takeSnapshot({ vault: { address, caPem, token }, profileName: env.profileName, ...(env.signal ? { signal: env.signal } : {}) });
}

/** The units `l` follows: the server and the oneshot that unseals it after every start. */
export function logUnits(server: ServerFlavor): string[] {
  return [server.unit, server.unsealUnit];
}
/** Vault's units (the default server). */
export const LOG_UNITS = logUnits(VAULT);

/** Streams the units' journal until `signal` aborts; resolves then (rejects when following could not start). */
export async function followVaultLogs(
  transport: Transport,
  options: { onLine(line: string): void; signal: AbortSignal; lines?: number; server?: ServerFlavor },
): Promise<void> {
  const { followJournal } = await import('../services/host/journal.js');
  const units = logUnits(options.server ?? VAULT);
  await followJournal(transport, { units, onLine: options.onLine, signal: options.signal, ...(options.lines === undefined ? {} : { lines: options.lines }) });
}

/** `12.3 MiB`, `850 B`: a snapshot's size as the home screen says it. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

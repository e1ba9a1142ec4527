/**
 * `status [--json] [--no-host]`: Vault at a glance, one shot, no TUI.
 *
 * Exit codes (what a script branches on): 0 unsealed, 2 sealed, 3 not initialized, 1 unreachable or
 * any other error (no profile, no address, no CA, a bad answer). Warnings (certificate expiring,
 * auto-unseal disabled...) are printed but do not change the exit code.
 *
 * --json prints a StatusReport (source/services/status.ts), described by ./status.schema.json.
 * --no-host reaches the API only: the host transport is never created, so ssh2 is never loaded, and
 * the profile is read through ../profile/read.ts: the profile store's writer (conf, ajv) is loaded
 * only with the host, which may pin its SSH key in the profile.
 * Nothing here loads Ink, React, node-vault or the Kubernetes client.
 */
import { UserError } from '../core/errors.js';
import { createHeadlessPrompter } from '../core/headless-prompter.js';
import { Redactor } from '../core/redact.js';
import type { Logger, Prompter, Services, StepContext } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import { commandFor, loadProfile } from '../profile/read.js';
import type { ProfileStore } from '../profile/store.js';
import { openRunServices, type RunServices } from '../services/run-services.js';
import { clusterConfigured, describeClusterStatus, kubeconfigReadOptions, readClusterStatus } from '../services/cluster-status.js';
import { collectStatus, describeHa, emptyVaultStatus, STATUS_EXIT, STATUS_SCHEMA_VERSION, statusUnits, type StatusReport, type UnitStatus } from '../services/status.js';
import { SERVERS, serverOf, VAULT, type ServerFlavor } from '../core/server.js';
import { vaultApiAddress } from '../steps/host/layout.js';
import { caPemFor } from '../steps/vault/session.js';
import { printProblem, type GlobalOptions, type Output } from './output.js';

export interface StatusOptions {
  json?: boolean;
  /** commander's negation of --no-host: false when the host must not be reached. */
  host?: boolean;
}

/** The services of a command that runs no plan; with `host: false` every use of the host is refused, not attempted. */
export function commandServices(profile: Profile, profileName: string, store: ProfileStore, prompt: Prompter, host: boolean): RunServices {
  if (!host) return noHostServices();
  return openRunServices(profile, prompt, { store, profileName });
}

/** The services of `--no-host`: every use of the host is refused, not attempted. */
export function noHostServices(): RunServices {
  return {
    host: () => Promise.reject(new UserError('the host is not reached with --no-host')),
    close: async () => undefined,
  };
}

/**
 * A StepContext for a command that runs helpers of the steps outside the runner (status reads the
 * CA the way the vault steps do; unseal submits keys the way the unseal step does). Log lines are
 * redacted here before they reach `onLog`.
 */
export function commandStepContext(options: {
  profileName: string;
  profile: Profile;
  services: Services;
  prompt: Prompter;
  redactor: Redactor;
  signal?: AbortSignal;
  onLog?: (level: 'debug' | 'info' | 'warn' | 'error', text: string) => void;
}): StepContext {
  const { redactor, onLog } = options;
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (text: string): void => {
      for (const line of redactor.redact(text).split(/\r?\n/)) onLog?.(level, line);
    };
  const log: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
  return {
    profileName: options.profileName,
    profile: options.profile,
    log,
    signal: options.signal ?? new AbortController().signal,
    services: options.services,
    prompt: options.prompt,
    registerSecret: (value) => redactor.register(value),
    present: () => undefined,
  };
}

function failedReport(profileName: string, message: string, server: ServerFlavor = VAULT): StatusReport {
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    profile: profileName,
    server: { kind: server.kind, name: server.name },
    checkedAt: new Date().toISOString(),
    state: 'error',
    exitCode: STATUS_EXIT.error,
    vault: { ...emptyVaultStatus(null), error: message },
    host: null,
    cluster: null,
    warnings: [],
  };
}

export async function status(global: GlobalOptions, options: StatusOptions, output: Output): Promise<number> {
  const withHost = options.host !== false;
  let profile: Profile;
  try {
    profile = loadProfile(global.profile);
  } catch (error) {
    // Exit 2 means "sealed" here: a missing or broken profile is an error (1) like any other.
    if (!(error instanceof UserError)) throw error;
    if (options.json) output.json(failedReport(global.profile, error.message));
    else printProblem(output, error.message, error.hint);
    return STATUS_EXIT.error;
  }

  const redactor = new Redactor();
  // A status check never trusts an unknown host key by default (--yes semantics: the safe default);
  // in a terminal it may still ask for an SSH password or key passphrase.
  const prompt = createHeadlessPrompter({ assumeYes: true, registerSecret: (value) => redactor.register(value) });
  const services = withHost
    ? commandServices(profile, global.profile, new (await import('../profile/store.js')).ProfileStore(), prompt, true)
    : noHostServices();
  const ctx = commandStepContext({ profileName: global.profile, profile, services, prompt, redactor });
  try {
    const report = await collectStatus({
      profileName: global.profile,
      address: vaultApiAddress(profile),
      caPem: () => caPemFor(ctx),
      host: withHost ? () => services.host() : undefined,
      // Like the host, the cluster is skipped with --no-host: that answer asks Vault's API only.
      cluster: withHost && clusterConfigured(profile) ? () => readClusterStatus(profile, kubeconfigReadOptions(profile, () => services.host())) : undefined,
      autoUnseal: profile.vault.autoUnseal,
      server: serverOf(profile),
    });
    if (options.json) output.json(report);
    else printStatus(output, report, { tlsMode: profile.vault.tls.mode });
    return report.exitCode;
  } finally {
    await services.close().catch(() => undefined);
  }
}

function yesNo(value: boolean | null): string {
  return value === null ? 'unknown' : value ? 'yes' : 'no';
}

function unitText(unit: UnitStatus | null, name: string): string {
  return unit ? `${unit.unit} ${unit.active}, ${unit.enabled}` : `${name} unknown`;
}

export function printStatus(output: Output, report: StatusReport, options: { tlsMode?: Profile['vault']['tls']['mode'] } = {}): void {
  const s = output.outStyle;
  const { vault, host } = report;
  const rows: [string, string][] = [];
  const stateText: Record<StatusReport['state'], string> = {
    // Unsealed but not serving yet: a standby until raft elects it (vault.role; the exit code stays 0).
    unsealed: vault.role === 'waiting-for-leader' ? s.yellow('unsealed, waiting for leadership') : s.green('unsealed'),
    sealed: s.red(s.bold('SEALED')),
    uninitialized: s.yellow('not initialized'),
    unreachable: s.red('unreachable'),
    error: s.red('error'),
  };
  // Reports of older versions of this tool have no server: they were all Vault.
  const serverName = report.server?.name ?? 'Vault';
  rows.push([serverName, `${stateText[report.state]}${vault.address ? `  ${vault.address}` : ''}`]);
  if (vault.error) rows.push(['Problem', vault.error]);
  if (vault.reachable) {
    rows.push(['Initialized', yesNo(vault.initialized)]);
    const unseal = vault.unseal;
    rows.push(['Sealed', `${yesNo(vault.sealed)}${unseal ? `  (unseal progress ${unseal.progress}/${unseal.threshold}, ${unseal.shares} key shares)` : ''}`]);
    rows.push(['Version', vault.version ? `${serverName} ${vault.version}` : 'unknown']);
    rows.push(['Storage', vault.storageType ?? 'unknown']);
    rows.push(['HA', describeHa(vault)]);
  }
  if (vault.certificate) {
    const days = vault.certificate.daysLeft;
    const due = vault.certificate.renewalDue ?? days <= 30;
    const text = `${vault.certificate.notAfter.slice(0, 10)} (${days < 0 ? `expired ${-days} day(s) ago` : `${days} day(s) left`})${due ? ', renewal due' : ''}`;
    rows.push(['Certificate', due ? s.yellow(text) : text]);
  }
  if (host === null) rows.push(['Host', s.dim('not checked (--no-host)')]);
  else if (!host.reachable) rows.push(['Host', `${s.red('unreachable')}${host.transport ? ` ${host.transport}` : ''}: ${host.error ?? ''}`]);
  else {
    rows.push(['Host', host.transport ?? '']);
    const units = statusUnits(SERVERS[report.server?.kind ?? 'vault']);
    rows.push(['Services', `${unitText(host.services.vault, units.vault)}; ${unitText(host.services.vaultUnseal, units.vaultUnseal)}`]);
  }
  if (report.cluster) {
    const cluster = report.cluster;
    const text = describeClusterStatus(cluster);
    rows.push(['Cluster', `${cluster.store?.ready === true ? s.green(text) : s.yellow(text)}${cluster.context ? s.dim(`  (context ${cluster.context})`) : ''}`]);
  } else rows.push(['Cluster', s.dim(host === null ? 'not checked (--no-host)' : 'not configured')]);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) output.out(`${s.bold(label.padEnd(width))}  ${value}`);
  for (const warning of report.warnings) output.out(`${s.yellow('warning:')} ${warning}`);
  if (report.state === 'sealed') output.err(`hint: unseal it with \`${commandFor(report.profile, 'unseal')}\``);
  if (report.state === 'uninitialized') output.err(`hint: initialize it with \`${commandFor(report.profile, 'setup --phase vault')}\``);
  if (vault.certificate?.renewalDue) {
    output.err(
      options.tlsMode === 'provided'
        ? 'hint: the certificate is yours (vault.tls.mode provided): renew it where it came from (e.g. `certbot renew`), then upload it with `' + commandFor(report.profile, 'renew-cert') + '`'
        : `hint: renew it with \`${commandFor(report.profile, 'renew-cert')}\``,
    );
  }
}

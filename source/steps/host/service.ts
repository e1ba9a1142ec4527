/**
 * host.service: the server's hardened unit (vault.service from assets/vault.service, or
 * openbao.service from assets/openbao.service), enabled, running, and
 * running the current binary, config, certificate and key, then the API answering on the host.
 *
 * "Running the current files" is decided from the host's real state, never from saved progress:
 * right after each (re)start this step records, on the host, the SHA-256 of every file vault reads
 * at start together with systemd's InvocationID of that start (a fresh id per start)
 * (`<configDir>/.vault-service-inputs.json`, or `.openbao-service-inputs.json`, 0600 root). While the running invocation is the
 * recorded one, a restart is needed exactly when a hash differs — exact, whatever the clock says
 * (a Pi has no battery-backed clock) and however close together the writes and the start were.
 * When vault was started by something else since (a reboot, Restart=on-failure, an admin), the
 * record says nothing about that process, and the files' mtimes are compared with the process's
 * start time instead (1 s resolution). A crash at any point leaves a state these rules judge
 * right: files written but no restart yet -> hashes differ -> restart; restarted but not recorded ->
 * a new invocation whose start is after the files' mtimes -> nothing to do.
 */
import { UserError } from '../../core/errors.js';
import { renderAsset, serverUnitTemplate } from '../../core/assets.js';
import type { ServerFlavor } from '../../core/server.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import { sh } from '../../services/host/shell-quote.js';
import { hostExec, hostRun } from './facts.js';
import { hostLayout } from './layout.js';

export const UNIT_MODE = 0o644;
/** /v1/sys/health codes of a Vault that is up: active, standby, DR secondary, perf standby, not initialized, sealed. */
export const HEALTH_UP_CODES = [200, 429, 472, 473, 501, 503] as const;
export const API_WAIT_MS = 30_000;
export const JOURNAL_LINES = 20;

/** `<configDir>/.vault-service-inputs.json`, or `.openbao-service-inputs.json` for OpenBao. */
export function serviceInputsFile(profile: Profile): string {
  const { configDir, server } = hostLayout(profile);
  return `${configDir}/.${server.user}-service-inputs.json`;
}

export function renderVaultUnit(profile: Profile): string {
  const { server, configFile, dataDir } = hostLayout(profile);
  return renderAsset(serverUnitTemplate(server.kind), {
    configFile,
    dataDir: systemdQuotedPath(dataDir),
    user: server.user,
    group: server.group,
    binary: server.binaryPath,
  });
}

/**
 * One path as a word of a whitespace-separated path list such as RequiresMountsFor=: systemd splits
 * it with extract_first_word(EXTRACT_UNQUOTE), which keeps a double-quoted word whole and takes the
 * character after a backslash literally (no C escapes there, unlike InaccessiblePaths=). The
 * template renderer doubles `%` afterwards.
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html#RequiresMountsFor=
 */
export function systemdQuotedPath(path: string): string {
  return `"${path.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The files the server reads when it starts; a change to any of them needs a restart. */
export function serviceInputs(profile: Profile): string[] {
  const layout = hostLayout(profile);
  return [layout.server.binaryPath, layout.configFile, layout.certFile, layout.keyFile, layout.server.unitFile];
}

export interface InputsRecord {
  invocationId: string;
  /** path -> sha256 at the time of that start */
  inputs: Record<string, string>;
  at: string;
}

export interface ServiceProbe {
  unitContent: string | undefined;
  show: Record<string, string>;
  hostNow: number;
  /** Seconds the main process has run; undefined when there is none. */
  elapsed: number | undefined;
  mtimes: Record<string, number>;
  hashes: Record<string, string>;
  record: InputsRecord | undefined;
}

/** Which inputs changed since the running vault started (see the module comment for the rules). */
export function staleInputs(probe: Pick<ServiceProbe, 'show' | 'hostNow' | 'elapsed' | 'mtimes' | 'hashes' | 'record'>, inputs: readonly string[]): string[] {
  const invocation = probe.show['InvocationID'] ?? '';
  if (probe.record && invocation !== '' && probe.record.invocationId === invocation) {
    return inputs.filter((path) => probe.hashes[path] !== probe.record!.inputs[path]);
  }
  if (probe.elapsed === undefined) return [];
  const started = probe.hostNow - probe.elapsed;
  return inputs.filter((path) => (probe.mtimes[path] ?? 0) > started);
}

function parseRecord(text: string): InputsRecord | undefined {
  try {
    const data = JSON.parse(text) as Partial<InputsRecord>;
    if (typeof data.invocationId === 'string' && typeof data.inputs === 'object' && data.inputs !== null) {
      return { invocationId: data.invocationId, inputs: data.inputs, at: String(data.at ?? '') };
    }
  } catch {
    // An unreadable record is no record: the mtime rule decides.
  }
  return undefined;
}

const SHOW_PROPERTIES = ['LoadState', 'ActiveState', 'SubState', 'UnitFileState', 'InvocationID', 'MainPID', 'NeedDaemonReload'];

async function probe(ctx: StepContext): Promise<ServiceProbe> {
  const { server } = hostLayout(ctx.profile);
  const inputs = serviceInputs(ctx.profile);
  const script = [
    sh`systemctl show ${server.unit} --property=${SHOW_PROPERTIES.join(',')} | sed 's/^/show./'`,
    'echo "now=$(date +%s)"',
    sh`pid=$(systemctl show -p MainPID --value ${server.unit})`,
    `if [ "\${pid:-0}" -gt 0 ] 2>/dev/null; then echo "elapsed=$(ps -o etimes= -p "$pid" | tr -d ' ')"; fi`,
    // Hashes read through stdin: sha256sum escapes unusual file names in its output, stdin has none.
    sh`for f in ${inputs}; do if [ -f "$f" ]; then echo "mtime=$(stat -c %Y -- "$f") $f"; echo "sha=$(sha256sum < "$f" | cut -d' ' -f1) $f"; fi; done`,
    sh`if [ -f ${serviceInputsFile(ctx.profile)} ]; then printf 'record='; tr -d '\\n' < ${serviceInputsFile(ctx.profile)}; echo; fi`,
    sh`if [ -f ${server.unitFile} ]; then echo unit=present; fi`,
  ].join('\n');
  const stdout = await hostRun(ctx, `looking at ${server.unit}`, script, { sudo: true, echo: 'none', timeoutMs: 60_000 });
  const show: Record<string, string> = {};
  const mtimes: Record<string, number> = {};
  const hashes: Record<string, string> = {};
  let hostNow = Number.NaN;
  let elapsed: number | undefined;
  let record: InputsRecord | undefined;
  let unitPresent = false;
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq === -1) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key.startsWith('show.')) show[key.slice(5)] = value;
    else if (key === 'now') hostNow = Number(value);
    else if (key === 'elapsed' && /^\d+$/.test(value)) elapsed = Number(value);
    else if (key === 'mtime' || key === 'sha') {
      const space = value.indexOf(' ');
      const path = value.slice(space + 1);
      if (key === 'mtime') mtimes[path] = Number(value.slice(0, space));
      else hashes[path] = value.slice(0, space);
    } else if (key === 'record') record = parseRecord(value);
    else if (key === 'unit') unitPresent = true;
  }
  const transport = await ctx.services.host();
  const unitContent = unitPresent ? (await transport.readFile(server.unitFile, { signal: ctx.signal })).toString('utf8') : undefined;
  return { unitContent, show, hostNow, elapsed, mtimes, hashes, record };
}

interface Judgement {
  check: Check;
  unitCurrent: boolean;
  needsReload: boolean;
  enabled: boolean;
  active: boolean;
  stale: string[];
}

function judge(profile: Profile, state: ServiceProbe): Judgement {
  const { server } = hostLayout(profile);
  const wantedUnit = renderVaultUnit(profile);
  const unitCurrent = state.unitContent === wantedUnit;
  const needsReload = state.show['NeedDaemonReload'] === 'yes' || (state.unitContent !== undefined && state.show['LoadState'] !== 'loaded');
  const enabled = state.show['UnitFileState'] === 'enabled';
  const active = state.show['ActiveState'] === 'active';
  const stale = active ? staleInputs(state, serviceInputs(profile)) : [];
  const problems: string[] = [];
  if (state.unitContent === undefined) problems.push(`${server.unitFile} does not exist`);
  else if (!unitCurrent) problems.push(`${server.unitFile} differs from assets/${serverUnitTemplate(server.kind).name}`);
  else if (needsReload) problems.push('systemd has not loaded the current unit file (daemon-reload)');
  if (!enabled) problems.push(`not enabled (${state.show['UnitFileState'] || 'no unit'})`);
  if (!active) problems.push(`not running (${state.show['ActiveState'] || 'unknown'}${state.show['SubState'] ? `/${state.show['SubState']}` : ''})`);
  if (stale.length > 0) problems.push(`restart needed: ${stale.join(', ')} changed since ${server.binaryName} started`);
  const check: Check =
    problems.length === 0
      ? { state: 'done', detail: `${server.unit} enabled and running the current binary, config and certificate` }
      : { state: state.unitContent === undefined ? 'todo' : 'drift', detail: problems.join('; ') };
  return { check, unitCurrent, needsReload, enabled, active, stale };
}

/** `systemctl <verb> [vault.service]` as root, its output in the log. */
async function systemctl(ctx: StepContext, verb: 'daemon-reload' | 'enable' | 'restart', what: string): Promise<void> {
  const { server } = hostLayout(ctx.profile);
  const command = verb === 'daemon-reload' ? 'systemctl daemon-reload' : sh`systemctl ${verb} ${server.unit}`;
  ctx.log.info(verb === 'daemon-reload' ? 'systemctl daemon-reload' : `systemctl ${verb} ${server.unit}`);
  await hostRun(ctx, what, command, { sudo: true, echo: 'info', timeoutMs: 120_000 });
}

async function journalTail(ctx: StepContext): Promise<string[]> {
  const { server } = hostLayout(ctx.profile);
  const result = await hostExec(ctx, sh`journalctl -u ${server.unit} -n ${JOURNAL_LINES} --no-pager -o short-iso`, { sudo: true, echo: 'none', timeoutMs: 30_000 });
  return result.stdout.split('\n').filter((line) => line.trim().length > 0);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until /v1/sys/health answers over TLS (verified with our CA) on the host itself. */
export async function waitForApi(ctx: StepContext, timeoutMs = API_WAIT_MS): Promise<number> {
  const layout = hostLayout(ctx.profile);
  const { server } = layout;
  const url = `https://127.0.0.1:${ctx.profile.vault.apiPort}/v1/sys/health`;
  const script = [
    sh`code=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 3 --cacert ${layout.caFile} -- ${url} 2>/dev/null)`,
    'echo "code=$code"',
    sh`echo "state=$(systemctl is-active ${server.unit})"`,
  ].join('\n');
  const deadline = Date.now() + timeoutMs;
  let last = { code: 0, state: 'unknown' };
  ctx.log.info(`waiting for ${url} (up to ${Math.round(timeoutMs / 1000)} s)`);
  for (let attempt = 0; ; attempt++) {
    const out = (await hostExec(ctx, script, { sudo: true, echo: 'none', timeoutMs: 15_000 })).stdout;
    last = { code: Number(/code=(\d+)/.exec(out)?.[1] ?? 0), state: /state=(\S+)/.exec(out)?.[1] ?? 'unknown' };
    if ((HEALTH_UP_CODES as readonly number[]).includes(last.code)) {
      ctx.log.info(`${server.binaryName} answers: HTTP ${last.code} from /v1/sys/health`);
      return last.code;
    }
    // failed = gave up (or start limit hit); inactive right after a start = a Condition failed.
    const gaveUp = last.state === 'failed' || (last.state === 'inactive' && attempt > 0);
    if (gaveUp || Date.now() >= deadline) break;
    await sleep(500, ctx.signal);
  }
  const journal = await journalTail(ctx).catch(() => [] as string[]);
  throw new UserError(
    [
      `${server.binaryName} did not answer on ${url} ${last.state === 'active' ? `within ${Math.round(timeoutMs / 1000)} s` : `(the service is ${last.state})`}${last.code ? `; last HTTP status ${last.code}` : ''}`,
      ...(journal.length > 0 ? [`last ${journal.length} journal lines:`, ...journal.map((line) => `  ${line}`)] : []),
    ].join('\n'),
    { hint: `read the journal above (sudo journalctl -u ${server.unit}); a wrong path in ${layout.configFile}, an unreadable key, or a taken port are the usual causes` },
  );
}

export function serviceStep(server: ServerFlavor): Step {
  return {
  id: 'host.service',
  phase: 'host',
  title: `Install and start the ${server.unit} unit`,
  describe(ctx): Planned[] {
    const layout = hostLayout(ctx.profile);
    return [
      { kind: 'file', summary: `${server.unitFile} (0644 root:root) from assets/${serverUnitTemplate(server.kind).name}; systemctl daemon-reload when it changed` },
      { kind: 'command', summary: `systemctl enable ${server.unit}; systemctl start (or restart when the binary, config, certificate or key changed)` },
      { kind: 'file', summary: `${serviceInputsFile(ctx.profile)} (0600 root:root): hashes of what ${server.binaryName} was started with` },
      { kind: 'command', summary: `curl --cacert ${layout.caFile} https://127.0.0.1:${ctx.profile.vault.apiPort}/v1/sys/health (wait up to ${API_WAIT_MS / 1000} s)` },
    ];
  },
  async check(ctx) {
    return judge(ctx.profile, await probe(ctx)).check;
  },
  async apply(ctx) {
    const transport = await ctx.services.host();
    let state = await probe(ctx);
    const judged = judge(ctx.profile, state);
    let restart = !judged.active || judged.stale.length > 0;
    if (judged.stale.length > 0) ctx.log.info(`changed since ${server.binaryName} started: ${judged.stale.join(', ')}`);

    if (!judged.unitCurrent) {
      await transport.writeFile(server.unitFile, renderVaultUnit(ctx.profile), { mode: UNIT_MODE, owner: 'root', group: 'root', sudo: true });
      ctx.log.info(`wrote ${server.unitFile}`);
      await systemctl(ctx, 'daemon-reload', 'systemctl daemon-reload');
      restart = true;
    } else if (judged.needsReload) {
      await systemctl(ctx, 'daemon-reload', 'systemctl daemon-reload');
      restart = true;
    }
    if (!judged.enabled) await systemctl(ctx, 'enable', `enabling ${server.unit}`);

    // Hash what the server will read before starting it, so the record describes this start.
    state = await probe(ctx);
    if (restart) {
      // reset-failed clears a start limit hit by earlier failures; restart also starts a stopped unit.
      await hostExec(ctx, sh`systemctl reset-failed ${server.unit} 2>/dev/null; :`, { sudo: true, echo: 'none', timeoutMs: 30_000 });
      await systemctl(ctx, 'restart', `${judged.active ? 'restarting' : 'starting'} ${server.unit}`);
    }
    const invocation = (await hostRun(ctx, 'reading the InvocationID', sh`systemctl show -p InvocationID --value ${server.unit}`, { sudo: true, echo: 'none', timeoutMs: 30_000 })).trim();
    const recorded = state.record;
    const upToDate =
      recorded !== undefined &&
      recorded.invocationId === invocation &&
      serviceInputs(ctx.profile).every((path) => recorded.inputs[path] === state.hashes[path]);
    if (invocation && !upToDate) {
      const record: InputsRecord = { invocationId: invocation, inputs: state.hashes, at: new Date().toISOString() };
      await transport.writeFile(serviceInputsFile(ctx.profile), `${JSON.stringify(record)}\n`, { mode: 0o600, owner: 'root', group: 'root', sudo: true });
    }
    await waitForApi(ctx);
  },
};
}

/**
 * vault.autounseal: Vault unseals itself after every start of vault.service, without the CLI.
 *
 * On the host: the keys file (<configDir>/unseal.json, 0600 root:root, `{"keys": [hex...],
 * "threshold": t}` from the init answer in local custody), the script from assets/vault-unseal.sh
 * (0750 root:root) and the unit from assets/vault-unseal.service (wanted by vault.service, so every
 * start of Vault starts it), enabled.
 *
 * The trade-off, said in describe() and in the log: the keys sit on the host, so anyone who is root
 * on the Pi (or holds its SD card) can unseal Vault. Without it, every reboot needs `unseal`.
 *
 * With `vault.autoUnseal` off, the step makes sure none of this is on the host: check reports drift
 * when our files are there, and apply disables the unit and removes them.
 *
 * The host keys file may be the last working copy of the keys (custody lost, or Vault re-keyed
 * elsewhere and the file updated by hand). So before it is replaced with other keys or removed, its
 * content is kept in local custody (`host-unseal.json-<time>`, 0600) and the product proves
 * (key-proof.ts) that keys it keeps open this server: custody's for a replacement, custody's or
 * that backup's for a removal. Otherwise it refuses and says what it found.
 *
 * The keys reach the host only through transport.writeFile, i.e. on the standard input of the remote
 * command, never in a command line; the keys file is read back only to be compared (parsed) in memory
 * and is never logged.
 */
import { readAsset, renderTemplate, TemplateError, type TemplateValues } from '../../core/assets.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import { custodyExists, custodyIsEncrypted, custodyPath, timestampForFileName, writeCustody } from '../../profile/custody.js';
import { posix } from 'node:path';
import { trustedDirectoryGuard } from '../../services/host/root-safe.js';
import { shellQuote, sh } from '../../services/host/shell-quote.js';
import type { FileStat } from '../../services/host/transport.js';
import { hostExec, hostRun } from '../host/facts.js';
import { hostLayout } from '../host/layout.js';
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { proveKeysOpen, type KeyProof } from './key-proof.js';
import { adminToken, INIT_CUSTODY_NAME, openVault, readInitRecord, VaultSession } from './session.js';

/** Vault's auto-unseal unit, unit file and script; OpenBao's are named after it (core/server.ts). */
export const UNSEAL_UNIT = VAULT.unsealUnit;
export const UNSEAL_UNIT_FILE = VAULT.unsealUnitFile;
/** /usr/local/sbin: root's local programs; the unit runs it, nobody else needs to. */
export const UNSEAL_SCRIPT_FILE = VAULT.unsealScriptFile;

/** The auto-unseal names of a profile's server: vault-unseal.* or openbao-unseal.*. */
export interface UnsealNames {
  server: ServerFlavor;
  unit: string;
  unitFile: string;
  scriptFile: string;
  logId: string;
}

export function unsealNames(profile: Profile): UnsealNames {
  const { server } = hostLayout(profile);
  return { server, unit: server.unsealUnit, unitFile: server.unsealUnitFile, scriptFile: server.unsealScriptFile, logId: server.unsealLogId };
}
export const KEYS_FILE_MODE = 0o600;
export const SCRIPT_MODE = 0o750;
export const UNIT_FILE_MODE = 0o644;

/**
 * How long the script waits for the API after Vault starts (a Pi can take a while to boot), and then
 * for the unsealed node to become the active one (raft elects a single node within seconds; 30 s as
 * the unseal step's ACTIVE_WAIT_MS in ./unseal.ts, not imported: that module imports this one).
 */
export const UNSEAL_WAIT = { attempts: 60, intervalSeconds: 2, activeSeconds: 30 } as const;

const SCRIPT_TEMPLATE = 'vault-unseal.sh';
const UNIT_TEMPLATE = 'vault-unseal.service';

export function tradeOff(server: ServerFlavor): string {
  return `auto-unseal keeps the unseal keys on the host (root-only file): anyone with root on the Pi can unseal ${server.name}; without it, every restart of ${server.name} needs \`picluster-vault-tui unseal\``;
}
export const TRADE_OFF = tradeOff(VAULT);

export function unsealKeysFile(profile: Profile): string {
  return `${hostLayout(profile).configDir}/unseal.json`;
}

// --- templates ----------------------------------------------------------------------------------

/**
 * Fills a POSIX shell template. A placeholder may only be the whole value of a variable assignment
 * (`NAME={{value}}` on a line of its own), where the value is one single-quoted word made by the
 * product's one quoting helper; anywhere else a value could write shell syntax, so the template is
 * refused. Same rules as assets.ts otherwise: every placeholder needs a value, every value is used.
 */
export function renderShellTemplate(text: string, values: TemplateValues, label = 'template'): string {
  const used = new Set<string>();
  const lines = text.split('\n').map((line, index) => {
    const where = `${label}:${index + 1}`;
    if (!line.includes('{{')) return line;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}$/.exec(line);
    if (!assignment) throw new TemplateError(`${where}: a shell placeholder must be the whole value of an assignment (NAME={{value}})`);
    const name = assignment[2]!;
    const value = values[name];
    if (value === undefined) throw new TemplateError(`${where}: no value for {{${name}}}`);
    if (/[\u0000-\u001f\u007f]/.test(String(value))) throw new TemplateError(`${where}: the value of ${name} contains a control character`);
    used.add(name);
    return `${assignment[1]}=${shellQuote(String(value))}`;
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) throw new TemplateError(`${label}: values not used by the template: ${unused.join(', ')}`);
  return lines.join('\n');
}

export interface UnsealScriptSettings {
  /** The server's name in the script's messages (Vault, OpenBao). */
  serverName: string;
  apiPort: number;
  caFile: string;
  keysFile: string;
  waitAttempts: number;
  waitIntervalSeconds: number;
  /** How long it waits, once unsealed, for the node to be the active one (sys/health 200). */
  activeWaitSeconds: number;
}

export function unsealScriptSettings(profile: Profile): UnsealScriptSettings {
  return {
    serverName: hostLayout(profile).server.name,
    apiPort: profile.vault.apiPort,
    caFile: hostLayout(profile).caFile,
    keysFile: unsealKeysFile(profile),
    waitAttempts: UNSEAL_WAIT.attempts,
    waitIntervalSeconds: UNSEAL_WAIT.intervalSeconds,
    activeWaitSeconds: UNSEAL_WAIT.activeSeconds,
  };
}

/** assets/vault-unseal.sh filled in (tests pass their own settings: a local port, a short wait). */
export function renderUnsealScript(settings: UnsealScriptSettings): string {
  return renderShellTemplate(readAsset(SCRIPT_TEMPLATE), { ...settings }, SCRIPT_TEMPLATE);
}

/**
 * One word of a space-separated path list in a unit file (InaccessiblePaths=): systemd splits the
 * value on whitespace and then undoes quotes and C escapes, so whitespace, quotes and backslashes in
 * a path are written as C escapes. (`%` is doubled by the template renderer.)
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#ReadWritePaths=
 */
export function systemdPathListWord(path: string): string {
  return path.replace(/[\s"'\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function renderUnsealUnit(profile: Profile, script = unsealNames(profile).scriptFile): string {
  const layout = hostLayout(profile);
  const { server } = layout;
  return renderTemplate(
    readAsset(UNIT_TEMPLATE),
    {
      script,
      dataDir: systemdPathListWord(layout.dataDir),
      tlsKeyFile: systemdPathListWord(layout.keyFile),
      serverName: server.fullName,
      serverUnit: server.unit,
      logId: server.unsealLogId,
      docsUrl: server.docsUrl,
    },
    'systemd',
    UNIT_TEMPLATE,
  );
}

// --- keys -------------------------------------------------------------------------------------

/** The one documented shape of the host keys file. */
export interface HostKeys {
  keys: string[];
  threshold: number;
}

export function hostKeysFileContent(keys: HostKeys): string {
  return `${JSON.stringify({ keys: keys.keys, threshold: keys.threshold })}\n`;
}

/**
 * Reads a keys file the way the script does (`.keys // .unseal_keys_hex // .unseal_keys_b64`,
 * `.threshold // .unseal_threshold // number of keys`); undefined when it could not unseal anything.
 */
export function parseHostKeys(text: string): HostKeys | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const list = [record['keys'], record['unseal_keys_hex'], record['unseal_keys_b64']].find((value) => value !== undefined && value !== null && value !== false);
  if (!Array.isArray(list) || list.length === 0 || !list.every((key) => typeof key === 'string' && key.length > 0)) return undefined;
  const threshold = [record['threshold'], record['unseal_threshold']].find((value) => value !== undefined && value !== null && value !== false) ?? list.length;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > list.length) return undefined;
  return { keys: list as string[], threshold };
}

function sameKeys(a: HostKeys, b: HostKeys): boolean {
  return a.threshold === b.threshold && a.keys.length === b.keys.length && a.keys.every((key, index) => key === b.keys[index]);
}

/** The keys the host file should hold, from the init answer in custody (asking for its passphrase if needed). */
async function wantedKeys(ctx: StepContext, session: VaultSession): Promise<HostKeys> {
  const record = await readInitRecord(ctx, session);
  if (!record) {
    throw new UserError(`there is no init answer in custody (${custodyPath(ctx.profileName, INIT_CUSTODY_NAME)}): the host keys file is written from it`, {
      hint: 'run the vault.init step first; if Vault was initialized elsewhere, set vault.autoUnseal=false and unseal with `unseal`',
    });
  }
  return { keys: record.keys, threshold: record.threshold };
}

/**
 * The keys the host file should hold, when they can be known without asking anything (check is
 * read-only and never prompts): undefined when custody has no init answer, or it is
 * passphrase-protected and the passphrase was not typed earlier in this run.
 */
async function wantedKeysWithoutPrompt(ctx: StepContext, session: VaultSession): Promise<HostKeys | undefined> {
  if (!(await custodyExists(ctx.profileName, INIT_CUSTODY_NAME))) return undefined;
  if (session.passphrase === undefined && (await custodyIsEncrypted(ctx.profileName, INIT_CUSTODY_NAME))) return undefined;
  return wantedKeys(ctx, session);
}

// --- the host's state ---------------------------------------------------------------------------

interface FileState {
  path: string;
  stat: FileStat;
  content: string | undefined;
}

interface HostState {
  keysFile: FileState;
  script: FileState;
  unit: FileState;
  /** systemctl show properties of the auto-unseal unit */
  show: Record<string, string>;
  names: UnsealNames;
}

async function readState(ctx: StepContext): Promise<HostState> {
  const transport = await ctx.services.host();
  const file = async (path: string): Promise<FileState> => {
    const stat = await transport.stat(path, { sudo: true, signal: ctx.signal });
    const content = stat.exists && stat.type === 'file' ? (await transport.readFile(path, { sudo: true, signal: ctx.signal })).toString('utf8') : undefined;
    return { path, stat, content };
  };
  const names = unsealNames(ctx.profile);
  const keysFile = await file(unsealKeysFile(ctx.profile));
  const script = await file(names.scriptFile);
  const unit = await file(names.unitFile);
  const shown = await hostRun(ctx, `looking at ${names.unit}`, sh`systemctl show ${names.unit} --property=LoadState,UnitFileState,NeedDaemonReload,ActiveState,Result`, {
    echo: 'none',
    timeoutMs: 30_000,
  });
  const show: Record<string, string> = {};
  for (const line of shown.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) show[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { keysFile, script, unit, show, names };
}

/** `path is 0644 pi:pi, want 0600 root:root`, or undefined when mode and owner are right. */
function ownershipProblem(file: FileState, mode: number): string | undefined {
  const { stat } = file;
  if (!stat.exists) return undefined;
  if (stat.type !== 'file') return `${file.path} is a ${stat.type ?? 'special file'}, not a file`;
  const octal = (value: number | undefined): string => `0${(value ?? 0).toString(8)}`;
  if (stat.mode === mode && stat.owner === 'root' && stat.group === 'root') return undefined;
  return `${file.path} is ${octal(stat.mode)} ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid}, want ${octal(mode)} root:root`;
}

interface Judgement {
  check: Check;
  writeKeys: boolean;
  writeScript: boolean;
  writeUnit: boolean;
  reload: boolean;
  enable: boolean;
}

function judge(profile: Profile, state: HostState, wanted: HostKeys | undefined): Judgement {
  const problems: string[] = [];
  const notes: string[] = [];

  let writeKeys = false;
  if (!state.keysFile.stat.exists) {
    problems.push(`${state.keysFile.path} does not exist`);
    writeKeys = true;
  } else {
    const parsed = state.keysFile.content === undefined ? undefined : parseHostKeys(state.keysFile.content);
    if (!parsed) {
      problems.push(`${state.keysFile.path} holds no usable keys`);
      writeKeys = true;
    } else if (wanted && !sameKeys(parsed, wanted)) {
      problems.push(`${state.keysFile.path} differs from the init answer in custody`);
      writeKeys = true;
    } else if (!wanted) {
      notes.push('keys not compared: custody has no readable init answer');
    }
    const owner = ownershipProblem(state.keysFile, KEYS_FILE_MODE);
    if (owner) {
      problems.push(owner);
      writeKeys = true;
    }
  }

  const wantedScript = renderUnsealScript(unsealScriptSettings(profile));
  const scriptProblem = !state.script.stat.exists
    ? `${state.names.scriptFile} does not exist`
    : state.script.content !== wantedScript
      ? `${state.names.scriptFile} differs from assets/vault-unseal.sh`
      : ownershipProblem(state.script, SCRIPT_MODE);
  if (scriptProblem) problems.push(scriptProblem);

  const wantedUnit = renderUnsealUnit(profile);
  const unitProblem = !state.unit.stat.exists
    ? `${state.names.unitFile} does not exist`
    : state.unit.content !== wantedUnit
      ? `${state.names.unitFile} differs from assets/vault-unseal.service`
      : ownershipProblem(state.unit, UNIT_FILE_MODE);
  if (unitProblem) problems.push(unitProblem);
  const writeUnit = unitProblem !== undefined;
  const reload = writeUnit || state.show['NeedDaemonReload'] === 'yes' || (state.unit.stat.exists && state.show['LoadState'] !== 'loaded');
  if (!writeUnit && reload) problems.push('systemd has not loaded the current unit file (daemon-reload)');

  const enable = state.show['UnitFileState'] !== 'enabled';
  if (enable) problems.push(`${state.names.unit} is not enabled (${state.show['UnitFileState'] || 'no unit'})`);

  const nothingThere = !state.keysFile.stat.exists && !state.script.stat.exists && !state.unit.stat.exists;
  const check: Check =
    problems.length === 0
      ? { state: 'done', detail: `${state.names.unit} enabled: ${state.names.server.name} unseals itself after every start${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` }
      : { state: nothingThere ? 'todo' : 'drift', detail: problems.join('; ') };
  return { check, writeKeys, writeScript: scriptProblem !== undefined, writeUnit, reload, enable };
}

/** With auto-unseal off: which of our things are still on the host. */
function leftovers(state: HostState): string[] {
  const found = [state.keysFile, state.script, state.unit].filter((file) => file.stat.exists).map((file) => file.path);
  if (state.show['UnitFileState'] === 'enabled' && !state.unit.stat.exists) found.push(`${state.names.unit} (enabled)`);
  return found;
}

/** `systemctl daemon-reload`, or `systemctl enable|disable|start vault-unseal.service`, as root, its output in the log. */
async function systemctl(ctx: StepContext, verb: 'daemon-reload' | 'enable' | 'disable'): Promise<void> {
  const UNSEAL_UNIT = unsealNames(ctx.profile).unit;
  const command = verb === 'daemon-reload' ? 'systemctl daemon-reload' : sh`systemctl ${verb} ${UNSEAL_UNIT}`;
  const shown = verb === 'daemon-reload' ? command : `systemctl ${verb} ${UNSEAL_UNIT}`;
  ctx.log.info(shown);
  await hostRun(ctx, shown, command, { sudo: true, echo: 'info', timeoutMs: 120_000 });
}

/** What the script printed in the unit's last run (its own lines only: SyslogIdentifier=<server>-unseal). */
async function lastRunJournal(ctx: StepContext): Promise<string[]> {
  const { unit: UNSEAL_UNIT, logId } = unsealNames(ctx.profile);
  const script = [
    sh`id=$(systemctl show -p InvocationID --value ${UNSEAL_UNIT})`,
    sh`if [ -n "$id" ]; then journalctl -t ${logId} "_SYSTEMD_INVOCATION_ID=$id" --no-pager -o cat -n 30; else journalctl -u ${UNSEAL_UNIT} --no-pager -o cat -n 15; fi`,
  ].join('\n');
  const result = await hostExec(ctx, script, { sudo: true, echo: 'none', timeoutMs: 30_000 });
  return result.stdout.split('\n').filter((line) => line.trim().length > 0);
}

// --- before a keys file is replaced or removed -----------------------------------------------------

/** The custody name of a dated copy of the host keys file. */
export const HOST_KEYS_BACKUP_PREFIX = 'host-unseal.json-';

/** Keeps the host keys file's content in local custody (0600, encrypted like the rest when a passphrase was typed). */
async function backUpHostKeys(ctx: StepContext, session: VaultSession, state: HostState): Promise<string> {
  const content = state.keysFile.content ?? '';
  const passphrase = session.passphrase;
  const written = await writeCustody(ctx.profileName, `${HOST_KEYS_BACKUP_PREFIX}${timestampForFileName()}`, content, passphrase === undefined ? {} : { passphrase });
  ctx.log.info(`kept a copy of ${state.keysFile.path} in custody: ${written}`);
  return written;
}

async function prove(ctx: StepContext, session: VaultSession, keys: HostKeys): Promise<KeyProof> {
  const server = hostLayout(ctx.profile).server;
  const proof = await proveKeysOpen(await openVault(ctx), keys.keys, {
    server,
    token: () => adminToken(ctx, session),
    registerSecret: (value) => ctx.registerSecret(value),
  });
  if (proof.outcome === 'opens' && proof.warning) ctx.log.warn(proof.warning);
  return proof;
}

function proofText(proof: KeyProof, server: ServerFlavor): string {
  if (proof.outcome === 'opens') return proof.how === 'unsealed' ? `they unsealed ${server.name}` : `${server.name} made a root token from them (revoked at once)`;
  return proof.outcome === 'rejected' ? `${server.name} refused them: ${proof.reason}` : `could not tell: ${proof.reason}`;
}

/**
 * Replacing a keys file that holds other usable keys: allowed only once custody's keys are proven
 * to open this server. When they are not, the host's keys are tried too, to say which copy is the
 * good one; either way nothing is written.
 */
async function guardReplacement(ctx: StepContext, session: VaultSession, state: HostState, current: HostKeys, wanted: HostKeys): Promise<void> {
  const { server } = state.names;
  const file = state.keysFile.path;
  const custody = await prove(ctx, session, wanted);
  if (custody.outcome === 'opens') {
    ctx.log.info(`the init answer in custody opens ${server.name} (${proofText(custody, server)}): replacing ${file}`);
    return;
  }
  const host = custody.outcome === 'rejected' ? await prove(ctx, session, current) : undefined;
  const custodyFile = custodyPath(ctx.profileName, INIT_CUSTODY_NAME);
  const lines = [`${file} holds other keys than the init answer in custody, and the custody keys are not proven to open ${server.name}: ${file} is left as it is`];
  lines.push(`  custody (${custodyFile}): ${proofText(custody, server)}`);
  if (host) lines.push(`  ${file}: ${proofText(host, server)}`);
  const hint =
    host?.outcome === 'opens'
      ? `the host file holds the working keys (${server.name} was re-keyed or re-initialized since custody was written): put an init answer with the current keys in ${custodyFile}, keeping the old one`
      : custody.outcome === 'unknown'
        ? `run it again once ${server.name} answers and nothing else is unsealing it or generating a root token`
        : `neither copy opens ${server.name}: find the current keys (a backup of ${custodyFile}) before changing anything`;
  throw new UserError(lines.join('\n'), { hint });
}

/**
 * Removing a keys file that holds usable keys: its content is kept in custody first, then either
 * custody's init answer or that copy must be proven to open this server.
 */
async function guardRemoval(ctx: StepContext, session: VaultSession, state: HostState, current: HostKeys): Promise<void> {
  const { server } = state.names;
  const file = state.keysFile.path;
  const backup = await backUpHostKeys(ctx, session, state);
  const record = await readInitRecord(ctx, session);
  const custody = record ? await prove(ctx, session, { keys: record.keys, threshold: record.threshold }) : undefined;
  if (custody?.outcome === 'opens') {
    ctx.log.info(`the init answer in custody opens ${server.name} (${proofText(custody, server)}): removing ${file}`);
    return;
  }
  const host = custody?.outcome === 'unknown' ? undefined : await prove(ctx, session, current);
  if (host?.outcome === 'opens') {
    ctx.log.info(`the keys of ${file} open ${server.name} (${proofText(host, server)}); their copy in custody (${backup}) is the one to keep: removing ${file}`);
    return;
  }
  const custodyFile = custodyPath(ctx.profileName, INIT_CUSTODY_NAME);
  const lines = [`auto-unseal is off, but no copy of the keys is proven to open ${server.name}: ${file} is left on the host`];
  lines.push(`  custody (${custodyFile}): ${custody ? proofText(custody, server) : 'no init answer'}`);
  if (host) lines.push(`  ${file} (copied to ${backup}): ${proofText(host, server)}`);
  throw new UserError(lines.join('\n'), {
    hint:
      custody?.outcome === 'unknown' || host?.outcome === 'unknown'
        ? `run it again once ${server.name} answers and nothing else is unsealing it or generating a root token`
        : `find the current unseal keys before removing the last file that may hold them; vault.autoUnseal=true keeps things as they are`,
  });
}

/**
 * Removes one of our files as root, in one script with its guards: only in a directory nobody but
 * root can change; a symlink there is removed as a link (its target untouched), never shredded
 * through. `shred` first for the keys file: on media that overwrite in place it leaves nothing
 * behind (flash may keep old blocks).
 */
export function removeFileCommand(file: string, shred: boolean): string {
  const regular = shred ? sh`shred --remove -- ${file} 2>/dev/null || rm -f -- ${file}` : sh`rm -f -- ${file}`;
  return ['set -e', trustedDirectoryGuard(posix.dirname(file)), `${sh`if [ -L ${file} ]; then rm -f -- ${file}; elif [ -f ${file} ]; then `}${regular}; fi`].join('\n');
}

async function removeEverything(ctx: StepContext, state: HostState, session: VaultSession): Promise<void> {
  const { unitFile: UNSEAL_UNIT_FILE, scriptFile: UNSEAL_SCRIPT_FILE, server } = state.names;
  // First, while nothing is changed yet: the keys file goes only if a copy is proven to open the server.
  const current = state.keysFile.content === undefined ? undefined : parseHostKeys(state.keysFile.content);
  if (current) await guardRemoval(ctx, session, state, current);
  else if (state.keysFile.content) await backUpHostKeys(ctx, session, state); // unusable, but kept all the same
  if (state.unit.stat.exists || state.show['UnitFileState'] === 'enabled') {
    // disable also removes the vault.service.wants/ link made by enable.
    await systemctl(ctx, 'disable');
  }
  if (state.unit.stat.exists) {
    await hostRun(ctx, `removing ${UNSEAL_UNIT_FILE}`, removeFileCommand(UNSEAL_UNIT_FILE, false), { sudo: true, timeoutMs: 30_000 });
    ctx.log.info(`removed ${UNSEAL_UNIT_FILE}`);
    await systemctl(ctx, 'daemon-reload');
  }
  if (state.script.stat.exists) {
    await hostRun(ctx, `removing ${UNSEAL_SCRIPT_FILE}`, removeFileCommand(UNSEAL_SCRIPT_FILE, false), { sudo: true, timeoutMs: 30_000 });
    ctx.log.info(`removed ${UNSEAL_SCRIPT_FILE}`);
  }
  if (state.keysFile.stat.exists) {
    const file = state.keysFile.path;
    await hostRun(ctx, `removing ${file}`, removeFileCommand(file, true), { sudo: true, timeoutMs: 30_000 });
    ctx.log.info(`removed ${file}: every restart of ${server.name} now needs \`picluster-vault-tui unseal\``);
  }
}

/**
 * The step, sharing the plan's VaultSession (a custody passphrase typed by an earlier step is not
 * asked again). Without one, each check/apply has a session of its own: nothing outlives a call.
 */
export function autoUnsealStepFor(shared?: VaultSession, server: ServerFlavor = VAULT): Step {
  const sessionOf = (): VaultSession => shared ?? new VaultSession();
  return {
    id: 'vault.autounseal',
    phase: 'vault',
    title: `Auto-unseal after every start of ${server.name}`,
    describe(ctx): Planned[] {
      const keysFile = unsealKeysFile(ctx.profile);
      const { unit: UNSEAL_UNIT, unitFile: UNSEAL_UNIT_FILE, scriptFile: UNSEAL_SCRIPT_FILE } = unsealNames(ctx.profile);
      const VAULT_UNIT = server.unit;
      if (!ctx.profile.vault.autoUnseal) {
        return [
          {
            kind: 'command',
            summary: `auto-unseal is off (vault.autoUnseal=false): if present, systemctl disable ${UNSEAL_UNIT} and remove ${UNSEAL_UNIT_FILE}, ${UNSEAL_SCRIPT_FILE} and ${keysFile} (kept in custody first, and removed only once custody's keys or that copy are proven to open ${server.name}); every restart of ${server.name} then needs \`unseal\``,
          },
        ];
      }
      return [
        {
          kind: 'file',
          summary: `${keysFile} (0600 root:root): {"keys": [...], "threshold": t} from the init answer in custody; a file with other keys is kept in custody first and replaced only once custody's keys are proven to open ${server.name}. Trade-off: ${tradeOff(server)}`,
        },
        { kind: 'file', summary: `${UNSEAL_SCRIPT_FILE} (0750 root:root) from assets/${SCRIPT_TEMPLATE}` },
        { kind: 'file', summary: `${UNSEAL_UNIT_FILE} (0644 root:root) from assets/${UNIT_TEMPLATE}; systemctl daemon-reload when it changed` },
        { kind: 'command', summary: `systemctl enable ${UNSEAL_UNIT} (wanted by ${VAULT_UNIT}); systemctl start ${UNSEAL_UNIT} to prove it reaches the API` },
      ];
    },
    async check(ctx) {
      const state = await readState(ctx);
      if (!ctx.profile.vault.autoUnseal) {
        const found = leftovers(state);
        return found.length === 0
          ? { state: 'done', detail: 'auto-unseal is off and nothing of it is on the host' }
          : { state: 'drift', detail: `auto-unseal is off but the host still has: ${found.join(', ')}` };
      }
      return judge(ctx.profile, state, await wantedKeysWithoutPrompt(ctx, sessionOf())).check;
    },
    async apply(ctx) {
      const state = await readState(ctx);
      if (!ctx.profile.vault.autoUnseal) {
        await removeEverything(ctx, state, sessionOf());
        return;
      }
      const transport = await ctx.services.host();
      const { unit: UNSEAL_UNIT, unitFile: UNSEAL_UNIT_FILE, scriptFile: UNSEAL_SCRIPT_FILE, logId } = state.names;
      ctx.log.warn(tradeOff(state.names.server));
      // Ask for a passphrase only when the keys file must be (re)written; otherwise compare what can be.
      const session = sessionOf();
      let wanted = await wantedKeysWithoutPrompt(ctx, session);
      const judged = judge(ctx.profile, state, wanted);
      if (judged.writeKeys && !wanted) wanted = await wantedKeys(ctx, session);

      if (judged.writeKeys && wanted) {
        const file = unsealKeysFile(ctx.profile);
        const current = state.keysFile.content === undefined ? undefined : parseHostKeys(state.keysFile.content);
        if (current && !sameKeys(current, wanted)) await guardReplacement(ctx, session, state, current, wanted);
        // Whatever it held (other keys, a damaged file), its content is kept before it is replaced.
        if (state.keysFile.content !== undefined && state.keysFile.content !== hostKeysFileContent(wanted)) await backUpHostKeys(ctx, session, state);
        // The keys travel on the remote command's stdin (writeFile), written atomically, 0600 from the start.
        await transport.writeFile(file, hostKeysFileContent(wanted), { mode: KEYS_FILE_MODE, owner: 'root', group: 'root', sudo: true });
        ctx.log.info(`wrote ${file} (0600 root:root): ${wanted.keys.length} keys, threshold ${wanted.threshold}`);
      }
      if (judged.writeScript) {
        await transport.writeFile(UNSEAL_SCRIPT_FILE, renderUnsealScript(unsealScriptSettings(ctx.profile)), { mode: SCRIPT_MODE, owner: 'root', group: 'root', sudo: true });
        ctx.log.info(`wrote ${UNSEAL_SCRIPT_FILE} (0750 root:root)`);
      }
      if (judged.writeUnit) {
        await transport.writeFile(UNSEAL_UNIT_FILE, renderUnsealUnit(ctx.profile), { mode: UNIT_FILE_MODE, owner: 'root', group: 'root', sudo: true });
        ctx.log.info(`wrote ${UNSEAL_UNIT_FILE}`);
      }
      if (judged.reload) await systemctl(ctx, 'daemon-reload');
      if (judged.enable) await systemctl(ctx, 'enable');

      if (judged.writeKeys || judged.writeScript || judged.writeUnit || judged.reload || judged.enable) {
        // A run now proves the sandboxed unit can read the CA and reach the API (Vault is normally
        // unsealed already, so the script says so and exits 0; a sealed Vault gets unsealed).
        ctx.log.info(`systemctl start ${UNSEAL_UNIT}`);
        const started = await hostExec(ctx, sh`systemctl start ${UNSEAL_UNIT}`, { sudo: true, echo: 'info', timeoutMs: 330_000 });
        const journal = await lastRunJournal(ctx).catch(() => [] as string[]);
        if (started.code !== 0) {
          throw new UserError([`${UNSEAL_UNIT} failed when started (exit ${started.code}); what it said:`, ...journal.map((line) => `  ${line}`)].join('\n'), {
            hint: `read sudo journalctl -u ${UNSEAL_UNIT}; the script names what it could not do`,
          });
        }
        for (const line of journal) ctx.log.info(line, logId);
      }
    },
  };
}

/** vault.autounseal (id 'vault.autounseal', phase 'vault'), registered after vault.unseal. */
export const autoUnsealStep: Step = autoUnsealStepFor();

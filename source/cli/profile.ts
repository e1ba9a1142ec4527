/**
 * `profile list|show|path|keys|init|set|import`: the profile from the command line.
 * Loaded lazily by cli.tsx (it pulls in conf and zod through the store).
 */
import { APP_NAME } from '../profile/paths.js';
import { UNSET_MEANS, type Profile } from '../profile/schema.js';
import { ProfileStore, commandFor, parseAssignment, settableFields, type SettableField } from '../profile/store.js';
import type { GlobalOptions, Output } from './output.js';

const store = new ProfileStore();

function describeValue(value: unknown): string {
  if (value === undefined) return '(not set)';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  if (typeof value === 'object' && value !== null) {
    const pin = value as { algorithm?: string; fingerprint?: string };
    if (pin.algorithm && pin.fingerprint) return `${pin.algorithm} ${pin.fingerprint}`;
    return JSON.stringify(value);
  }
  return String(value);
}

function valueAt(profile: Profile, key: string): unknown {
  let node: unknown = profile;
  for (const segment of key.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function describeType(field: SettableField): string {
  switch (field.kind.type) {
    case 'enum':
      return field.kind.options.join('|');
    case 'list':
      return 'list (a,b,c)';
    case 'host-key':
      return 'pinned host key (unset only)';
    default:
      return field.kind.type;
  }
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows.reduce<number[]>((acc, row) => row.map((cell, i) => Math.max(acc[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export function profileList(global: GlobalOptions, options: { json?: boolean }, output: Output): number {
  const names = store.list();
  if (options.json) {
    output.json(names.map((name) => ({ name, file: store.file(name), selected: name === global.profile })));
    return 0;
  }
  if (names.length === 0) {
    output.err(`no profiles yet: create one with \`${APP_NAME} profile init\``);
    return 0;
  }
  // Bare names, one a line, so scripts can loop over them; --json also says which one is selected.
  for (const name of names) output.out(name);
  return 0;
}

export function profileShow(global: GlobalOptions, options: { json?: boolean }, output: Output): number {
  const profile = store.load(global.profile);
  if (options.json) {
    output.json(profile);
    return 0;
  }
  const s = output.outStyle;
  output.out(`${s.bold(`profile ${global.profile}`)} ${s.dim(store.file(global.profile))}`);
  const rows = [...settableFields().values()].map((field) => {
    const value = valueAt(profile, field.key);
    const unsetMeans = UNSET_MEANS[field.key];
    return [field.key, value === undefined && unsetMeans !== undefined ? `(not set: ${unsetMeans})` : describeValue(value)];
  });
  for (const line of table(rows)) output.out(line);
  const run = profile.lastRun;
  if (run) {
    const ended = run.endedAt ? `ended ${run.endedAt}, ${run.result ?? 'unknown result'}${run.failedStep ? ` at ${run.failedStep}` : ''}` : 'did not finish (interrupted)';
    output.out(`last run: ${run.mode} started ${run.startedAt}, ${ended}`);
  }
  const steps = Object.entries(profile.progress);
  if (steps.length > 0) {
    const done = steps.filter(([, progress]) => progress.state === 'done').length;
    const other = steps.filter(([, progress]) => progress.state !== 'done').map(([id, progress]) => `${id} ${progress.state}`);
    output.out(`progress: ${done} of ${steps.length} recorded steps done${other.length ? ` (${other.join(', ')})` : ''}`);
  }
  return 0;
}

export function profilePath(global: GlobalOptions, output: Output): number {
  output.out(store.file(global.profile));
  return 0;
}

/** The schema's default, else the value the product uses when an optional key is unset (UNSET_MEANS). */
function defaultOf(field: SettableField): unknown {
  return field.defaultValue ?? UNSET_MEANS[field.key];
}

export function profileKeys(options: { json?: boolean }, output: Output): number {
  const fields = [...settableFields().values()];
  if (options.json) {
    output.json(
      fields.map((field) => ({
        key: field.key,
        type: field.kind.type,
        ...(field.kind.type === 'enum' ? { options: field.kind.options } : {}),
        optional: field.optional,
        ...(defaultOf(field) === undefined ? {} : { default: defaultOf(field) }),
      })),
    );
    return 0;
  }
  const rows = [['KEY', 'TYPE', 'DEFAULT'], ...fields.map((field) => [field.key, describeType(field), defaultOf(field) === undefined ? (field.optional ? '(optional)' : '') : describeValue(defaultOf(field))])];
  for (const line of table(rows)) output.out(line);
  return 0;
}

export function profileInit(global: GlobalOptions, output: Output): number {
  store.create(global.profile);
  output.out(`created profile "${global.profile}" with default values: ${store.file(global.profile)}`);
  output.out(`next: \`${commandFor(global.profile, 'profile set host.address=ADDRESS vault.nodeIp=IP')}\`, then \`${commandFor(global.profile, 'plan')}\``);
  return 0;
}

export function profileSet(global: GlobalOptions, assignments: readonly string[], output: Output): number {
  const parsed = assignments.map(parseAssignment);
  const result = store.setMany(global.profile, parsed);
  if (result.created) output.out(`created profile "${global.profile}" from the default values`);
  for (const { key } of parsed) output.out(`${key} = ${describeValue(valueAt(result.profile, key))}`);
  output.out(`saved ${result.file}`);
  return 0;
}

export function profileImport(global: GlobalOptions, file: string, output: Output): number {
  const result = store.importFile(global.profile, file);
  output.out(`imported ${file} into profile "${global.profile}": ${result.file}`);
  if (result.backup) output.out(`the previous content is kept in ${result.backup}`);
  return 0;
}

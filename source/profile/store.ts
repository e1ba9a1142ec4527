/**
 * Named profiles on disk: one JSON file per profile in the XDG config dir
 * ($XDG_CONFIG_HOME/picluster-vault-tui/profiles/NAME.json), files 0600 in 0700 directories.
 *
 * Writes go through `conf` (https://github.com/sindresorhus/conf), which writes atomically: a temp
 * file in the same directory, fsync, chmod to `configFileMode`, rename over the old file
 * (conf → atomically.writeFileSync). conf's own `schema` option is not used: ProfileSchema (zod)
 * validates instead, so every message names the file and the field at fault.
 *
 * Reads go through ./read.ts (node:fs directly, because a helpful message about a broken file needs
 * its raw text: line, column); commands that only read import that module and never load conf.
 * A corrupted or invalid profile is never reset or overwritten: conf runs with
 * `clearInvalidConfig: false`, every write validates first, and the only commands that replace
 * a file keep the previous content as NAME.json.bak.
 *
 * Paths are computed at call time (XDG_* variables can change between calls, e.g. in tests), and a
 * fresh Conf instance is made for every write so no path is cached.
 */
import { followServerDefaults } from './server-switch.js';
import Conf from 'conf';
import * as z from 'zod';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import { printable } from '../core/validate.js';
import { APP_NAME, DEFAULT_PROFILE, custodyDir } from './paths.js';
import { HostKeyPinSchema, LastRunSchema, ProfileSchema, StepProgressSchema, defaultProfile, type LastRun, type Profile, type StepProgress } from './schema.js';
import { closeMatches, formatFieldPath } from './format.js';
import {
  PROFILE_FILE_MODE,
  commandFor,
  corruptedJsonError,
  invalidProfileError,
  isPlainObject,
  listIssues,
  listProfiles,
  loadProfile,
  looksLikeSecretKey,
  plural,
  profileExists,
  profileFileOf,
  readJson,
  secureDirectories,
  statOrUndefined,
  unwrap,
  validateProfileData,
  type AnySchema,
} from './read.js';

// What callers of the store have always imported from here; the read side lives in ./read.ts.
export { PROFILE_DIR_MODE, PROFILE_FILE_MODE, commandFor, looksLikeSecretKey, validateProfileData, type FieldIssue, type ProfileValidation } from './read.js';

export type FieldKind =
  | { type: 'string' }
  | { type: 'number' }
  | { type: 'boolean' }
  | { type: 'enum'; options: readonly string[] }
  /** A list of strings, typed as a comma-separated value. */
  | { type: 'list' }
  /** The pinned SSH host key: recorded when the user accepts it, can only be forgotten (unset). */
  | { type: 'host-key' };

export interface SettableField {
  key: string;
  kind: FieldKind;
  /** Optional fields can be unset with an empty value (`KEY=`). */
  optional: boolean;
  defaultValue?: unknown;
}

export interface Assignment {
  key: string;
  value: string;
}

export interface SetResult {
  profile: Profile;
  file: string;
  /** True when the profile did not exist and was created from the defaults. */
  created: boolean;
}

export interface ImportResult {
  profile: Profile;
  file: string;
  /** Where the replaced profile was kept, when one existed. */
  backup?: string;
}

/** Fields the runner and the host-key prompt maintain; users do not set them by hand. */
const MAINTAINED_FIELDS = new Set(['schemaVersion', 'progress', 'lastRun']);
const HOST_KEY_FIELD = 'host.hostKey';

function kindOf(schema: AnySchema): FieldKind | undefined {
  if (schema instanceof z.ZodString) return { type: 'string' };
  if (schema instanceof z.ZodNumber) return { type: 'number' };
  if (schema instanceof z.ZodBoolean) return { type: 'boolean' };
  if (schema instanceof z.ZodEnum) return { type: 'enum', options: schema.options.map(String) };
  if (schema instanceof z.ZodArray && unwrap(schema.element as AnySchema).inner instanceof z.ZodString) return { type: 'list' };
  return undefined;
}

let settableCache: Map<string, SettableField> | undefined;

/** Every key `profile set` accepts, derived from ProfileSchema so the two cannot drift apart. */
export function settableFields(): Map<string, SettableField> {
  if (settableCache) return settableCache;
  const fields = new Map<string, SettableField>();
  const walk = (shape: Record<string, AnySchema>, prefix: string): void => {
    for (const [name, fieldSchema] of Object.entries(shape)) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (!prefix && MAINTAINED_FIELDS.has(name)) continue;
      const { inner, optional, defaultValue, hasDefault } = unwrap(fieldSchema);
      if (key === HOST_KEY_FIELD) {
        fields.set(key, { key, kind: { type: 'host-key' }, optional: true });
        continue;
      }
      if (inner instanceof z.ZodObject) {
        walk(inner.shape as Record<string, AnySchema>, key);
        continue;
      }
      const kind = kindOf(inner);
      if (!kind) continue;
      fields.set(key, hasDefault ? { key, kind, optional, defaultValue } : { key, kind, optional });
    }
  };
  walk(ProfileSchema.shape as unknown as Record<string, AnySchema>, '');
  settableCache = fields;
  return fields;
}


function serialize(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes a profile file through conf (atomic rename, fsync, mode 0600). */
function writeProfileFile(name: string, data: Record<string, unknown>): void {
  const dir = secureDirectories(true) as string;
  const conf = new Conf<Record<string, unknown>>({
    cwd: dir,
    configName: name,
    fileExtension: 'json',
    configFileMode: PROFILE_FILE_MODE,
    // Never replace a file conf cannot read with an empty one: the user's edits are worth more.
    clearInvalidConfig: false,
    // Keys are set as whole objects; step ids with dots must not become nested paths.
    accessPropertiesByDotNotation: false,
    serialize,
    watch: false,
  });
  conf.store = data;
}

/** Keeps the current content of `file` as FILE.bak (0600) before it is replaced. */
function backup(file: string): string {
  const target = `${file}.bak`;
  fs.copyFileSync(file, target);
  fs.chmodSync(target, PROFILE_FILE_MODE);
  return target;
}

function setAtPath(root: Record<string, unknown>, key: string, value: unknown, file: string): void {
  const segments = key.split('.');
  const last = segments.pop() as string;
  let node = root;
  for (const [index, segment] of segments.entries()) {
    const next = node[segment];
    if (next === undefined) {
      if (value === undefined) return; // unsetting inside an absent object: nothing to do
      node[segment] = {};
    } else if (!isPlainObject(next)) {
      throw new InputError(`${segments.slice(0, index + 1).join('.')} in ${file} is not an object, so ${key} cannot be set`, {
        field: key,
        hint: 'Fix that field in an editor first; nothing was written.',
      });
    }
    node = node[segment] as Record<string, unknown>;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/** Turns the text after `KEY=` into the value the schema expects at KEY (undefined = unset). */
export function parseFieldValue(field: SettableField, raw: string): unknown {
  const { key, kind } = field;
  if (raw === '') {
    if (kind.type === 'list') return [];
    if (field.optional) return undefined;
    throw new InputError(`${key} cannot be empty`, {
      field: key,
      hint: `Give it a value${field.defaultValue === undefined ? '' : ` (its default is ${JSON.stringify(field.defaultValue)})`}; only optional keys can be unset with \`${key}=\`.`,
    });
  }
  const trimmed = raw.trim();
  switch (kind.type) {
    case 'string':
      return raw;
    case 'number':
      if (!/^[+-]?\d+(\.\d+)?$/.test(trimmed)) {
        throw new InputError(`${key} must be a number, got "${printable(raw)}"`, { field: key, hint: `e.g. ${key}=${String(field.defaultValue ?? 1)}` });
      }
      return Number(trimmed);
    case 'boolean': {
      const word = trimmed.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new InputError(`${key} must be true or false, got "${printable(raw)}"`, { field: key, hint: `e.g. ${key}=true` });
    }
    case 'enum':
      if (!kind.options.includes(trimmed)) {
        throw new InputError(`${key} must be one of ${kind.options.join(', ')}, got "${printable(raw)}"`, { field: key, hint: `e.g. ${key}=${kind.options[0] ?? ''}` });
      }
      return trimmed;
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    case 'host-key':
      throw new InputError(`${key} cannot be set by hand`, {
        field: key,
        hint: `The host key is pinned when you accept it on the first connection. \`${key}=\` forgets the pin (e.g. after reinstalling the host).`,
      });
  }
}

/** Looks up KEY for `profile set`, refusing secrets and unknown keys with suggestions. */
export function settableField(key: string, profileName = DEFAULT_PROFILE): SettableField {
  if (looksLikeSecretKey(key)) {
    throw new InputError(`"${printable(key)}" looks like a secret: profiles hold no secrets`, {
      field: key,
      hint: `Passwords and key passphrases are asked when needed and kept in memory only; unseal keys and the root token live in custody (${custodyDir(profileName)}).`,
    });
  }
  const fields = settableFields();
  const field = fields.get(key);
  if (field) return field;
  const suggestions = closeMatches(key, [...fields.keys()]);
  throw new InputError(`unknown profile key "${printable(key)}"`, {
    field: key,
    hint: `${suggestions.length ? `Did you mean ${suggestions.join(', ')}? ` : ''}\`${APP_NAME} profile keys\` lists every key.`,
  });
}

/** Splits `KEY=VALUE` (the value may contain further `=`). */
export function parseAssignment(text: string): Assignment {
  const at = text.indexOf('=');
  if (at <= 0) {
    throw new InputError(`"${printable(text)}" is not KEY=VALUE`, { hint: `e.g. \`${APP_NAME} profile set host.address=10.0.0.11 host.port=22\`` });
  }
  return { key: text.slice(0, at).trim(), value: text.slice(at + 1) };
}

export class ProfileStore {
  /** The file of profile `name` (whether or not it exists). */
  file(name: string): string {
    return profileFileOf(name);
  }

  /** Names of the saved profiles, sorted. */
  list(): string[] {
    return listProfiles();
  }

  exists(name: string): boolean {
    return profileExists(name);
  }

  /** Loads and validates a profile. Throws InputError naming the file (and field) when it cannot. */
  load(name: string): Profile {
    return loadProfile(name);
  }

  /**
   * Saves a whole profile. Refuses to replace a file that is corrupted or invalid (the user may be
   * editing it) unless `replaceInvalid` is set; the replaced content is then kept as NAME.json.bak.
   */
  save(name: string, profile: Profile, options: { replaceInvalid?: boolean } = {}): Profile {
    const file = this.file(name);
    const previous = readJson(file);
    const candidate = structuredClone(profile) as unknown as Record<string, unknown>;
    if (previous.state === 'parsed') followServerDefaults(previous.data, candidate);
    const result = validateProfileData(candidate);
    if (!result.ok) {
      throw new InputError(`profile "${name}" was not saved: ${plural(result.issues.length, 'invalid field')}:\n${listIssues(result.issues)}`, {
        ...(result.issues[0] ? { field: result.issues[0].path } : {}),
        hint: `Nothing was written to ${file}.`,
      });
    }
    const current = readJson(file);
    if (current.state === 'corrupt') {
      if (!options.replaceInvalid) throw corruptedJsonError(file, current.text, 'profile', name);
      backup(file);
      fs.rmSync(file); // conf cannot open an unparsable file; the .bak keeps its content
    } else if (current.state === 'parsed') {
      const existing = validateProfileData(current.data);
      if (!existing.ok) {
        if (!options.replaceInvalid) throw invalidProfileError(file, existing.issues, 'profile');
        backup(file);
      }
    }
    writeProfileFile(name, result.profile);
    return result.profile;
  }

  /** Creates a profile with the default values. Never replaces an existing one. */
  create(name: string): Profile {
    const file = this.file(name);
    if (statOrUndefined(file)) {
      throw new InputError(`profile "${name}" already exists (${file})`, {
        field: '--profile',
        hint: `Show it with \`${commandFor(name, 'profile show')}\`, change it with \`${commandFor(name, 'profile set KEY=VALUE')}\`, or choose another name with --profile.`,
      });
    }
    const profile = defaultProfile();
    writeProfileFile(name, profile);
    return profile;
  }

  /**
   * Replaces profile `name` with the content of a JSON file, after validating all of it: when the
   * file is broken or invalid nothing is written. A replaced profile is kept as NAME.json.bak.
   */
  importFile(name: string, sourcePath: string): ImportResult {
    const file = this.file(name);
    const source = path.resolve(sourcePath);
    let text: string;
    try {
      text = fs.readFileSync(source, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, {
        field: 'FILE',
        hint: 'Give the path of a profile JSON file (e.g. one written by `profile show --json`).',
      });
    }
    let data: unknown;
    try {
      data = JSON.parse(text) as unknown;
    } catch {
      throw corruptedJsonError(source, text, 'import', name);
    }
    const result = validateProfileData(data);
    if (!result.ok) throw invalidProfileError(source, result.issues, 'import');
    const existing = readJson(file);
    let backupFile: string | undefined;
    if (existing.state !== 'missing') {
      backupFile = backup(file);
      if (existing.state === 'corrupt') fs.rmSync(file);
    }
    writeProfileFile(name, result.profile);
    return backupFile === undefined ? { profile: result.profile, file } : { profile: result.profile, file, backup: backupFile };
  }

  /** `profile set KEY=VALUE` for one key. */
  set(name: string, key: string, rawValue: string): SetResult {
    return this.setMany(name, [{ key, value: rawValue }]);
  }

  /**
   * Applies several assignments at once and writes only when the whole resulting profile is valid.
   * Works on the file's raw JSON, so it can also repair an invalid profile field by field; a
   * missing profile starts from the defaults.
   */
  setMany(name: string, assignments: readonly Assignment[]): SetResult {
    const file = this.file(name);
    if (assignments.length === 0) throw new InputError('nothing to set', { hint: `e.g. \`${APP_NAME} profile set host.address=10.0.0.11\`` });
    const changes = assignments.map(({ key, value }) => {
      const field = settableField(key, name);
      return { key, value: parseFieldValue(field, value) };
    });
    const read = readJson(file);
    if (read.state === 'corrupt') throw corruptedJsonError(file, read.text, 'profile', name);
    const created = read.state === 'missing';
    const raw = read.state === 'parsed' ? structuredClone(read.data) : {};
    if (!isPlainObject(raw)) throw invalidProfileError(file, [{ path: formatFieldPath([]), message: 'must be a JSON object ({ ... })' }], 'profile');
    const before = structuredClone(raw);
    for (const change of changes) setAtPath(raw, change.key, change.value, file);
    followServerDefaults(before, raw, new Set(changes.map((change) => change.key)));
    const result = validateProfileData(raw);
    if (!result.ok) {
      const assigned = new Set(changes.map((change) => change.key));
      const preExisting = result.issues.filter((issue) => ![...assigned].some((key) => issue.path === key || issue.path.startsWith(`${key}[`)));
      throw new InputError(`profile "${name}" was not changed: the result would have ${plural(result.issues.length, 'invalid field')}:\n${listIssues(result.issues)}`, {
        ...(result.issues[0] ? { field: result.issues[0].path } : {}),
        hint:
          preExisting.length > 0
            ? `Nothing was written to ${file}. It already has invalid fields; fix them in the same command (\`profile set A=1 B=2\`) or in an editor.`
            : `Nothing was written to ${file}.`,
      });
    }
    writeProfileFile(name, result.profile);
    return { profile: result.profile, file, created };
  }

  /** Pins the SSH host key the user accepted (trust on first use). */
  pinHostKey(name: string, pin: { algorithm: string; fingerprint: string }): Profile {
    const file = this.file(name);
    const checked = HostKeyPinSchema.parse(pin);
    const read = readJson(file);
    if (read.state === 'corrupt') throw corruptedJsonError(file, read.text, 'profile', name);
    const raw = read.state === 'parsed' ? structuredClone(read.data) : {};
    if (!isPlainObject(raw)) throw invalidProfileError(file, [{ path: formatFieldPath([]), message: 'must be a JSON object ({ ... })' }], 'profile');
    setAtPath(raw, HOST_KEY_FIELD, checked, file);
    const result = validateProfileData(raw);
    if (!result.ok) throw invalidProfileError(file, result.issues, 'profile');
    writeProfileFile(name, result.profile);
    return result.profile;
  }

  /**
   * Records run progress in profile `name` after every step. Each call re-reads the file and changes
   * only `lastRun` / `progress.<step>`, so fields the user edited meanwhile are kept as they are.
   * A file that is not JSON is left alone (the runner logs the error and carries on).
   */
  progressSink(name: string): ProgressSink {
    const file = this.file(name);
    const update = (change: (raw: Record<string, unknown>) => void): void => {
      const read = readJson(file);
      if (read.state === 'corrupt') throw corruptedJsonError(file, read.text, 'profile', name);
      const raw = read.state === 'parsed' ? read.data : defaultProfile();
      if (!isPlainObject(raw)) throw invalidProfileError(file, [{ path: formatFieldPath([]), message: 'must be a JSON object ({ ... })' }], 'profile');
      change(raw);
      writeProfileFile(name, raw);
    };
    const recordRun = (run: LastRun): void => {
      const checked = LastRunSchema.parse(run);
      update((raw) => {
        raw['lastRun'] = checked;
      });
    };
    return {
      runStarted: recordRun,
      runEnded: recordRun,
      stepRecorded: (stepId: string, progress: StepProgress): void => {
        const checked = StepProgressSchema.parse(progress);
        update((raw) => {
          const current = raw['progress'];
          raw['progress'] = { ...(isPlainObject(current) ? current : {}), [stepId]: checked };
        });
      },
    };
  }
}

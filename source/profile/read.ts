/**
 * Reading and validating profiles, without the writer: `status`, the TUI's start and every other
 * command that only reads a profile import this module, not ./store.ts, so they never load `conf`
 * (and ajv with it, ~300 KiB of JavaScript with its schema compiler) that only writes need.
 * ProfileStore (./store.ts) reads through the same functions, so a broken file gets the same message
 * from every command.
 *
 * Reads use node:fs directly, because a helpful message about a broken file needs its raw text
 * (line, column). Nothing here writes a profile; the only changes made on the way are tightening
 * the mode of the config directories and of the file when group or others could read them.
 */
import * as z from 'zod';
import fs from 'node:fs';
import { InputError, UserError } from '../core/errors.js';
import { validateProfileName } from '../core/validate.js';
import { APP_NAME, DEFAULT_PROFILE, appPaths, profileFile } from './paths.js';
import { ProfileSchema, type Profile } from './schema.js';
import { closeMatches, formatFieldPath, locateJsonError } from './format.js';

export const PROFILE_FILE_MODE = 0o600;
export const PROFILE_DIR_MODE = 0o700;

export interface FieldIssue {
  /** e.g. `vault.tls.extraSans[1]` */
  path: string;
  message: string;
}

/** Keys that name secrets. The schema has none of them; the test suite proves it stays that way. */
const SECRET_KEY = /(password|passwd|passphrase|secret|token|private.?key|unseal.?keys?|credential|api.?key)/i;

export function looksLikeSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export type AnySchema = z.ZodType;

/** Strips `.default()` and `.optional()` wrappers, remembering what they said. */
export function unwrap(schema: AnySchema): { inner: AnySchema; optional: boolean; defaultValue?: unknown; hasDefault: boolean } {
  let inner = schema;
  let optional = false;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    if (inner instanceof z.ZodOptional) {
      optional = true;
      inner = inner.unwrap() as AnySchema;
    } else if (inner instanceof z.ZodDefault) {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = inner.def.defaultValue;
      }
      inner = inner.unwrap() as AnySchema;
    } else {
      return hasDefault ? { inner, optional, defaultValue, hasDefault } : { inner, optional, hasDefault };
    }
  }
}


export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


/**
 * Fields the schema does not know. zod drops them silently, which would hide a typo
 * (`"adress"`) or a secret someone pasted into the file; they are reported instead.
 */
function unknownFieldIssues(schema: AnySchema, value: unknown, at: PropertyKey[]): FieldIssue[] {
  const { inner } = unwrap(schema);
  const issues: FieldIssue[] = [];
  if (inner instanceof z.ZodObject && isPlainObject(value)) {
    const shape = inner.shape as Record<string, AnySchema>;
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...at, key];
      const fieldSchema = shape[key];
      if (fieldSchema) {
        issues.push(...unknownFieldIssues(fieldSchema, child, childPath));
        continue;
      }
      const shown = formatFieldPath(childPath);
      if (looksLikeSecretKey(key)) {
        issues.push({ path: shown, message: 'looks like a secret: profiles hold no secrets, remove it' });
      } else {
        const prefix = at.length === 0 ? '' : `${formatFieldPath(at)}.`;
        const suggestions = closeMatches(key, Object.keys(shape)).map((name) => prefix + name);
        issues.push({ path: shown, message: `unknown field${suggestions.length ? ` (did you mean ${suggestions.join(' or ')}?)` : ''}` });
      }
    }
  } else if (inner instanceof z.ZodRecord && isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) issues.push(...unknownFieldIssues(inner.valueType as AnySchema, child, [...at, key]));
  } else if (inner instanceof z.ZodArray && Array.isArray(value)) {
    value.forEach((child, index) => issues.push(...unknownFieldIssues(inner.element as AnySchema, child, [...at, index])));
  }
  return issues;
}

export type ProfileValidation = { ok: true; profile: Profile } | { ok: false; issues: FieldIssue[] };

/** Validates parsed JSON as a profile: unknown fields and every schema rule, all issues at once. */
export function validateProfileData(data: unknown): ProfileValidation {
  const issues = unknownFieldIssues(ProfileSchema as unknown as AnySchema, data, []);
  const parsed = ProfileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const entry = { path: formatFieldPath(issue.path), message: issue.message };
      if (!issues.some((known) => known.path === entry.path && known.message === entry.message)) issues.push(entry);
    }
  }
  if (issues.length > 0 || !parsed.success) return { ok: false, issues };
  return { ok: true, profile: parsed.data };
}

export function listIssues(issues: readonly FieldIssue[]): string {
  return issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n');
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The command line that selects a profile, for hints (`--profile NAME` only when not default). */
export function commandFor(name: string, rest: string): string {
  return name === DEFAULT_PROFILE ? `${APP_NAME} ${rest}` : `${APP_NAME} --profile ${name} ${rest}`;
}

export function corruptedJsonError(file: string, text: string, kind: 'profile' | 'import', name: string): InputError {
  const where = locateJsonError(text);
  const position = where ? `${where.reason} at line ${where.line}, column ${where.column} (position ${where.position})` : 'it cannot be parsed';
  if (kind === 'profile') {
    return new InputError(`profile file ${file} is not valid JSON: ${position}`, {
      field: file,
      hint: `The file was left untouched. Fix it in an editor, or replace it with \`${commandFor(name, 'profile import FILE')}\`.`,
    });
  }
  return new InputError(`${file} is not valid JSON: ${position}`, {
    field: file,
    hint: 'Nothing was written. Fix the file and import it again.',
  });
}

export function invalidProfileError(file: string, issues: readonly FieldIssue[], kind: 'profile' | 'import'): InputError {
  const field = issues[0]?.path;
  const head = kind === 'profile' ? `profile file ${file} has ${plural(issues.length, 'invalid field')}` : `${file} is not a valid profile: ${plural(issues.length, 'invalid field')}`;
  return new InputError(`${head}:\n${listIssues(issues)}`, {
    ...(field === undefined ? {} : { field }),
    hint:
      kind === 'profile'
        ? `The file was left untouched. Fix ${issues.length === 1 ? 'it' : 'them'} in an editor or with \`${APP_NAME} profile set KEY=VALUE ...\` (one command can fix several fields).`
        : 'Nothing was written. Fix the file and import it again.',
  });
}

export function requireProfileName(name: string): void {
  const message = validateProfileName(name);
  if (message) throw new InputError(message, { field: '--profile', hint: 'Choose a name such as default, lab or pi-1.' });
}

export function statOrUndefined(target: string): fs.Stats | undefined {
  try {
    return fs.statSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Tightens a path's mode to `mode` when group or others have any access. */
export function restrictMode(target: string, stats: fs.Stats, mode: number): void {
  if ((stats.mode & 0o077) === 0) return;
  try {
    fs.chmodSync(target, mode);
  } catch (error) {
    throw new UserError(`cannot restrict ${target} to mode ${mode.toString(8)}: ${(error as Error).message}`, {
      hint: `It is readable by other users. Run \`chmod ${mode.toString(8)} ${target}\` as its owner.`,
      cause: error,
    });
  }
}

/**
 * Makes sure the config root and the profiles dir are 0700 (creating them when asked).
 * Returns the profiles dir, or undefined when it does not exist and `create` is false.
 */
export function secureDirectories(create: boolean): string | undefined {
  const { config, profilesDir } = appPaths();
  for (const dir of [config, profilesDir]) {
    let stats = statOrUndefined(dir);
    if (!stats) {
      if (!create) return undefined;
      fs.mkdirSync(dir, { recursive: true, mode: PROFILE_DIR_MODE });
      stats = fs.statSync(dir);
    }
    if (!stats.isDirectory()) {
      throw new UserError(`${dir} exists but is not a directory`, { hint: `Move it away; ${APP_NAME} keeps its profiles there.` });
    }
    restrictMode(dir, stats, PROFILE_DIR_MODE);
  }
  return profilesDir;
}

/** The raw text of a profile file, or undefined when there is none. The file mode is fixed on the way. */
function readProfileText(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') throw new UserError(`profile file ${file} is a directory`, { hint: 'Move it away and create the profile again.' });
    throw new UserError(`cannot read profile file ${file}: ${(error as Error).message}`, { cause: error });
  }
  restrictMode(file, fs.statSync(file), PROFILE_FILE_MODE);
  return text;
}

export type JsonRead = { state: 'missing' } | { state: 'corrupt'; text: string } | { state: 'parsed'; data: unknown };

export function readJson(file: string): JsonRead {
  const text = readProfileText(file);
  if (text === undefined) return { state: 'missing' };
  try {
    return { state: 'parsed', data: JSON.parse(text) as unknown };
  } catch {
    return { state: 'corrupt', text };
  }
}

/** The file of profile `name` (whether or not it exists). Throws InputError for a name that is not allowed. */
export function profileFileOf(name: string): string {
  requireProfileName(name);
  return profileFile(name);
}

/** Names of the saved profiles, sorted. */
export function listProfiles(): string[] {
  const dir = secureDirectories(false);
  if (!dir) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => entry.name.slice(0, -'.json'.length))
    .filter((name) => validateProfileName(name) === undefined)
    .sort((a, b) => a.localeCompare(b));
}

export function profileExists(name: string): boolean {
  return statOrUndefined(profileFileOf(name)) !== undefined;
}

/** Loads and validates a profile. Throws InputError naming the file (and field) when it cannot. */
export function loadProfile(name: string): Profile {
  const file = profileFileOf(name);
  secureDirectories(false);
  const read = readJson(file);
  if (read.state === 'missing') {
    const others = listProfiles();
    throw new InputError(`profile "${name}" does not exist (${file})`, {
      field: '--profile',
      hint: `Create it with \`${commandFor(name, 'profile init')}\` or \`${commandFor(name, 'profile import FILE')}\`${
        others.length ? `, or pick one of: ${others.join(', ')}` : ''
      }.`,
    });
  }
  if (read.state === 'corrupt') throw corruptedJsonError(file, read.text, 'profile', name);
  const result = validateProfileData(read.data);
  if (!result.ok) throw invalidProfileError(file, result.issues, 'profile');
  return result.profile;
}

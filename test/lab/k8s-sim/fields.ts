// Patches and field ownership.
// - JSON merge patch: https://www.rfc-editor.org/rfc/rfc7386
// - JSON patch: https://www.rfc-editor.org/rfc/rfc6902
// - Server-side apply: https://kubernetes.io/docs/reference/using-api/server-side-apply/ — every
//   field has owners (managedFields, FieldsV1); applying a value that differs from one another
//   manager owns is a conflict unless forced; fields a manager stops applying are removed when
//   nobody else owns them. Lists are treated as atomic (a list is one field), maps are granular.
import { isDeepStrictEqual } from 'node:util';
import { badRequest, ApiError } from './status.js';

export type Obj = Record<string, any>;

export function isPlainObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Obj = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointerTokens(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapePointer);
}

export function jsonPatch(document: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(document);
  const parentOf = (tokens: string[]): { parent: any; key: string } => {
    let parent: any = doc;
    for (const token of tokens.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(token)] : parent?.[token];
      if (parent === undefined || parent === null || typeof parent !== 'object') throw new ApiError(422, 'Invalid', `doc is missing path: ${tokens.join('/')}`);
    }
    return { parent, key: tokens[tokens.length - 1]! };
  };
  const get = (tokens: string[]): unknown => {
    let value: any = doc;
    for (const token of tokens) {
      if (value === null || typeof value !== 'object' || !(Array.isArray(value) ? Number(token) < value.length : token in value)) {
        throw new ApiError(422, 'Invalid', `doc is missing path: "/${tokens.join('/')}"`);
      }
      value = Array.isArray(value) ? value[Number(token)] : value[token];
    }
    return value;
  };
  const remove = (tokens: string[]): unknown => {
    const value = get(tokens);
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
    return value;
  };
  const add = (tokens: string[], value: unknown): void => {
    if (tokens.length === 0) {
      doc = clone(value);
      return;
    }
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index > parent.length) throw new ApiError(422, 'Invalid', `add operation does not apply: index out of range`);
      parent.splice(index, 0, clone(value));
    } else parent[key] = clone(value);
  };
  for (const operation of operations as Obj[]) {
    const path = pointerTokens(operation['path']);
    switch (operation['op']) {
      case 'add':
        add(path, operation['value']);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        get(path);
        remove(path);
        add(path, operation['value']);
        break;
      case 'move':
        add(path, remove(pointerTokens(operation['from'])));
        break;
      case 'copy':
        add(path, get(pointerTokens(operation['from'])));
        break;
      case 'test':
        if (!isDeepStrictEqual(get(path), operation['value'])) throw new ApiError(422, 'Invalid', `testing value ${operation['path']} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(operation['op'])}`);
    }
  }
  return doc;
}

// ---- field sets -----------------------------------------------------------------------------

export type FieldPath = string[];
const key = (path: FieldPath): string => JSON.stringify(path);
const unkey = (text: string): FieldPath => JSON.parse(text) as FieldPath;

/** Fields nobody owns: identity and bookkeeping that the server sets. */
const SERVER_FIELDS = new Set(['apiVersion', 'kind']);
const SERVER_METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']);

/** Leaf fields of an object: maps are descended, lists and scalars (and empty maps) are leaves. */
export function leafFields(object: Obj, scope: 'main' | 'status' | 'all'): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (value: unknown, path: FieldPath): void => {
    if (isPlainObject(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else out.set(key(path), value);
  };
  for (const [k, v] of Object.entries(object)) {
    if (SERVER_FIELDS.has(k)) continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    if (k === 'metadata' && isPlainObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_METADATA.has(mk)) walk(mv, ['metadata', mk]);
      continue;
    }
    walk(v, [k]);
  }
  return out;
}

function getPath(object: Obj, path: FieldPath): unknown {
  let value: any = object;
  for (const k of path) {
    if (!isPlainObject(value)) return undefined;
    value = value[k];
  }
  return value;
}

function deletePath(object: Obj, path: FieldPath): void {
  const parents: Obj[] = [];
  let value: any = object;
  for (const k of path.slice(0, -1)) {
    if (!isPlainObject(value[k])) return;
    parents.push(value);
    value = value[k];
  }
  delete value[path[path.length - 1]!];
  // Drop maps the removal left empty (SSA removes fields, not the parents others never set).
  for (let i = path.length - 2; i >= 0; i--) {
    const parent = parents[i]!;
    const child = parent[path[i]!];
    if (isPlainObject(child) && Object.keys(child).length === 0 && path[i] !== 'metadata') delete parent[path[i]!];
    else break;
  }
}

/** Merges an applied configuration: maps merge key by key, everything else is replaced. */
function mergeApplied(target: Obj, config: Obj): void {
  for (const [k, v] of Object.entries(config)) {
    if (isPlainObject(v) && Object.keys(v).length > 0 && isPlainObject(target[k])) mergeApplied(target[k], v);
    else target[k] = clone(v);
  }
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

export function toFieldsV1(paths: Iterable<string>): Obj {
  const root: Obj = {};
  for (const text of paths) {
    let node = root;
    for (const k of unkey(text)) node = node[`f:${k}`] ??= {};
  }
  return root;
}

export function fromFieldsV1(fields: Obj): Set<string> {
  const out = new Set<string>();
  const walk = (node: Obj, path: FieldPath): void => {
    const children = Object.keys(node).filter((k) => k.startsWith('f:'));
    if (children.length === 0 && path.length) out.add(key(path));
    for (const child of children) walk(node[child], [...path, child.slice(2)]);
  };
  walk(fields ?? {}, []);
  return out;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function entryId(entry: Pick<ManagedFieldsEntry, 'manager' | 'operation' | 'subresource'>): string {
  return `${entry.manager}\u0000${entry.operation}\u0000${entry.subresource ?? ''}`;
}

interface Owned {
  entry: ManagedFieldsEntry;
  fields: Set<string>;
}

function loadOwners(object: Obj): Owned[] {
  const entries = (object['metadata']?.['managedFields'] ?? []) as ManagedFieldsEntry[];
  return entries.map((entry) => ({ entry, fields: fromFieldsV1(entry.fieldsV1) }));
}

function storeOwners(object: Obj, owners: Owned[]): void {
  const entries = owners
    .filter((owner) => owner.fields.size > 0)
    .map((owner) => ({ ...owner.entry, fieldsV1: toFieldsV1([...owner.fields].sort()) }));
  object['metadata'] ??= {};
  if (entries.length) object['metadata']['managedFields'] = entries;
  else delete object['metadata']['managedFields'];
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  apiVersion: string;
  /** which fields this request may touch: the main resource (no status) or the status subresource */
  scope: 'main' | 'status';
}

/**
 * Server-side apply of `config` onto `current` (undefined: the object is created).
 * Returns the new object (managedFields updated) or throws a 409 Conflict Status.
 */
export function serverSideApply(current: Obj | undefined, config: Obj, options: ApplyOptions): Obj {
  const applied = leafFields(config, options.scope);
  const result: Obj = current ? clone(current) : { apiVersion: config['apiVersion'], kind: config['kind'], metadata: {} };
  const owners = current ? loadOwners(result) : [];
  const subresource = options.scope === 'status' ? 'status' : undefined;
  const self = entryId({ manager: options.manager, operation: 'Apply', subresource });

  const conflicts: { manager: string; apiVersion: string; path: string }[] = [];
  for (const owner of owners) {
    if (owner.entry.manager === options.manager) continue;
    for (const field of owner.fields) {
      if (!applied.has(field)) continue;
      if (!isDeepStrictEqual(getPath(result, unkey(field)), applied.get(field))) conflicts.push({ manager: owner.entry.manager, apiVersion: owner.entry.apiVersion, path: field });
    }
  }
  if (conflicts.length && !options.force) throw applyConflict(conflicts);
  for (const c of conflicts) for (const owner of owners) if (owner.entry.manager === c.manager) owner.fields.delete(c.path);

  const mine = owners.find((owner) => entryId(owner.entry) === self);
  const previouslyMine = mine ? [...mine.fields] : [];
  for (const field of previouslyMine) {
    if (applied.has(field)) continue;
    const ownedByOthers = owners.some((owner) => owner !== mine && owner.fields.has(field));
    if (!ownedByOthers) deletePath(result, unkey(field));
  }
  const scoped: Obj = {};
  for (const [k, v] of Object.entries(config)) {
    if (SERVER_FIELDS.has(k)) continue;
    if (options.scope === 'main' && k === 'status') continue;
    if (options.scope === 'status' && k !== 'status') continue;
    if (k === 'metadata' && isPlainObject(v)) {
      const metadata: Obj = {};
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_METADATA.has(mk)) metadata[mk] = mv;
      scoped['metadata'] = metadata;
    } else scoped[k] = v;
  }
  mergeApplied(result, scoped);

  const entry: ManagedFieldsEntry = {
    manager: options.manager,
    operation: 'Apply',
    apiVersion: options.apiVersion,
    time: now(),
    fieldsType: 'FieldsV1',
    fieldsV1: {},
    ...(subresource ? { subresource } : {}),
  };
  if (mine) {
    mine.entry = entry;
    mine.fields = new Set(applied.keys());
  } else owners.push({ entry, fields: new Set(applied.keys()) });
  storeOwners(result, owners);
  return result;
}

function applyConflict(conflicts: { manager: string; apiVersion: string; path: string }[]): ApiError {
  const describe = (path: string): string => `.${unkey(path).join('.')}`;
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: describe(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    const c = conflicts[0]!;
    message = `Apply failed with 1 conflict: conflict with "${c.manager}" using ${c.apiVersion}: ${describe(c.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) byManager.set(`"${c.manager}" using ${c.apiVersion}`, [...(byManager.get(`"${c.manager}" using ${c.apiVersion}`) ?? []), describe(c.path)]);
    message = `Apply failed with ${conflicts.length} conflicts: ${[...byManager].map(([who, paths]) => `conflicts with ${who}:\n- ${paths.join('\n- ')}`).join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

/**
 * Records an Update operation (create, replace, merge/JSON patch): the manager takes the fields it
 * changed; fields that disappeared lose their owners.
 */
export function recordUpdate(previous: Obj | undefined, next: Obj, manager: string, apiVersion: string, scope: 'main' | 'status'): Obj {
  const before = previous ? leafFields(previous, scope) : new Map<string, unknown>();
  const after = leafFields(next, scope);
  const owners = previous ? loadOwners(next) : [];
  const changed = [...after].filter(([field, value]) => !before.has(field) || !isDeepStrictEqual(before.get(field), value)).map(([field]) => field);
  for (const owner of owners) {
    for (const field of owner.fields) {
      const inScope = scope === 'status' ? unkey(field)[0] === 'status' : unkey(field)[0] !== 'status';
      if (inScope && !after.has(field)) owner.fields.delete(field);
    }
    for (const field of changed) owner.fields.delete(field);
  }
  if (changed.length) {
    const subresource = scope === 'status' ? 'status' : undefined;
    const id = entryId({ manager, operation: 'Update', subresource });
    const entry: ManagedFieldsEntry = { manager, operation: 'Update', apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}) };
    const existing = owners.find((owner) => entryId(owner.entry) === id);
    if (existing) {
      existing.entry = entry;
      for (const field of changed) existing.fields.add(field);
    } else owners.push({ entry, fields: new Set(changed) });
  }
  storeOwners(next, owners);
  return next;
}

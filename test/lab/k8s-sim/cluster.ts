// The cluster's state and the API operations on it: create, get, list, replace, patch (merge,
// JSON, server-side apply), delete, plus the review and TokenRequest endpoints. The HTTP layer
// (server.ts) authenticates and authorizes, then calls these; in-process controllers call them
// directly as the system would.
// https://kubernetes.io/docs/reference/using-api/api-concepts/
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { clone, isPlainObject, jsonPatch, mergePatch, recordUpdate, serverSideApply, type Obj } from './fields.js';
import { boundTokenClaims, LEGACY_ISSUER, type TokenSigner } from './jwt.js';
import { authorize, bootstrapPolicy, type Attributes, type Decision, type UserInfo } from './rbac.js';
import { apiVersionOf, BUILTIN_TYPES, typesFromCrd, type ResourceType } from './resources.js';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  invalid,
  invalidValue,
  notFound,
  requiredValue,
  unsupportedMediaType,
  type StatusCause,
} from './status.js';

export const SERVICE_ACCOUNT_TOKEN_TYPE = 'kubernetes.io/service-account-token';
export const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';
export const SA_UID_ANNOTATION = 'kubernetes.io/service-account.uid';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface ClusterEvent {
  type: WatchEventType;
  resource: ResourceType;
  object: Obj;
}

export interface ClusterOptions {
  signer: TokenSigner;
  caPem: string;
  /** iss of bound tokens (K3s: https://kubernetes.default.svc.cluster.local) */
  issuer: string;
  /** the API server's own audiences (--api-audiences); TokenRequest's default */
  apiAudiences: string[];
  /** bearer tokens of static users (a token auth file) */
  staticTokens?: Record<string, UserInfo>;
  now?: () => number;
}

export interface WriteOptions {
  manager?: string;
  dryRun?: boolean;
  subresource?: 'status';
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function subdomainError(field: string, value: string): Required<StatusCause> {
  return invalidValue(
    field,
    value,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  );
}

function labelError(field: string, value: string): Required<StatusCause> {
  return invalidValue(
    field,
    value,
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  );
}

function typeKey(type: Pick<ResourceType, 'group' | 'plural'>): string {
  return `${type.group}/${type.plural}`;
}

export class Cluster extends EventEmitter {
  private readonly objects = new Map<string, Obj>();
  private resourceVersion = 1000;
  private customTypes: ResourceType[] = [];
  readonly options: Required<Omit<ClusterOptions, 'staticTokens'>> & { staticTokens: Record<string, UserInfo> };

  constructor(options: ClusterOptions) {
    super();
    this.setMaxListeners(50);
    this.options = { now: Date.now, staticTokens: {}, ...options };
    const system = { manager: 'kube-apiserver' };
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create(this.type('', 'namespaces'), undefined, { metadata: { name } }, system);
    }
    for (const object of bootstrapPolicy()) {
      this.create(this.type('rbac.authorization.k8s.io', object['kind'] === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'), undefined, object, system);
    }
  }

  now(): number {
    return this.options.now();
  }

  // ---- types ------------------------------------------------------------------------------

  types(): ResourceType[] {
    return [...BUILTIN_TYPES, ...this.customTypes];
  }

  /** A type by group and plural (any served version); throws if not served. */
  type(group: string, plural: string): ResourceType {
    const type = this.types().find((t) => t.group === group && t.plural === plural);
    if (!type) throw new Error(`resource ${plural}.${group} is not served`);
    return type;
  }

  findType(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types().find((t) => t.group === group && t.version === version && t.plural === plural);
  }

  typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types().find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  private refreshCustomTypes(): void {
    const crds = this.list(this.type('apiextensions.k8s.io', 'customresourcedefinitions'));
    this.customTypes = crds
      .filter((crd) => (crd['status']?.['conditions'] ?? []).some((c: Obj) => c['type'] === 'Established' && c['status'] === 'True'))
      .flatMap((crd) => typesFromCrd(crd));
  }

  // ---- storage ----------------------------------------------------------------------------

  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${typeKey(type)}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  private nextVersion(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  currentResourceVersion(): string {
    return String(this.resourceVersion);
  }

  /** Returns the stored object as `type`'s version sees it (a copy). */
  private present(type: ResourceType, object: Obj): Obj {
    const copy = clone(object);
    copy['apiVersion'] = apiVersionOf(type);
    copy['kind'] = type.kind;
    return { apiVersion: copy['apiVersion'], kind: copy['kind'], ...copy };
  }

  get(type: ResourceType, namespace: string | undefined, name: string): Obj | undefined {
    const object = this.objects.get(this.key(type, namespace, name));
    return object ? this.present(type, object) : undefined;
  }

  mustGet(type: ResourceType, namespace: string | undefined, name: string): Obj {
    const object = this.get(type, namespace, name);
    if (!object) throw notFound(type, name);
    return object;
  }

  list(type: ResourceType, namespace?: string): Obj[] {
    const prefix = `${typeKey(type)}/${type.namespaced && namespace ? `${namespace}/` : ''}`;
    const out: Obj[] = [];
    for (const [key, object] of this.objects) if (key.startsWith(prefix)) out.push(this.present(type, object));
    return out.sort((a, b) => `${a['metadata']['namespace'] ?? ''}/${a['metadata']['name']}`.localeCompare(`${b['metadata']['namespace'] ?? ''}/${b['metadata']['name']}`));
  }

  private store(type: ResourceType, object: Obj, event: WatchEventType): Obj {
    const key = this.key(type, object['metadata']['namespace'], object['metadata']['name']);
    if (event === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, clone(object));
    if (typeKey(type) === 'apiextensions.k8s.io/customresourcedefinitions') this.refreshCustomTypes();
    const presented = this.present(type, object);
    this.emit('event', { type: event, resource: type, object: presented } satisfies ClusterEvent);
    return presented;
  }

  // ---- validation and defaults ------------------------------------------------------------

  private checkNamespace(type: ResourceType, namespace: string | undefined, body: Obj, creating: boolean): void {
    if (!type.namespaced) return;
    if (!namespace) throw badRequest('the server could not find the requested resource');
    const inBody = body['metadata']?.['namespace'];
    if (inBody && inBody !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (!creating) return;
    const ns = this.get(this.type('', 'namespaces'), undefined, namespace);
    if (!ns) throw notFound({ group: '', plural: 'namespaces' }, namespace);
    if (ns['metadata']['deletionTimestamp']) {
      throw new ApiError(403, 'Forbidden', `${type.plural} "${body['metadata']?.['name'] ?? ''}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: body['metadata']?.['name'] ?? '',
        ...(type.group ? { group: type.group } : {}),
        kind: type.plural,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  /** Kind-specific defaults and validation (what the registry strategies do on create and update). */
  private validate(type: ResourceType, object: Obj, old: Obj | undefined): void {
    const causes: Required<StatusCause>[] = [];
    const name: string = object['metadata']['name'] ?? '';
    if (!name) causes.push(requiredValue('metadata.name', 'name or generateName is required'));
    else if (type.plural === 'namespaces') {
      if (!DNS1123_LABEL.test(name) || name.length > 63) causes.push(labelError('metadata.name', name));
    } else if (type.group === 'rbac.authorization.k8s.io') {
      if (name.includes('/') || name.includes('%') || name === '.' || name === '..') causes.push(invalidValue('metadata.name', name, 'may not contain \'/\''));
    } else if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) causes.push(subdomainError('metadata.name', name));

    for (const [key, value] of Object.entries(object['metadata']['labels'] ?? {})) {
      if (typeof value !== 'string') throw badRequest(`json: cannot unmarshal ${typeof value} into Go struct field ObjectMeta.metadata.labels of type string`);
      if (value.length > 63 || (value && !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value))) {
        causes.push(invalidValue(`metadata.labels`, value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
      }
      void key;
    }

    // Empty maps are omitted (omitempty), as a merge patch that removes the last label shows.
    for (const field of ['labels', 'annotations']) {
      const map = object['metadata'][field];
      if (map && typeof map === 'object' && Object.keys(map).length === 0) delete object['metadata'][field];
    }

    switch (`${type.group}/${type.kind}`) {
      case '/Secret': {
        object['type'] ??= 'Opaque';
        if (old && old['type'] !== object['type']) causes.push(invalidValue('type', object['type'], 'field is immutable'));
        if (object['stringData']) {
          object['data'] ??= {};
          for (const [k, v] of Object.entries(object['stringData'] as Obj)) object['data'][k] = Buffer.from(String(v), 'utf8').toString('base64');
          delete object['stringData'];
        }
        for (const [k, v] of Object.entries((object['data'] ?? {}) as Obj)) {
          if (!CONFIG_KEY.test(k)) {
            causes.push(invalidValue(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
          }
          if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
            throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`);
          }
        }
        if (object['data'] && Object.keys(object['data']).length === 0) delete object['data'];
        if (object['type'] === SERVICE_ACCOUNT_TOKEN_TYPE && !object['metadata']['annotations']?.[SA_NAME_ANNOTATION]) {
          causes.push(requiredValue(`metadata.annotations[${SA_NAME_ANNOTATION}]`));
        }
        break;
      }
      case '/ConfigMap':
        for (const k of Object.keys(object['data'] ?? {})) if (!CONFIG_KEY.test(k)) causes.push(invalidValue(`data[${k}]`, k, 'a valid config key must consist of alphanumeric characters'));
        break;
      case '/Namespace':
        object['spec'] = { finalizers: ['kubernetes'], ...(object['spec'] ?? {}) };
        object['metadata']['labels'] = { ...(object['metadata']['labels'] ?? {}), 'kubernetes.io/metadata.name': name };
        if (!object['metadata']['deletionTimestamp']) object['status'] = { phase: 'Active' };
        break;
      case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      case 'rbac.authorization.k8s.io/RoleBinding': {
        const ref = object['roleRef'];
        if (!ref?.['name']) causes.push(requiredValue('roleRef.name'));
        if (!ref?.['kind']) causes.push(requiredValue('roleRef.kind'));
        else if (!['ClusterRole', 'Role'].includes(ref['kind']) || (type.kind === 'ClusterRoleBinding' && ref['kind'] !== 'ClusterRole')) {
          causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${ref['kind']}": supported values: "ClusterRole"`, field: 'roleRef.kind' });
        }
        if (old && !isDeepStrictEqual(old['roleRef'], object['roleRef'])) {
          causes.push(invalidValue('roleRef', object['roleRef'], 'cannot change roleRef'));
        }
        (object['subjects'] ?? []).forEach((subject: Obj, i: number) => {
          if (!subject['name']) causes.push(requiredValue(`subjects[${i}].name`));
          if (subject['kind'] === 'ServiceAccount' && !subject['namespace']) causes.push(requiredValue(`subjects[${i}].namespace`));
          if (!['User', 'Group', 'ServiceAccount'].includes(subject['kind'])) {
            causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${subject['kind']}": supported values: "ServiceAccount", "User", "Group"`, field: `subjects[${i}].kind` });
          }
        });
        break;
      }
      case 'apps/Deployment': {
        const spec = (object['spec'] ??= {});
        spec['replicas'] ??= 1;
        spec['revisionHistoryLimit'] ??= 10;
        spec['progressDeadlineSeconds'] ??= 600;
        spec['strategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
        const selector = spec['selector']?.['matchLabels'];
        if (!spec['selector']) causes.push(requiredValue('spec.selector'));
        const labels = spec['template']?.['metadata']?.['labels'] ?? {};
        if (selector && Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
          causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
        }
        if (!(spec['template']?.['spec']?.['containers'] ?? []).length) causes.push(requiredValue('spec.template.spec.containers'));
        if (old && !isDeepStrictEqual(old['spec']?.['selector'], spec['selector'])) causes.push(invalidValue('spec.selector', spec['selector'], 'field is immutable'));
        break;
      }
      case 'apiextensions.k8s.io/CustomResourceDefinition': {
        const spec = object['spec'] ?? {};
        const names = spec['names'] ?? {};
        if (!spec['group']) causes.push(requiredValue('spec.group'));
        if (!names['plural']) causes.push(requiredValue('spec.names.plural'));
        if (!names['kind']) causes.push(requiredValue('spec.names.kind'));
        if (!['Namespaced', 'Cluster'].includes(spec['scope'])) causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${spec['scope'] ?? ''}": supported values: "Cluster", "Namespaced"`, field: 'spec.scope' });
        const versions: Obj[] = spec['versions'] ?? [];
        if (versions.length === 0) causes.push(requiredValue('spec.versions', 'must have exactly one version marked as storage version'));
        else if (versions.filter((v) => v['storage']).length !== 1) causes.push(invalidValue('spec.versions', versions.map((v) => v['name']), 'must have exactly one version marked as storage version'));
        if (spec['group'] && names['plural'] && name !== `${names['plural']}.${spec['group']}`) causes.push(invalidValue('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));
        if (old && old['spec']?.['scope'] !== spec['scope']) causes.push(invalidValue('spec.scope', spec['scope'], 'field is immutable'));
        names['singular'] ??= String(names['kind'] ?? '').toLowerCase();
        names['listKind'] ??= `${names['kind']}List`;
        break;
      }
      default:
        break;
    }
    if (causes.length) throw invalid(type, name, causes);
  }

  /** Status a kind's controller would set at once (CRDs are established when accepted). */
  private initialStatus(type: ResourceType, object: Obj): void {
    if (type.group === 'apiextensions.k8s.io') {
      const at = timestamp(this.now());
      object['status'] = {
        acceptedNames: object['spec']['names'],
        conditions: [
          { type: 'NamesAccepted', status: 'True', lastTransitionTime: at, reason: 'NoConflicts', message: 'no conflicts found' },
          { type: 'Established', status: 'True', lastTransitionTime: at, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
        ],
        storedVersions: (object['spec']['versions'] as Obj[]).filter((v) => v['storage']).map((v) => v['name']),
      };
    }
  }

  private checkCustomVersion(type: ResourceType, body: Obj): void {
    if (body['apiVersion'] !== undefined && body['apiVersion'] !== apiVersionOf(type) && !(type.custom && String(body['apiVersion']).startsWith(`${type.group}/`))) {
      throw badRequest(`the API version in the data (${body['apiVersion']}) does not match the expected API version (${apiVersionOf(type)})`);
    }
    if (body['kind'] !== undefined && body['kind'] !== type.kind) {
      throw badRequest(`${body['kind']} in version "${type.version}" cannot be handled as a ${type.kind}: the kind in the data does not match the expected kind (${type.kind})`);
    }
  }

  // ---- writes -----------------------------------------------------------------------------

  create(type: ResourceType, namespace: string | undefined, body: Obj, options: WriteOptions = {}): Obj {
    if (!isPlainObject(body)) throw badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the body is not an object`);
    this.checkCustomVersion(type, body);
    const object = clone(body);
    object['metadata'] = isPlainObject(object['metadata']) ? object['metadata'] : {};
    const metadata = object['metadata'];
    this.checkNamespace(type, namespace, object, true);
    if (!metadata['name'] && metadata['generateName']) {
      metadata['name'] = `${metadata['generateName']}${Math.random().toString(36).slice(2, 7)}`;
    }
    if (type.namespaced) metadata['namespace'] = namespace;
    else delete metadata['namespace'];
    for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'deletionTimestamp', 'selfLink']) delete metadata[field];
    if (type.status && type.plural !== 'namespaces') delete object['status'];
    this.validate(type, object, undefined);
    if (this.objects.has(this.key(type, namespace, metadata['name']))) throw alreadyExists(type, metadata['name']);
    this.initialStatus(type, object);
    metadata['uid'] = randomUUID();
    metadata['resourceVersion'] = options.dryRun ? metadata['resourceVersion'] : this.nextVersion();
    metadata['creationTimestamp'] = timestamp(this.now());
    if (type.generation) metadata['generation'] = 1;
    object['apiVersion'] = apiVersionOf(type);
    object['kind'] = type.kind;
    recordUpdate(undefined, object, options.manager ?? 'unknown', apiVersionOf(type), 'main');
    if (options.dryRun) return this.present(type, object);
    return this.store(type, object, 'ADDED');
  }

  /** Replaces (PUT) the object or its status subresource. */
  replace(type: ResourceType, namespace: string | undefined, name: string, body: Obj, options: WriteOptions = {}): Obj {
    if (!isPlainObject(body)) throw badRequest('the body is not an object');
    this.checkCustomVersion(type, body);
    const old = this.get(type, namespace, name);
    if (!old) throw notFound(type, name);
    const bodyName = body['metadata']?.['name'];
    if (bodyName !== undefined && bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    const expectedVersion = body['metadata']?.['resourceVersion'];
    if (expectedVersion && expectedVersion !== old['metadata']['resourceVersion']) {
      throw conflict(type, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    return this.commitUpdate(type, old, clone(body), options, 'Update');
  }

  patch(type: ResourceType, namespace: string | undefined, name: string, patchType: PatchType, body: unknown, options: WriteOptions & { force?: boolean } = {}): { object: Obj; created: boolean } {
    const old = this.get(type, namespace, name);
    if (patchType === 'apply') {
      if (!isPlainObject(body)) throw badRequest('error decoding YAML: the applied configuration is not an object');
      if (!options.manager) throw badRequest('PATCH request to apply must specify a fieldManager: fieldManager: Required value: is required for apply patch');
      if (!body['apiVersion']) throw badRequest('invalid object type: /, Kind=');
      if (!body['kind']) throw badRequest(`invalid object type: ${body['apiVersion']}, Kind=`);
      this.checkCustomVersion(type, body);
      if (body['metadata']?.['name'] !== undefined && body['metadata']['name'] !== name) {
        throw badRequest(`the name of the object (${body['metadata']['name']}) does not match the name on the URL (${name})`);
      }
      const scope = options.subresource === 'status' ? 'status' : 'main';
      if (!old) {
        if (scope === 'status') throw notFound(type, name);
        const config = clone(body);
        config['metadata'] = { ...(config['metadata'] ?? {}), name };
        const applied = serverSideApply(undefined, config, { manager: options.manager, force: Boolean(options.force), apiVersion: apiVersionOf(type), scope });
        applied['metadata']['name'] = name;
        // Created through create's checks; the Apply entry then replaces the Update one.
        const created = this.create(type, namespace, applied, { ...options, manager: options.manager });
        const managed = applied['metadata']['managedFields'];
        if (options.dryRun) return { object: { ...created, metadata: { ...created['metadata'], managedFields: managed } }, created: true };
        const stored = this.objects.get(this.key(type, namespace, name))!;
        stored['metadata']['managedFields'] = managed;
        return { object: this.present(type, stored), created: true };
      }
      const next = serverSideApply(old, body, { manager: options.manager, force: Boolean(options.force), apiVersion: apiVersionOf(type), scope });
      return { object: this.commitUpdate(type, old, next, options, 'Apply'), created: false };
    }
    if (options.force !== undefined) throw new ApiError(422, 'Invalid', 'force: Invalid value: true: may not be specified for non-apply patch');
    if (!old) throw notFound(type, name);
    let next: unknown;
    if (patchType === 'json') next = jsonPatch(old, body);
    else {
      if (patchType === 'strategic' && type.custom) {
        throw unsupportedMediaType(['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
      }
      if (!isPlainObject(body)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      // Strategic merge patch on the kinds served here behaves as a merge patch except for lists
      // with merge keys, which none of the fields the product patches are.
      next = mergePatch(old, body);
    }
    if (!isPlainObject(next)) throw badRequest('the patched object is not an object');
    const expectedVersion = (body as Obj)?.['metadata']?.['resourceVersion'];
    if (patchType !== 'json' && expectedVersion && expectedVersion !== old['metadata']['resourceVersion']) {
      throw conflict(type, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    return { object: this.commitUpdate(type, old, next, options, 'Update'), created: false };
  }

  /** Shared tail of replace/patch/apply: keep server fields, validate, bump versions, store. */
  private commitUpdate(type: ResourceType, old: Obj, next: Obj, options: WriteOptions, operation: 'Update' | 'Apply'): Obj {
    const scope = options.subresource === 'status' ? 'status' : 'main';
    next['metadata'] = isPlainObject(next['metadata']) ? next['metadata'] : {};
    this.checkNamespace(type, old['metadata']['namespace'], next, false);
    const metadata = next['metadata'];
    for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation', 'deletionTimestamp']) {
      if (old['metadata'][field] !== undefined) metadata[field] = old['metadata'][field];
      else delete metadata[field];
    }
    if (operation === 'Update') metadata['managedFields'] = old['metadata']['managedFields'];
    if (scope === 'status') {
      // The status subresource changes status only.
      const status = next['status'];
      for (const key of Object.keys(next)) delete next[key];
      Object.assign(next, clone(old), status === undefined ? {} : { status });
      if (status === undefined) delete next['status'];
      next['metadata']['managedFields'] = operation === 'Apply' ? metadata['managedFields'] : old['metadata']['managedFields'];
    } else if (type.status) {
      if (old['status'] !== undefined) next['status'] = clone(old['status']);
      else delete next['status'];
    }
    next['apiVersion'] = apiVersionOf(type);
    next['kind'] = type.kind;
    this.validate(type, next, old);
    if (operation === 'Update') recordUpdate(old, next, options.manager ?? 'unknown', apiVersionOf(type), scope);
    const strip = (o: Obj): Obj => {
      const c = clone(o);
      delete c['metadata']['resourceVersion'];
      delete c['metadata']['managedFields'];
      return c;
    };
    const unchanged = isDeepStrictEqual(strip(old), strip(next));
    const ownersChanged = !isDeepStrictEqual(
      (old['metadata']['managedFields'] ?? []).map((e: Obj) => [e['manager'], e['operation'], e['fieldsV1']]),
      (next['metadata']['managedFields'] ?? []).map((e: Obj) => [e['manager'], e['operation'], e['fieldsV1']]),
    );
    // A no-op write changes nothing, not even resourceVersion (managedFields times included).
    if (unchanged && !ownersChanged) return old;
    if (type.generation && scope === 'main') {
      const specOf = (o: Obj): Obj => {
        const c = clone(o);
        delete c['metadata'];
        delete c['status'];
        return c;
      };
      if (!isDeepStrictEqual(specOf(old), specOf(next))) metadata['generation'] = (old['metadata']['generation'] ?? 1) + 1;
    }
    if (options.dryRun) return this.present(type, next);
    metadata['resourceVersion'] = this.nextVersion();
    return this.store(type, next, 'MODIFIED');
  }

  /** DELETE: most kinds go at once (a Success Status); namespaces and CRDs finalize first. */
  delete(type: ResourceType, namespace: string | undefined, name: string, options: { dryRun?: boolean } = {}): { object?: Obj; status?: Obj } {
    const old = this.get(type, namespace, name);
    if (!old) throw notFound(type, name);
    if (options.dryRun) return { object: old };
    if (type.plural === 'namespaces' || type.plural === 'customresourcedefinitions') {
      if (!old['metadata']['deletionTimestamp']) {
        old['metadata']['deletionTimestamp'] = timestamp(this.now());
        old['metadata']['deletionGracePeriodSeconds'] = 0;
        if (type.plural === 'namespaces') old['status'] = { phase: 'Terminating' };
        else old['metadata']['finalizers'] = ['customresourcecleanup.apiextensions.k8s.io'];
        old['metadata']['resourceVersion'] = this.nextVersion();
        this.store(type, old, 'MODIFIED');
      }
      return { object: this.get(type, namespace, name)! };
    }
    this.store(type, old, 'DELETED');
    return {
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, ...(type.group ? { group: type.group } : {}), kind: type.plural, uid: old['metadata']['uid'] },
      },
    };
  }

  /** Removes an object whose finalization is done (namespace and CRD controllers call this). */
  finalize(type: ResourceType, namespace: string | undefined, name: string): void {
    const object = this.get(type, namespace, name);
    if (object) this.store(type, object, 'DELETED');
  }

  // ---- authentication ---------------------------------------------------------------------

  /**
   * Authenticates a bearer token as the API server's token authenticators would: static tokens,
   * then service account tokens (legacy Secret-based or bound) signed by this cluster.
   * https://kubernetes.io/docs/reference/access-authn-authz/authentication/#service-account-tokens
   */
  authenticateToken(token: string, audiences: string[] = this.options.apiAudiences): { user: UserInfo; audiences: string[] } | { error: string } {
    const api = this.options.apiAudiences;
    const staticUser = this.options.staticTokens[token];
    if (staticUser) {
      const granted = audiences.filter((a) => api.includes(a));
      if (granted.length === 0) return { error: `token audiences ${JSON.stringify(api)} is invalid for the target audiences ${JSON.stringify(audiences)}` };
      return { user: { ...staticUser, groups: [...staticUser.groups, 'system:authenticated'] }, audiences: granted };
    }
    const claims = this.options.signer.verify(token);
    if (!claims) return { error: 'invalid bearer token' };
    const saType = this.type('', 'serviceaccounts');
    const userOf = (namespace: string, name: string, uid: string, extra?: Record<string, string[]>): UserInfo => ({
      username: `system:serviceaccount:${namespace}:${name}`,
      uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
      ...(extra ? { extra } : {}),
    });
    if (claims['iss'] === LEGACY_ISSUER) {
      const namespace = String(claims['kubernetes.io/serviceaccount/namespace'] ?? '');
      const secretName = String(claims['kubernetes.io/serviceaccount/secret.name'] ?? '');
      const name = String(claims['kubernetes.io/serviceaccount/service-account.name'] ?? '');
      const uid = String(claims['kubernetes.io/serviceaccount/service-account.uid'] ?? '');
      const secret = this.get(this.type('', 'secrets'), namespace, secretName);
      if (!secret || Buffer.from(secret['data']?.['token'] ?? '', 'base64').toString('utf8') !== token) return { error: 'invalid bearer token, Token has been invalidated' };
      const account = this.get(saType, namespace, name);
      if (!account) return { error: `invalid bearer token, serviceaccounts "${name}" not found` };
      if (account['metadata']['uid'] !== uid) return { error: 'invalid bearer token, Token has been invalidated' };
      // Legacy tokens carry no audience: they are good for the API server's own audiences.
      const granted = audiences.filter((a) => api.includes(a));
      if (granted.length === 0) return { error: `invalid bearer token, token audiences ${JSON.stringify(api)} is invalid for the target audiences ${JSON.stringify(audiences)}` };
      return { user: userOf(namespace, name, uid, { 'authentication.kubernetes.io/credential-id': [`JTI=legacy-${secretName}`] }), audiences: granted };
    }
    if (claims['iss'] !== this.options.issuer) return { error: 'invalid bearer token' };
    const nowSeconds = Math.floor(this.now() / 1000);
    if (typeof claims['exp'] !== 'number' || claims['exp'] < nowSeconds) return { error: 'invalid bearer token, service account token has expired' };
    if (typeof claims['nbf'] === 'number' && claims['nbf'] > nowSeconds + 60) return { error: 'invalid bearer token, service account token is not valid yet' };
    const tokenAudiences = Array.isArray(claims['aud']) ? (claims['aud'] as unknown[]).map(String) : typeof claims['aud'] === 'string' ? [claims['aud']] : [];
    const granted = audiences.filter((a) => tokenAudiences.includes(a));
    if (granted.length === 0) return { error: `invalid bearer token, token audiences ${JSON.stringify(tokenAudiences)} is invalid for the target audiences ${JSON.stringify(audiences)}` };
    const k8s = (claims['kubernetes.io'] ?? {}) as { namespace?: string; serviceaccount?: { name?: string; uid?: string } };
    const namespace = k8s.namespace ?? '';
    const name = k8s.serviceaccount?.name ?? '';
    const account = this.get(saType, namespace, name);
    if (!account) return { error: `invalid bearer token, service account ${namespace}/${name} has been deleted` };
    if (account['metadata']['uid'] !== k8s.serviceaccount?.uid) {
      return { error: `invalid bearer token, service account UID (${k8s.serviceaccount?.uid}) does not match claim (${account['metadata']['uid']})` };
    }
    return { user: userOf(namespace, name, account['metadata']['uid'], { 'authentication.kubernetes.io/credential-id': [`JTI=${claims['jti']}`] }), audiences: granted };
  }

  authorize(user: UserInfo, attributes: Attributes): Decision {
    const rbac = (plural: string) => this.type('rbac.authorization.k8s.io', plural);
    return authorize(
      {
        clusterRoles: () => this.list(rbac('clusterroles')),
        clusterRoleBindings: () => this.list(rbac('clusterrolebindings')),
        roles: (namespace) => this.list(rbac('roles'), namespace),
        roleBindings: (namespace) => this.list(rbac('rolebindings'), namespace),
      },
      user,
      attributes,
    );
  }

  // ---- reviews and TokenRequest -----------------------------------------------------------

  /** https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/ */
  tokenReview(body: Obj): Obj {
    const spec = body['spec'] ?? {};
    const token = spec['token'];
    if (typeof token !== 'string' || token === '') throw invalid(this.type('authentication.k8s.io', 'tokenreviews'), '', [requiredValue('spec.token')]);
    const audiences: string[] = Array.isArray(spec['audiences']) && spec['audiences'].length ? spec['audiences'] : this.options.apiAudiences;
    const result = this.authenticateToken(token, audiences);
    const status =
      'user' in result
        ? { authenticated: true, user: result.user, audiences: result.audiences }
        : { user: {}, error: `[${result.error}, token lookup failed]` };
    return { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status };
  }

  /** https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/ */
  accessReview(body: Obj, user: UserInfo, kind: 'SelfSubjectAccessReview' | 'SubjectAccessReview'): Obj {
    const spec = body['spec'] ?? {};
    const resource = spec['resourceAttributes'];
    const nonResource = spec['nonResourceAttributes'];
    const reviewType = this.type('authorization.k8s.io', kind === 'SelfSubjectAccessReview' ? 'selfsubjectaccessreviews' : 'subjectaccessreviews');
    if (!resource && !nonResource) {
      throw invalid(reviewType, '', [invalidValue('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified')]);
    }
    const subject: UserInfo = kind === 'SelfSubjectAccessReview' ? user : { username: spec['user'] ?? '', groups: spec['groups'] ?? [], uid: spec['uid'] };
    const attributes: Attributes = resource
      ? {
          verb: resource['verb'] ?? '',
          group: resource['group'] ?? '',
          resource: resource['resource'] ?? '',
          ...(resource['subresource'] ? { subresource: resource['subresource'] } : {}),
          ...(resource['namespace'] ? { namespace: resource['namespace'] } : {}),
          ...(resource['name'] ? { name: resource['name'] } : {}),
        }
      : { verb: nonResource['verb'] ?? '', path: nonResource['path'] ?? '' };
    const decision = this.authorize(subject, attributes);
    return {
      kind,
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null, ...(body['metadata']?.['name'] ? { name: body['metadata']['name'] } : {}) },
      spec,
      status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
    };
  }

  /** https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/ */
  tokenRequest(namespace: string, name: string, body: Obj): Obj {
    const account = this.mustGet(this.type('', 'serviceaccounts'), namespace, name);
    const spec = body['spec'] ?? {};
    const expirationSeconds = spec['expirationSeconds'] ?? 3600;
    const requestType = { group: 'authentication.k8s.io', kind: 'TokenRequest' };
    if (typeof expirationSeconds !== 'number' || expirationSeconds < 600) {
      throw invalid(requestType as ResourceType, name, [invalidValue('spec.expirationSeconds', expirationSeconds, 'may not specify a duration less than 10 minutes')]);
    }
    if (expirationSeconds > 2 ** 32) throw invalid(requestType as ResourceType, name, [invalidValue('spec.expirationSeconds', expirationSeconds, 'may not specify a duration larger than 2^32 seconds')]);
    const audiences: string[] = Array.isArray(spec['audiences']) && spec['audiences'].length ? spec['audiences'] : this.options.apiAudiences;
    const now = this.now();
    const claims = boundTokenClaims({ namespace, name, uid: account['metadata']['uid'] }, { issuer: this.options.issuer, audiences, expirationSeconds, now });
    return {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: timestamp(now) },
      spec: { audiences, expirationSeconds, boundObjectRef: spec['boundObjectRef'] ?? null },
      status: { token: this.options.signer.sign(claims), expirationTimestamp: timestamp(now + expirationSeconds * 1000) },
    };
  }
}

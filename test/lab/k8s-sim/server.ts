// HTTPS front end of the simulated API server: authentication (client certificates signed by the
// cluster CA, bearer tokens), RBAC authorization, discovery and the REST paths.
// https://kubernetes.io/docs/reference/using-api/api-concepts/ (paths, verbs, list/Status kinds)
// https://kubernetes.io/docs/reference/using-api/api-concepts/#discovery-api (legacy discovery documents)
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isPlainObject, type Obj } from './fields.js';
import type { Cluster, PatchType } from './cluster.js';
import { forbiddenMessage, type Attributes, type UserInfo } from './rbac.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { ApiError, badRequest, forbidden, methodNotAllowed, notFoundPath, qualifiedResource, unauthorized, unsupportedMediaType } from './status.js';
import { parseYaml } from './yaml.js';
import { toTable, wantsTable, type PrinterColumn } from './table.js';
import type { FaultSwitch } from '../kube/faults.js';

export const KUBERNETES_VERSION = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.5+k3s1',
  gitCommit: 'a2ff8a6a7c5d5a4b6c3ca1b2c2f0a0e9e2b9d1f4',
  gitTreeState: 'clean',
  buildDate: '2026-09-20T10:00:00Z',
  goVersion: 'go1.24.6',
  compiler: 'gc',
  platform: 'linux/arm64',
};

export interface ApiServerOptions {
  cluster: Cluster;
  tls: { caPem: string; certPem: string; keyPem: string };
  /** called with one line per request (method, path, user, code) */
  log?: (line: string) => void;
  /** The fault switch (faults.ts), asked on every request; shared by the servers of one cluster. */
  faults?: FaultSwitch;
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

interface Route {
  group: string;
  version: string;
  namespace?: string;
  plural?: string;
  name?: string;
  subresource?: string;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function parseSelector(selector: string): ((labels: Record<string, string>) => boolean) | null {
  if (!selector) return null;
  const requirements = selector.split(/,(?![^(]*\))/).map((part) => part.trim()).filter(Boolean);
  const tests = requirements.map((requirement): ((labels: Record<string, string>) => boolean) => {
    let match = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(requirement);
    if (match) {
      const values = match[3]!.split(',').map((v) => v.trim());
      const key = match[1]!;
      return match[2] === 'in' ? (l) => key in l && values.includes(l[key]!) : (l) => !(key in l) || !values.includes(l[key]!);
    }
    match = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/.exec(requirement);
    if (match) {
      const [, key, op, value] = match;
      return op === '!=' ? (l) => l[key!] !== value : (l) => l[key!] === value;
    }
    if (requirement.startsWith('!')) return (l) => !(requirement.slice(1) in l);
    if (/^[^\s!=()]+$/.test(requirement)) return (l) => requirement in l;
    throw badRequest(`unable to parse requirement: ${requirement}`);
  });
  return (labels) => tests.every((test) => test(labels));
}

function fieldSelector(selector: string): ((object: Obj) => boolean) | null {
  if (!selector) return null;
  const tests = selector.split(',').map((part) => {
    const match = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!match) throw badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    const [, path, op, value] = match;
    const get = (object: Obj): unknown => path!.split('.').reduce<any>((v, k) => (v === undefined || v === null ? undefined : v[k]), object);
    return (object: Obj) => (op === '!=' ? String(get(object) ?? '') !== value : String(get(object) ?? '') === value);
  });
  return (object) => tests.every((test) => test(object));
}

export function createApiServer(options: ApiServerOptions): Server {
  const { cluster } = options;
  const { faults } = options;
  // Client certificates are optional here as on kube-apiserver (bearer tokens are the other way
  // in), so the TLS layer asks for one without requiring it; a presented certificate that does
  // not chain to the cluster CA is refused below (401), never trusted.
  const server = createServer(
    { cert: options.tls.certPem, key: options.tls.keyPem, ca: options.tls.caPem, requestCert: true, rejectUnauthorized: false },
    (request, response) => {
      // The fault switch comes first: a failing API fails before authentication, as a crashed or
      // overloaded apiserver (or the proxy in front of it) does.
      const served = faults ? faults.current().then((fault) => (fault ? faults.inject(fault, request, response) : false)) : Promise.resolve(false);
      served.then((answered) => (answered ? undefined : handle(request, response))).catch((error: unknown) => {
        const failure = error instanceof ApiError ? error : new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`);
        options.log?.(`${request.method} ${request.url} -> ${failure.code} ${failure.message}`);
        if (!response.headersSent) send(response, failure.code, failure.toStatus());
        else response.end();
      });
    },
  );

  function authenticate(request: IncomingMessage): UserInfo | null {
    const socket = request.socket as TLSSocket;
    const peer = socket.getPeerCertificate?.();
    if (peer && Object.keys(peer).length > 0) {
      if (!socket.authorized) return null;
      const organizations = peer.subject.O === undefined ? [] : Array.isArray(peer.subject.O) ? peer.subject.O : [peer.subject.O];
      const commonName = (Array.isArray(peer.subject.CN) ? peer.subject.CN[0] : peer.subject.CN) ?? '';
      return { username: commonName, groups: [...organizations, 'system:authenticated'] };
    }
    const header = request.headers.authorization;
    if (header && /^bearer\s+/i.test(header)) {
      const result = cluster.authenticateToken(header.replace(/^bearer\s+/i, '').trim());
      return 'user' in result ? result.user : null;
    }
    // --anonymous-auth=false, as K3s runs the API server.
    return null;
  }

  function authorizeOrThrow(user: UserInfo, attributes: Attributes, type?: ResourceType): void {
    const decision = cluster.authorize(user, attributes);
    if (decision.allowed) return;
    const qualified = type ? qualifiedResource(type) : `${attributes.resource}${attributes.group ? `.${attributes.group}` : ''}`;
    throw forbidden(forbiddenMessage(user, attributes, qualified, decision.reason), {
      ...(attributes.name ? { name: attributes.name } : {}),
      ...(attributes.group ? { group: attributes.group } : {}),
      ...(attributes.resource ? { kind: attributes.resource } : {}),
    });
  }

  function discoveryGroups(): Obj {
    const groups = new Map<string, string[]>();
    for (const type of cluster.types()) {
      if (!type.group) continue;
      const versions = groups.get(type.group) ?? [];
      if (!versions.includes(type.version)) versions.push(type.version);
      groups.set(type.group, versions);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => groupDocument(name, versions)),
    };
  }

  function groupDocument(name: string, versions: string[]): Obj {
    const sorted = [...versions].sort((a, b) => versionPriority(b) - versionPriority(a));
    const entries = sorted.map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions: entries, preferredVersion: entries[0] };
  }

  function resourceList(group: string, version: string): Obj | null {
    const types = cluster.types().filter((t) => t.group === group && t.version === version);
    if (types.length === 0) return null;
    const resources: Obj[] = [];
    for (const type of types) {
      resources.push({
        name: type.plural,
        singularName: type.singular,
        namespaced: type.namespaced,
        kind: type.kind,
        verbs: type.verbs,
        ...(type.shortNames ? { shortNames: type.shortNames } : {}),
        ...(type.categories ? { categories: type.categories } : {}),
      });
      if (type.status) resources.push({ name: `${type.plural}/status`, singularName: '', namespaced: type.namespaced, kind: type.kind, verbs: ['get', 'patch', 'update'] });
      if (type.plural === 'serviceaccounts') {
        resources.push({ name: 'serviceaccounts/token', singularName: '', namespaced: true, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] });
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  // OpenAPI v3 (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3): an index
  // of group versions and, per group version, its paths. Schemas are left open; what clients such
  // as kubectl read here is which write operations accept `fieldValidation`, i.e. that the server
  // validates fields itself.
  function groupVersions(): { key: string; group: string; version: string }[] {
    const seen = new Map<string, { key: string; group: string; version: string }>();
    for (const type of cluster.types()) {
      const key = type.group ? `apis/${type.group}/${type.version}` : `api/${type.version}`;
      seen.set(key, { key, group: type.group, version: type.version });
    }
    return [...seen.values()];
  }

  function openApiIndex(): Obj {
    const paths: Obj = {};
    for (const { key } of groupVersions()) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${cluster.currentResourceVersion()}` };
    return { paths };
  }

  function openApiDocument(key: string): Obj | null {
    const entry = groupVersions().find((gv) => gv.key === key);
    if (!entry) return null;
    const queryParameters = ['dryRun', 'fieldManager', 'fieldValidation'].map((name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } }));
    const paths: Obj = {};
    for (const type of cluster.types().filter((t) => t.group === entry.group && t.version === entry.version)) {
      const base = `/${key}${type.namespaced ? '/namespaces/{namespace}' : ''}/${type.plural}`;
      const gvk = { group: type.group, version: type.version, kind: type.kind };
      const operation = (action: string, extra: Obj[] = []) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, parameters: [...queryParameters, ...extra], responses: {} });
      paths[base] = { post: operation('post'), get: { 'x-kubernetes-action': 'list', 'x-kubernetes-group-version-kind': gvk, responses: {} } };
      if (!type.review) {
        paths[`${base}/{name}`] = {
          get: { 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: {} },
          put: operation('put'),
          patch: operation('patch', [{ name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } }]),
          delete: { 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvk, responses: {} },
        };
      }
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion }, paths, components: { schemas: {} } };
  }

  // Watch (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
  // a stream of {"type", "object"} lines. Without a resourceVersion (or with "0") the current
  // objects come first as ADDED; afterwards every change is sent until timeoutSeconds.
  function watch(request: IncomingMessage, response: ServerResponse, type: ResourceType, namespace: string | undefined, query: URLSearchParams): void {
    const labels = parseSelector(query.get('labelSelector') ?? '');
    const fields = fieldSelector(query.get('fieldSelector') ?? '');
    const matches = (object: Obj): boolean =>
      (!namespace || object['metadata']['namespace'] === namespace) && (!labels || labels(object['metadata']['labels'] ?? {})) && (!fields || fields(object));
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    const write = (eventType: string, object: Obj): void => void response.write(`${JSON.stringify({ type: eventType, object })}\n`);
    const since = query.get('resourceVersion');
    if (!since || since === '0') for (const object of cluster.list(type, namespace)) if (matches(object)) write('ADDED', object);
    const onEvent = (event: { type: string; resource: ResourceType; object: Obj }): void => {
      if (event.resource.group !== type.group || event.resource.plural !== type.plural) return;
      if (matches(event.object)) write(event.type, { ...event.object, apiVersion: apiVersionOf(type), kind: type.kind });
    };
    cluster.on('event', onEvent);
    const timeout = setTimeout(() => response.end(), Math.min(Number(query.get('timeoutSeconds') ?? 1800), 1800) * 1000);
    const done = (): void => {
      clearTimeout(timeout);
      cluster.off('event', onEvent);
    };
    response.on('close', done);
    request.on('close', done);
  }

  function parseRoute(segments: string[]): Route | null {
    let group = '';
    let version: string;
    let rest: string[];
    if (segments[0] === 'api') {
      version = segments[1]!;
      rest = segments.slice(2);
    } else {
      group = segments[1]!;
      version = segments[2]!;
      rest = segments.slice(3);
    }
    if (rest.length === 0) return { group, version };
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const candidate = cluster.findType(group, version, rest[2]!);
      if (candidate?.namespaced) return { group, version, namespace: rest[1]!, plural: rest[2]!, ...(rest[3] !== undefined ? { name: rest[3] } : {}), ...(rest[4] !== undefined ? { subresource: rest[4] } : {}) };
      if (group === '' && version === 'v1' && rest.length === 3) return { group, version, plural: 'namespaces', name: rest[1]!, subresource: rest[2]! };
      if (!candidate) return { group, version, namespace: rest[1]!, plural: rest[2]!, ...(rest[3] !== undefined ? { name: rest[3] } : {}) };
    }
    if (rest.length > 3) return null;
    return { group, version, plural: rest[0]!, ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { subresource: rest[2] } : {}) };
  }

  /** The additionalPrinterColumns of the CRD version that serves `type` ([] when it names none). */
  function printerColumnsOf(type: ResourceType): PrinterColumn[] {
    const crd = cluster.get(cluster.type('apiextensions.k8s.io', 'customresourcedefinitions'), undefined, `${type.plural}.${type.group}`);
    const version = (crd?.['spec']?.['versions'] ?? []).find((v: Obj) => v['name'] === type.version);
    return (version?.['additionalPrinterColumns'] ?? []) as PrinterColumn[];
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'https://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = request.method ?? 'GET';
    const user = authenticate(request);
    if (!user) {
      options.log?.(`${method} ${path} -> 401`);
      throw unauthorized();
    }
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    const isResourcePath = (segments[0] === 'api' && segments.length >= 2) || (segments[0] === 'apis' && segments.length >= 3);
    if (!isResourcePath) {
      authorizeOrThrow(user, { verb: method === 'GET' ? 'get' : method.toLowerCase(), path });
      if (method !== 'GET') throw methodNotAllowed();
      options.log?.(`${method} ${path} (${user.username})`);
      if (path === '/version') return send(response, 200, KUBERNETES_VERSION);
      if (['/healthz', '/livez', '/readyz'].includes(path)) {
        response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void response.end('ok');
      }
      if (path === '/api') {
        const address = request.socket.localAddress ?? '127.0.0.1';
        const port = request.socket.localPort ?? 443;
        return send(response, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${address}:${port}` }] });
      }
      if (path === '/apis') return send(response, 200, discoveryGroups());
      if (path === '/openapi/v3') return send(response, 200, openApiIndex());
      if (path.startsWith('/openapi/v3/')) {
        const document = openApiDocument(path.slice('/openapi/v3/'.length));
        if (document) return send(response, 200, document);
      }
      if (segments[0] === 'apis' && segments.length === 2) {
        const group = (discoveryGroups()['groups'] as Obj[]).find((g) => g['name'] === segments[1]);
        if (group) return send(response, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
      }
      throw notFoundPath();
    }

    const route = parseRoute(segments);
    if (!route) throw notFoundPath();
    if (route.plural === undefined) {
      authorizeOrThrow(user, { verb: 'get', path });
      if (method !== 'GET') throw methodNotAllowed();
      const list = resourceList(route.group, route.version);
      if (!list) throw notFoundPath();
      options.log?.(`${method} ${path} (${user.username})`);
      return send(response, 200, list);
    }
    const type = cluster.findType(route.group, route.version, route.plural);
    if (!type) throw notFoundPath();
    if (route.subresource !== undefined) {
      const known = (route.subresource === 'status' && type.status) || (route.subresource === 'token' && type.plural === 'serviceaccounts');
      if (!known || route.name === undefined) throw notFoundPath();
    }
    const query = url.searchParams;
    const verb =
      method === 'GET' ? (route.name === undefined ? (query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list') : 'get')
      : method === 'POST' ? 'create'
      : method === 'PUT' ? 'update'
      : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? (route.name === undefined ? 'deletecollection' : 'delete')
      : '';
    if (!verb) throw methodNotAllowed();
    const attributes: Attributes = {
      verb,
      group: type.group,
      resource: type.plural,
      ...(route.subresource ? { subresource: route.subresource } : {}),
      ...(route.namespace ? { namespace: route.namespace } : {}),
      ...(route.name !== undefined ? { name: route.name } : {}),
    };
    authorizeOrThrow(user, attributes, type);
    if (!type.verbs.includes(verb) && !(route.subresource && ['get', 'update', 'patch', 'create'].includes(verb))) throw methodNotAllowed();
    if (verb === 'watch') return watch(request, response, type, route.namespace, url.searchParams);

    const raw = ['POST', 'PUT', 'PATCH'].includes(method) ? await readBody(request) : Buffer.alloc(0);
    const contentType = (request.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    const parseBody = (): any => {
      if (raw.length === 0) return {};
      if (contentType === 'application/apply-patch+yaml' || contentType === 'application/yaml') {
        try {
          return parseYaml(raw.toString('utf8'));
        } catch (error) {
          throw badRequest(`error decoding YAML: ${(error as Error).message}`);
        }
      }
      if (!contentType.includes('json')) throw unsupportedMediaType(['application/json', 'application/yaml']);
      try {
        return JSON.parse(raw.toString('utf8'));
      } catch (error) {
        throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
      }
    };
    const manager = query.get('fieldManager') ?? defaultManager(request.headers['user-agent']);
    const dryRun = query.get('dryRun') === 'All';
    const name = route.name;
    const ns = route.namespace;
    options.log?.(`${method} ${path}${url.search} (${user.username})`);

    if (type.review) {
      if (verb !== 'create') throw methodNotAllowed();
      const body = parseBody();
      const answer =
        type.review === 'tokenreview' ? cluster.tokenReview(body)
        : cluster.accessReview(body, user, type.review === 'selfsubjectaccessreview' ? 'SelfSubjectAccessReview' : 'SubjectAccessReview');
      return send(response, 201, answer);
    }

    if (route.subresource === 'token') {
      if (verb !== 'create') throw methodNotAllowed();
      return send(response, 201, cluster.tokenRequest(ns!, name!, parseBody()));
    }

    const subresource = route.subresource === 'status' ? ('status' as const) : undefined;
    // kubectl get asks for a Table: custom resources are printed with their CRD's columns.
    const printerColumns = type.custom && !subresource && wantsTable(request.headers['accept']) ? printerColumnsOf(type) : undefined;
    switch (verb) {
      case 'get': {
        const object = cluster.mustGet(type, ns, name!);
        if (printerColumns) return send(response, 200, toTable([object], printerColumns, cluster.currentResourceVersion()));
        return send(response, 200, object);
      }
      case 'list': {
        const labels = parseSelector(query.get('labelSelector') ?? '');
        const fields = fieldSelector(query.get('fieldSelector') ?? '');
        let items = cluster.list(type, ns).filter((o) => (!labels || labels(o['metadata']['labels'] ?? {})) && (!fields || fields(o)));
        const limit = Number(query.get('limit') ?? 0);
        const start = Number(query.get('continue') ? Buffer.from(query.get('continue')!, 'base64').toString('utf8') : 0);
        let next: string | undefined;
        if (limit > 0) {
          if (start + limit < items.length) next = Buffer.from(String(start + limit)).toString('base64');
          items = items.slice(start, start + limit);
        }
        if (printerColumns) return send(response, 200, toTable(items, printerColumns, cluster.currentResourceVersion()));
        // Lists of built-in kinds carry no per-item kind/apiVersion; custom resource lists do.
        if (!type.custom) items = items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
        return send(response, 200, {
          kind: type.listKind,
          apiVersion: apiVersionOf(type),
          metadata: { resourceVersion: cluster.currentResourceVersion(), ...(next ? { continue: next } : {}) },
          items,
        });
      }
      case 'create': {
        if (subresource) throw methodNotAllowed();
        return send(response, 201, cluster.create(type, ns, parseBody(), { manager, dryRun }));
      }
      case 'update':
        return send(response, 200, cluster.replace(type, ns, name!, parseBody(), { manager, dryRun, ...(subresource ? { subresource } : {}) }));
      case 'patch': {
        const patchType = PATCH_TYPES[contentType];
        if (!patchType) throw unsupportedMediaType(Object.keys(PATCH_TYPES));
        const forceParam = query.get('force');
        const force = forceParam === null ? undefined : forceParam === 'true' || forceParam === '1';
        if (patchType === 'apply' && !query.get('fieldManager')) {
          throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
            group: 'meta.k8s.io',
            kind: 'PatchOptions',
            causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
          });
        }
        const result = cluster.patch(type, ns, name!, patchType, parseBody(), { manager, dryRun, ...(subresource ? { subresource } : {}), ...(force !== undefined ? { force } : {}) });
        return send(response, result.created ? 201 : 200, result.object);
      }
      case 'delete': {
        const result = cluster.delete(type, ns, name!, { dryRun });
        return send(response, 200, result.status ?? result.object);
      }
      case 'deletecollection': {
        const labels = parseSelector(query.get('labelSelector') ?? '');
        const victims = cluster.list(type, ns).filter((o) => !labels || labels(o['metadata']['labels'] ?? {}));
        for (const victim of victims) cluster.delete(type, victim['metadata']['namespace'], victim['metadata']['name'], { dryRun });
        return send(response, 200, { kind: type.listKind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: cluster.currentResourceVersion() }, items: victims });
      }
      default:
        throw methodNotAllowed();
    }
  }

  return server;
}

/** kube-apiserver names an unnamed Update manager after the client binary in the User-Agent. */
function defaultManager(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown';
  const head = userAgent.split('/')[0]!.trim();
  return head || 'unknown';
}

/** Kubernetes version priority: GA > beta > alpha, then by numbers (v1 < v2, v1beta2 > v1beta1). */
function versionPriority(version: string): number {
  const match = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(version);
  if (!match) return -1;
  const major = Number(match[1]);
  const level = match[2] === 'alpha' ? 0 : match[2] === 'beta' ? 1 : 2;
  return level * 1_000_000 + major * 1000 + Number(match[3] ?? 0);
}

export function isObject(value: unknown): value is Obj {
  return isPlainObject(value);
}

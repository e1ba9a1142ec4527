// Authorization the way kube-apiserver does it with --authorization-mode=Node,RBAC: members of
// system:masters are allowed everything; everyone else needs an RBAC rule reached through a
// ClusterRoleBinding or a RoleBinding in the request's namespace.
// https://kubernetes.io/docs/reference/access-authn-authz/rbac/
// The default roles and bindings are a subset of the bootstrap policy
// (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings).
import type { Obj } from './fields.js';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface Attributes {
  verb: string;
  /** resource request */
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** non-resource request (e.g. /version) */
  path?: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

export interface RbacSource {
  clusterRoles(): Obj[];
  clusterRoleBindings(): Obj[];
  roles(namespace: string): Obj[];
  roleBindings(namespace: string): Obj[];
}

function subjectMatches(subject: Obj, user: UserInfo): boolean {
  switch (subject['kind']) {
    case 'User':
      return subject['name'] === user.username;
    case 'Group':
      return user.groups.includes(subject['name']);
    case 'ServiceAccount':
      return user.username === `system:serviceaccount:${subject['namespace']}:${subject['name']}`;
    default:
      return false;
  }
}

function ruleAllows(rule: Obj, attributes: Attributes): boolean {
  const verbs: string[] = rule['verbs'] ?? [];
  if (!verbs.includes('*') && !verbs.includes(attributes.verb)) return false;
  if (attributes.path !== undefined) {
    const urls: string[] = rule['nonResourceURLs'] ?? [];
    return urls.some((url) => url === '*' || url === attributes.path || (url.endsWith('*') && attributes.path!.startsWith(url.slice(0, -1))));
  }
  const groups: string[] = rule['apiGroups'] ?? [];
  if (!groups.includes('*') && !groups.includes(attributes.group ?? '')) return false;
  const resources: string[] = rule['resources'] ?? [];
  const wanted = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource!;
  const resourceOk = resources.some(
    (resource) => resource === '*' || resource === wanted || (attributes.subresource !== undefined && resource === `*/${attributes.subresource}`),
  );
  if (!resourceOk) return false;
  const names: string[] = rule['resourceNames'] ?? [];
  return names.length === 0 || (attributes.name !== undefined && names.includes(attributes.name));
}

function describeSubject(subject: Obj): string {
  return subject['kind'] === 'ServiceAccount' ? `ServiceAccount "${subject['name']}/${subject['namespace']}"` : `${subject['kind']} "${subject['name']}"`;
}

export function authorize(source: RbacSource, user: UserInfo, attributes: Attributes): Decision {
  if (user.groups.includes('system:masters')) return { allowed: true, reason: '' };
  const clusterRoles = new Map(source.clusterRoles().map((role) => [role['metadata']['name'] as string, role]));
  for (const binding of source.clusterRoleBindings()) {
    const subject = (binding['subjects'] ?? []).find((s: Obj) => subjectMatches(s, user));
    if (!subject || binding['roleRef']?.['kind'] !== 'ClusterRole') continue;
    const role = clusterRoles.get(binding['roleRef']['name']);
    if ((role?.['rules'] ?? []).some((rule: Obj) => ruleAllows(rule, attributes))) {
      return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${binding['metadata']['name']}" of ClusterRole "${role!['metadata']['name']}" to ${describeSubject(subject)}` };
    }
  }
  if (attributes.namespace && attributes.path === undefined) {
    const roles = new Map(source.roles(attributes.namespace).map((role) => [role['metadata']['name'] as string, role]));
    for (const binding of source.roleBindings(attributes.namespace)) {
      const subject = (binding['subjects'] ?? []).find((s: Obj) => subjectMatches(s, user));
      if (!subject) continue;
      const ref = binding['roleRef'] ?? {};
      const role = ref['kind'] === 'ClusterRole' ? clusterRoles.get(ref['name']) : roles.get(ref['name']);
      if ((role?.['rules'] ?? []).some((rule: Obj) => ruleAllows(rule, attributes))) {
        return {
          allowed: true,
          reason: `RBAC: allowed by RoleBinding "${binding['metadata']['name']}/${attributes.namespace}" of ${ref['kind']} "${ref['name']}" to ${describeSubject(subject)}`,
        };
      }
    }
  }
  return { allowed: false, reason: '' };
}

/** The 403 message kube-apiserver writes for a denied request. */
export function forbiddenMessage(user: UserInfo, attributes: Attributes, qualified: string, reason: string): string {
  const tail = reason ? `: ${reason}` : '';
  if (attributes.path !== undefined) return `forbidden: User "${user.username}" cannot ${attributes.verb} path "${attributes.path}"${tail}`;
  const what = attributes.name ? `${qualified} "${attributes.name}"` : qualified;
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const scope = attributes.namespace ? `in the namespace "${attributes.namespace}"` : 'at the cluster scope';
  return `${what} is forbidden: User "${user.username}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.group ?? ''}" ${scope}${tail}`;
}

const READ = ['get', 'list', 'watch'];

function clusterRole(name: string, rules: Obj[]): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } },
    rules,
  };
}

function clusterRoleBinding(name: string, role: string, subjects: Obj[]): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects,
  };
}

const group = (name: string): Obj => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name });

export function bootstrapPolicy(): Obj[] {
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    clusterRole('system:auth-delegator', [
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]),
    clusterRole('system:basic-user', [
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
    ]),
    clusterRole('system:discovery', [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    clusterRole('system:public-info-viewer', [{ nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    clusterRole('view', [
      { apiGroups: [''], resources: ['configmaps', 'endpoints', 'persistentvolumeclaims', 'pods', 'services', 'serviceaccounts', 'namespaces', 'events'], verbs: READ },
      { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'replicasets', 'statefulsets'], verbs: READ },
    ]),
    clusterRole('edit', [
      { apiGroups: [''], resources: ['configmaps', 'secrets', 'serviceaccounts', 'services', 'pods', 'events'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
    ]),
    clusterRoleBinding('cluster-admin', 'cluster-admin', [group('system:masters')]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
    clusterRoleBinding('system:discovery', 'system:discovery', [group('system:authenticated')]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
  ];
}

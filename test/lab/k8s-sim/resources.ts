// The resource types this API server serves, described the way discovery reports them
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#discovery-api, APIResourceList),
// plus the ones defined by served CustomResourceDefinitions
// (https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/custom-resource-definition-v1/).

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  /** has a /status subresource: status is ignored on the main resource and written only there */
  status: boolean;
  /** increments metadata.generation when anything but metadata and status changes */
  generation: boolean;
  /** create-only review kinds: answered, never stored */
  review?: 'tokenreview' | 'selfsubjectaccessreview' | 'subjectaccessreview';
  /** served from a CRD */
  custom?: boolean;
  storageVersionHash?: string;
}

const CRUD = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version,
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    verbs: CRUD,
    status: false,
    generation: false,
    ...extra,
  };
}

export const BUILTIN_TYPES: ResourceType[] = [
  builtin('', 'v1', 'namespaces', 'Namespace', false, { verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], status: true }),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  builtin('', 'v1', 'secrets', 'Secret', true),
  builtin('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  builtin('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  builtin('apps', 'v1', 'deployments', 'Deployment', true, { shortNames: ['deploy'], categories: ['all'], status: true, generation: true }),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  builtin('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  builtin('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  builtin('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false, { verbs: ['create'], review: 'tokenreview' }),
  builtin('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, { verbs: ['create'], review: 'selfsubjectaccessreview' }),
  builtin('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview', false, { verbs: ['create'], review: 'subjectaccessreview' }),
  builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, { shortNames: ['crd', 'crds'], status: true, generation: true }),
];

/** The resource types a CRD serves (one per served version). */
export function typesFromCrd(crd: any): ResourceType[] {
  const spec = crd?.spec ?? {};
  const names = spec.names ?? {};
  return (spec.versions ?? [])
    .filter((version: any) => version.served)
    .map(
      (version: any): ResourceType => ({
        group: spec.group,
        version: version.name,
        plural: names.plural,
        singular: names.singular ?? String(names.kind ?? '').toLowerCase(),
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        namespaced: spec.scope === 'Namespaced',
        verbs: CRUD,
        ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
        ...(names.categories?.length ? { categories: names.categories } : {}),
        status: Boolean(version.subresources?.status),
        generation: true,
        custom: true,
      }),
    );
}

export function apiVersionOf(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

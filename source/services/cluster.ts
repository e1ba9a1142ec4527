/**
 * The Kubernetes side: a client built from the profile's kubeconfig and context, server-side apply
 * of the manifests in assets/kubernetes/, reads, and an access preflight. @kubernetes/client-node is
 * imported lazily: commands that never touch the cluster never load it.
 *
 * Server-side apply: https://kubernetes.io/docs/reference/using-api/server-side-apply/
 * SelfSubjectAccessReview: https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import type { AgentOptions } from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig, KubernetesObject, KubernetesObjectApi, RequestContext } from '@kubernetes/client-node';
import { readAsset, renderTemplate, type TemplateValues } from '../core/assets.js';
import { UserError } from '../core/errors.js';
import { expandHome } from '../profile/paths.js';
import { bracketed, parseHttpDate, type ClockReading } from '../core/clock.js';
import type { Profile } from '../profile/schema.js';

/** The manager name the cluster records for every field this product applies. */
/**
 * kube-apiserver could not call an admission webhook (its pods not ready, no endpoints, a
 * certificate not yet injected): the request was refused before it reached storage, so it can be
 * sent again once the webhook answers. kube-apiserver says so only in the Status message (reason
 * InternalError, "failed calling webhook \"<name>\""); this type carries it to the steps.
 */
export class AdmissionWebhookError extends UserError {
  constructor(
    readonly webhook: string,
    message: string,
    options: ConstructorParameters<typeof UserError>[1],
  ) {
    super(message, options);
  }
}

export const FIELD_MANAGER = 'picluster-vault-tui';

/**
 * How long one API request may take. client-node sets no timeout of its own (node-fetch without a
 * signal waits forever), so an API server that accepts the connection and never answers would hang
 * the run; none of the calls made here (no watches) legitimately takes this long.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

type ClusterSettings = Profile['cluster'];
type ClientNode = typeof import('@kubernetes/client-node');

/** Identifies one object: what `get`/`exists` take. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** One permission the preflight asks about, e.g. create clusterrolebindings in rbac.authorization.k8s.io. */
export interface AccessCheck {
  verb: string;
  resource: string;
  group: string;
  namespace?: string;
}

export interface ClusterClient {
  readonly kubeconfigPath: string;
  readonly context: string;
  /** The API server address the kubeconfig points at. */
  readonly server: string;
  /** PEM of the cluster CA from the kubeconfig (certificate-authority(-data)), if it names one. */
  readonly caPem: string | undefined;
  /** The kubeconfig could only be read with sudo (K3s's): other programs (helm) cannot read the file. */
  readonly readPrivileged: boolean;
  /** The loaded kubeconfig (credentials included), for a private copy another program can read. */
  exportKubeconfig(): string;
  /** Server-side applies each object in order (fieldManager FIELD_MANAGER unless another is named, force). */
  apply(objects: readonly KubernetesObject[], fieldManager?: string): Promise<KubernetesObject[]>;
  /** The object, or undefined when it does not exist (404). */
  get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined>;
  exists(ref: ObjectRef): Promise<boolean>;
  /** Objects of one kind, all namespaces or one, optionally filtered by a label selector. */
  list<T extends KubernetesObject = KubernetesObject>(apiVersion: string, kind: string, options?: { namespace?: string; labelSelector?: string; fieldSelector?: string }): Promise<T[]>;
  /** Deletes the object (foreground propagation); resolves false when it did not exist. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Throws a UserError naming every denied permission; resolves when all are allowed. */
  requireAccess(checks: readonly AccessCheck[]): Promise<void>;
  /**
   * The API server's clock, as the Date header of its answer to GET /version, bracketed by this
   * machine's clock (source/core/clock.ts); remoteSeconds is NaN when the answer has no usable Date.
   */
  readClock(): Promise<ClockReading>;
}

/** Where K3s writes its admin kubeconfig on a server node (root-only unless K3s was told otherwise). */
export const K3S_KUBECONFIG = '/etc/rancher/k3s/k3s.yaml';

/**
 * The kubeconfig file the profile means: its own, else the first of KUBECONFIG, else ~/.kube/config,
 * else (on a K3s server node, where the tool often runs) K3s's own file.
 */
export function kubeconfigPathFor(settings: ClusterSettings, env: NodeJS.ProcessEnv = process.env, exists: (file: string) => boolean = existsSync): string {
  if (settings.kubeconfig) return path.resolve(expandHome(settings.kubeconfig));
  // KUBECONFIG is a list (':' on Unix); kubectl merges it, the product takes the first file that exists.
  const fromEnv = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((entry) => entry.length > 0);
  const existing = fromEnv.find((file) => exists(file));
  if (existing) return path.resolve(existing);
  if (fromEnv[0]) return path.resolve(fromEnv[0]);
  const home = path.join(env['HOME'] ?? homedir(), '.kube', 'config');
  if (!exists(home) && exists(K3S_KUBECONFIG)) return K3S_KUBECONFIG;
  return home;
}

export interface OpenClusterOptions {
  /**
   * Reads a kubeconfig this user may not read (K3s's is 0600 root): given when the tool runs on the
   * cluster's own host, where it may use sudo. Without it such a file is a UserError with a hint.
   */
  readPrivileged?: (file: string) => Promise<string>;
  /** Per-request timeout (default REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

let clientNode: Promise<ClientNode> | undefined;
function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import('@kubernetes/client-node');
  return clientNode;
}

/**
 * Renders assets/<name> (a YAML template whose placeholders all sit inside double-quoted scalars)
 * and parses its documents. YAML double-quoted scalars escape `\` and `"` exactly like HCL strings,
 * and control characters are refused, so the HCL escaper of the template renderer is the right one:
 * https://yaml.org/spec/1.2.2/#double-quoted-style
 */
export async function renderManifests(name: string, values: TemplateValues): Promise<KubernetesObject[]> {
  const { loadAllYaml } = await loadClientNode();
  const text = renderTemplate(readAsset(name), values, 'hcl', name);
  return loadAllYaml(text).filter((document): document is KubernetesObject => document !== null && typeof document === 'object');
}

export async function openCluster(settings: ClusterSettings, options: OpenClusterOptions = {}): Promise<ClusterClient> {
  const k8s = await loadClientNode();
  const file = kubeconfigPathFor(settings);
  if (!existsSync(file)) {
    throw new UserError(`the kubeconfig ${file} does not exist`, {
      hint: `Set the kubeconfig in the profile (profile set cluster.kubeconfig=FILE) or KUBECONFIG. On a K3s server node it is ${K3S_KUBECONFIG}.`,
    });
  }
  const config = kubeConfigWithTimeout(k8s, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
  let privileged = false;
  try {
    if (readable(file)) config.loadFromFile(file);
    else if (options.readPrivileged) {
      config.loadFromString(await options.readPrivileged(file));
      privileged = true;
    }
    else {
      throw new UserError(`the kubeconfig ${file} is not readable by this user`, {
        hint: file === K3S_KUBECONFIG
          ? `Run the tool on the K3s node itself (it reads ${K3S_KUBECONFIG} with sudo), or copy the file somewhere readable (sudo install -m 600 -o "$USER" ${K3S_KUBECONFIG} ~/.kube/config) and set cluster.kubeconfig.`
          : 'Make it readable by you (chmod/chown), or set cluster.kubeconfig to a copy you can read.',
      });
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`the kubeconfig ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'Check that the file is a kubeconfig (kubectl --kubeconfig FILE config view) and readable by you.',
      cause: error,
    });
  }
  const contextName = settings.context ?? config.getCurrentContext();
  const context = contextName ? config.getContextObject(contextName) : null;
  if (!contextName || !context) {
    const known = config.getContexts().map((entry) => entry.name);
    throw new UserError(
      contextName ? `the kubeconfig ${file} has no context "${contextName}"` : `the kubeconfig ${file} names no current context`,
      { hint: known.length > 0 ? `Set cluster.context in the profile to one of: ${known.join(', ')}.` : 'The file defines no context: take the kubeconfig your cluster gave you.' },
    );
  }
  config.setCurrentContext(contextName);
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new UserError(`the context "${contextName}" in ${file} names the cluster "${context.cluster}", which the file does not define`);
  if (cluster.skipTLSVerify) {
    throw new UserError(`the cluster "${cluster.name}" in ${file} turns TLS verification off (insecure-skip-tls-verify)`, {
      hint: 'Give the cluster its CA (certificate-authority-data) instead; the product never talks to an API it cannot verify.',
    });
  }
  return new KubeClusterClient(k8s, config, file, contextName, cluster.server, caPemOf(cluster), privileged, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
}

/**
 * A KubeConfig whose every request is aborted after `timeoutMs` and verified against the cluster's
 * CA whatever the environment says. client-node applies the kubeconfig (credentials, CA) to each
 * request it sends, from every API client made from it, right before sending: the one place a
 * per-request signal reaches them all.
 *
 * client-node 1.x leaves `rejectUnauthorized` unset unless the kubeconfig skips verification, so
 * NODE_TLS_REJECT_UNAUTHORIZED=0 would send the kubeconfig's bearer token to any server. Every
 * agent it makes (API calls, and the https options of watch/exec) comes from createAgent: forcing
 * the option there covers them all. insecure-skip-tls-verify is refused before any request.
 */
function kubeConfigWithTimeout(k8s: ClientNode, timeoutMs: number): KubeConfig {
  const config = new (class extends k8s.KubeConfig {
    override async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await super.applySecurityAuthentication(context);
      context.setSignal(AbortSignal.timeout(timeoutMs));
    }
  })();
  // createAgent is private in client-node's typings, hence the cast; a release that renames it must
  // fail here rather than quietly leave verification to the environment.
  const factory = config as unknown as { createAgent: (cluster: unknown, agentOptions: AgentOptions) => unknown };
  const inherited = factory.createAgent;
  if (typeof inherited !== 'function') {
    throw new Error('@kubernetes/client-node no longer builds its agents in KubeConfig.createAgent: TLS verification cannot be forced on');
  }
  factory.createAgent = (cluster, agentOptions) => inherited.call(config, cluster, { ...agentOptions, rejectUnauthorized: true });
  return config;
}

function caPemOf(cluster: { caData?: string; caFile?: string }): string | undefined {
  if (cluster.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (cluster.caFile && existsSync(cluster.caFile)) return readFileSync(cluster.caFile, 'utf8');
  return undefined;
}

class KubeClusterClient implements ClusterClient {
  private readonly objects: KubernetesObjectApi;

  constructor(
    private readonly k8s: ClientNode,
    private readonly config: KubeConfig,
    readonly kubeconfigPath: string,
    readonly context: string,
    readonly server: string,
    readonly caPem: string | undefined,
    readonly readPrivileged: boolean,
    private readonly requestTimeoutMs: number,
  ) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(config);
  }

  exportKubeconfig(): string {
    return this.config.exportConfig();
  }

  async apply(objects: readonly KubernetesObject[], fieldManager: string = FIELD_MANAGER): Promise<KubernetesObject[]> {
    const applied: KubernetesObject[] = [];
    for (const object of objects) {
      try {
        // force: this product owns these objects; a field someone changed by hand is taken back.
        applied.push(await this.objects.patch(object, undefined, undefined, fieldManager, true, this.k8s.PatchStrategy.ServerSideApply));
      } catch (error) {
        throw this.userError(error, `applying ${describeObject(object)}`);
      }
    }
    return applied;
  }

  async get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.objects.read<T>({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } });
    } catch (error) {
      if ((error instanceof this.k8s.ApiException && error.code === 404) || isUnservedKind(error)) return undefined;
      throw this.userError(error, `reading ${describeRef(ref)}`);
    }
  }

  async exists(ref: ObjectRef): Promise<boolean> {
    return (await this.get(ref)) !== undefined;
  }

  async list<T extends KubernetesObject = KubernetesObject>(apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<T[]> {
    try {
      const answer = await this.objects.list<T>(apiVersion, kind, options.namespace, undefined, undefined, undefined, options.fieldSelector, options.labelSelector);
      return answer.items;
    } catch (error) {
      // A kind the server does not serve (CRDs not installed) is an empty list, not a failure.
      if (error instanceof this.k8s.ApiException && error.code === 404) return [];
      if (isUnservedKind(error)) return [];
      throw this.userError(error, `listing ${kind} objects`);
    }
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      const spec = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } };
      await this.objects.delete(spec, undefined, undefined, undefined, undefined, 'Foreground');
      return true;
    } catch (error) {
      if (error instanceof this.k8s.ApiException && error.code === 404) return false;
      throw this.userError(error, `deleting ${describeRef(ref)}`);
    }
  }

  async readClock(): Promise<ClockReading> {
    const api = this.config.makeApiClient(this.k8s.VersionApi);
    try {
      // One request first, so that the bracket below holds no TCP or TLS handshake.
      await api.getCode();
      const { value: answer, sentAtMs, receivedAtMs } = await bracketed(() => api.getCodeWithHttpInfo());
      return { remoteSeconds: parseHttpDate(answer.headers['date'] ?? answer.headers['Date']) ?? Number.NaN, sentAtMs, receivedAtMs };
    } catch (error) {
      throw this.userError(error, 'reading the API server\'s version and clock');
    }
  }

  async requireAccess(checks: readonly AccessCheck[]): Promise<void> {
    const api = this.config.makeApiClient(this.k8s.AuthorizationV1Api);
    const denied: string[] = [];
    for (const check of checks) {
      let review;
      try {
        review = await api.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { verb: check.verb, resource: check.resource, group: check.group, ...(check.namespace ? { namespace: check.namespace } : {}) } } },
        });
      } catch (error) {
        throw this.userError(error, 'asking the API what this user may do');
      }
      if (!review.status?.allowed) denied.push(describeAccess(check));
    }
    if (denied.length > 0) {
      throw new UserError(`the context "${this.context}" may not ${denied.join('; ')}`, {
        hint: 'Use a kubeconfig context with cluster-admin rights for the setup (on K3s: /etc/rancher/k3s/k3s.yaml), or grant these permissions.',
      });
    }
  }

  /** Maps client-node failures to what the user can act on. */
  private userError(error: unknown, doing: string): UserError {
    if (error instanceof UserError) return error;
    if (error instanceof this.k8s.ApiException) {
      const message = statusMessage(error.body) ?? `HTTP ${error.code}`;
      if (error.code === 401) {
        return new UserError(`the Kubernetes API at ${this.server} refused the credentials of context "${this.context}" while ${doing}`, {
          hint: 'The kubeconfig user\'s certificate or token is wrong or expired: take a fresh kubeconfig from the cluster.',
          cause: error,
        });
      }
      const webhook = error.code === 500 ? /failed calling webhook "([^"]+)"/.exec(message)?.[1] : undefined;
      if (webhook) {
        return new AdmissionWebhookError(webhook, `the admission webhook ${webhook} did not answer the Kubernetes API while ${doing}: ${message}`, {
          hint: `The webhook's pods must be running and listed as its Service's endpoints: kubectl get validatingwebhookconfigurations, then kubectl -n <its namespace> get pods,endpoints (right after an install this takes a few seconds).`,
          cause: error,
        });
      }
      if (error.code === 403) {
        return new UserError(`forbidden while ${doing}: ${message}`, {
          hint: `Use a kubeconfig context with cluster-admin rights (context now: "${this.context}").`,
          cause: error,
        });
      }
      return new UserError(`the Kubernetes API at ${this.server} answered ${error.code} while ${doing}: ${message}`, {
        ...(error.code >= 500 || error.code === 429
          ? { hint: 'The API server could not handle the request (restarting or overloaded?): check it (kubectl get --raw=\'/readyz?verbose\'), then run the same command again; finished steps are not redone.' }
          : {}),
        cause: error,
      });
    }
    // node-fetch's AbortError: only the per-request timeout aborts these requests.
    if (error instanceof Error && error.name === 'AbortError') {
      return new UserError(`the Kubernetes API at ${this.server} did not answer within ${Math.round(this.requestTimeoutMs / 1000)} s while ${doing}`, {
        hint: 'The API server accepted the connection but sent no answer (overloaded, or the network drops packets): check the cluster (kubectl get --raw=\'/readyz?verbose\'), then run the same command again; finished steps are not redone.',
        cause: error,
      });
    }
    const code = networkCode(error);
    if (code) {
      const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
      return new UserError(`the Kubernetes API at ${this.server} ${certificate ? 'presented a certificate the kubeconfig CA does not verify' : 'did not answer'} (${code}) while ${doing}`, {
        hint: certificate
          ? 'The kubeconfig\'s certificate-authority-data must be the cluster CA, and the server address must be one of the certificate\'s names.'
          : 'Check that the cluster is running and that this machine reaches the server address in the kubeconfig.',
        cause: error,
      });
    }
    return new UserError(`${doing} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** client-node's answer when the group version is served but has no such kind (CRD not installed). */
function isUnservedKind(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('Unrecognized API version and kind');
}

/** The `message` of a Kubernetes Status body (client-node hands it over as a string or an object). */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') return (parsed as { message: string }).message;
  return undefined;
}

/** The errno-style code of a network/TLS failure, looking through `cause` chains (fetch wraps them). */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|ERR_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_[A-Z_]+)$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function describeObject(object: KubernetesObject): string {
  return describeRef({ apiVersion: object.apiVersion ?? '?', kind: object.kind ?? '?', name: object.metadata?.name ?? '?', ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}) });
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function describeAccess(check: AccessCheck): string {
  const resource = check.group ? `${check.resource}.${check.group}` : check.resource;
  return `${check.verb} ${resource}${check.namespace ? ` in namespace ${check.namespace}` : ''}`;
}

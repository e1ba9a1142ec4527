// The lab's `helm`: the Helm 3 commands the product runs, answering as Helm does
// (https://helm.sh/docs/helm/), with one chart in an offline repository —
// external-secrets/external-secrets from https://charts.external-secrets.io. "Installing" applies
// the chart's objects to the cluster in the kubeconfig over its API and records the release the
// way Helm's secret storage driver does (Secret sh.helm.release.v1.<name>.v<revision>, type
// helm.sh/release.v1, data.release = base64(gzip(JSON))): https://helm.sh/docs/topics/advanced/#storage-backends
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { esoChartManifests, ESO_CHART, ESO_NOTES } from '../k8s-sim/eso-chart.js';
import { parseYaml, stringifyYaml } from '../k8s-sim/yaml.js';
import { HelmError, kubeRequest, loadKubeconfig, statusMessage, type KubeTarget } from './kube.js';

const HELM_VERSION = { version: 'v3.19.0', commit: '3d8990f0836691f0229297773f3524598f46bda6', go: 'go1.24.7' };
const FIELD_MANAGER = 'helm';

type Flags = Record<string, string | boolean | string[]>;

/** Flags each command accepts: name -> takes a value. Global flags apply everywhere. */
const GLOBAL_FLAGS: Record<string, boolean> = { kubeconfig: true, 'kube-context': true, namespace: true, debug: false, help: false, 'repository-config': true, 'repository-cache': true, 'burst-limit': true, 'kube-apiserver': true };
const COMMAND_FLAGS: Record<string, Record<string, boolean>> = {
  version: { short: false, template: true, client: false },
  'repo add': { 'force-update': false, username: true, password: true, 'pass-credentials': false },
  'repo update': { fail_on_repo_update_fail: false },
  'repo list': { output: true },
  upgrade: {
    install: false, 'create-namespace': false, wait: false, 'wait-for-jobs': false, timeout: true, version: true, set: true, 'set-string': true, values: true, atomic: false, 'reset-values': false,
    'reuse-values': false, 'dry-run': false, description: true, 'skip-crds': false, 'cleanup-on-fail': false, output: true, force: false, 'history-max': true,
  },
  install: { 'create-namespace': false, wait: false, 'wait-for-jobs': false, timeout: true, version: true, set: true, 'set-string': true, values: true, atomic: false, 'dry-run': false, description: true, 'skip-crds': false, output: true },
  status: { output: true, revision: true, 'show-desc': false, 'show-resources': false },
  list: { 'all-namespaces': false, output: true, short: false, all: false, deployed: false, failed: false, filter: true, 'no-headers': false },
  ls: { 'all-namespaces': false, output: true, short: false, all: false, deployed: false, failed: false, filter: true, 'no-headers': false },
  uninstall: { wait: false, timeout: true, 'keep-history': false, 'dry-run': false, 'ignore-not-found': false },
};
const SHORT: Record<string, string> = { n: 'namespace', i: 'install', f: 'values', o: 'output', A: 'all-namespaces', q: 'short', h: 'help', a: 'all' };

function flagName(arg: string): { name: string | undefined; value: string | undefined } {
  if (arg.startsWith('--')) {
    const [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    return { name, value };
  }
  if (arg.startsWith('-') && arg.length > 1) {
    const name = SHORT[arg[1]!];
    if (!name) throw new HelmError(`unknown shorthand flag: '${arg[1]}' in ${arg}`);
    return { name, value: arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined };
  }
  return { name: undefined, value: undefined };
}

/** Cobra-style parsing: flags anywhere; a value flag without "=" takes the next argument. */
function parseArgs(argv: string[]): { command: string; args: string[]; flags: Flags } {
  // Find the command first; any flag that takes a value in some command skips its argument.
  const takesValue = (name: string): boolean => GLOBAL_FLAGS[name] === true || Object.values(COMMAND_FLAGS).some((flags) => flags[name] === true);
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const { name, value } = flagName(argv[i]!);
    if (name === undefined) words.push(argv[i]!);
    else if (value === undefined && takesValue(name)) i++;
  }
  const command = words[0] === 'repo' ? `repo ${words[1] ?? ''}`.trim() : (words[0] ?? '');
  const known = { ...GLOBAL_FLAGS, ...(COMMAND_FLAGS[command] ?? {}) };
  const flags: Flags = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let { name, value } = flagName(arg);
    if (name === undefined) {
      positional.push(arg);
      continue;
    }
    if (!(name in known)) throw new HelmError(`unknown flag: --${name}`);
    if (known[name]) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new HelmError(`flag needs an argument: --${name}`);
      }
      const previous = flags[name];
      flags[name] = ['set', 'set-string', 'values'].includes(name) ? [...((previous as string[]) ?? []), value] : value;
    } else flags[name] = value === undefined ? true : value !== 'false';
  }
  return { command, args: positional.slice(command ? command.split(' ').length : 0), flags };
}

// ---- repositories (https://helm.sh/docs/helm/helm_repo/) -------------------------------------

function helmPaths(flags: Flags): { repositories: string; cache: string } {
  const config = process.env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  const cache = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return {
    repositories: (flags['repository-config'] as string) || process.env['HELM_REPOSITORY_CONFIG'] || join(config, 'helm', 'repositories.yaml'),
    cache: (flags['repository-cache'] as string) || process.env['HELM_REPOSITORY_CACHE'] || join(cache, 'helm', 'repository'),
  };
}

interface RepoEntry {
  name: string;
  url: string;
}

function readRepositories(path: string): RepoEntry[] {
  if (!existsSync(path)) return [];
  const doc = parseYaml(readFileSync(path, 'utf8')) as { repositories?: RepoEntry[] } | null;
  return doc?.repositories ?? [];
}

function writeRepositories(path: string, repositories: RepoEntry[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const doc = {
    apiVersion: '',
    generated: '0001-01-01T00:00:00Z',
    repositories: repositories.map((r) => ({ caFile: '', certFile: '', insecure_skip_tls_verify: false, keyFile: '', name: r.name, pass_credentials_all: false, password: '', url: r.url, username: '' })),
  };
  writeFileSync(path, stringifyYaml(doc), { mode: 0o644 });
}

function repositoryIndex(): string {
  // The index a real `helm repo update` would fetch, reduced to the versions the lab offers.
  const entries = [...ESO_CHART.versions].reverse().map((version) => ({
    apiVersion: 'v2',
    appVersion: `v${version}`,
    description: ESO_CHART.description,
    name: ESO_CHART.name,
    type: 'application',
    urls: [`https://github.com/external-secrets/external-secrets/releases/download/helm-chart-${version}/external-secrets-${version}.tgz`],
    version,
  }));
  return stringifyYaml({ apiVersion: 'v1', entries: { [ESO_CHART.name]: entries }, generated: new Date().toISOString() });
}

function fetchIndex(repo: RepoEntry, cacheDir: string): void {
  if (repo.url.replace(/\/+$/, '') !== ESO_CHART.repoUrl) {
    const { hostname } = new URL(repo.url);
    throw new HelmError(`looks like "${repo.url}" is not a valid chart repository or cannot be reached: Get "${repo.url.replace(/\/+$/, '')}/index.yaml": dial tcp: lookup ${hostname}: no such host`);
  }
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(join(cacheDir, `${repo.name}-index.yaml`), repositoryIndex());
  writeFileSync(join(cacheDir, `${repo.name}-charts.txt`), `${ESO_CHART.name}\n`);
}

// ---- releases ----------------------------------------------------------------------------------

interface Release {
  name: string;
  namespace: string;
  version: number;
  info: { first_deployed: string; last_deployed: string; deleted: string; description: string; status: string; notes: string };
  chart: { metadata: { name: string; version: string; appVersion: string; apiVersion: string; description: string } };
  config: Record<string, unknown>;
  manifest: string;
}

const releaseSecretName = (name: string, revision: number): string => `sh.helm.release.v1.${name}.v${revision}`;

async function loadReleases(target: KubeTarget, namespace: string | undefined): Promise<Release[]> {
  const path = `${namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}` : '/api/v1'}/secrets?labelSelector=${encodeURIComponent('owner=helm')}`;
  const response = await kubeRequest(target, 'GET', path);
  if (response.status !== 200) throw new HelmError(`list: failed to list: ${statusMessage(response)}`);
  return (response.body.items as any[])
    .filter((secret) => secret.type === 'helm.sh/release.v1')
    .map((secret) => JSON.parse(gunzipSync(Buffer.from(Buffer.from(secret.data.release, 'base64').toString('utf8'), 'base64')).toString('utf8')) as Release);
}

async function saveRelease(target: KubeTarget, release: Release): Promise<void> {
  const encoded = gzipSync(Buffer.from(JSON.stringify(release))).toString('base64');
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: releaseSecretName(release.name, release.version),
      namespace: release.namespace,
      labels: { name: release.name, owner: 'helm', status: release.info.status, version: String(release.version), modifiedAt: String(Math.floor(Date.now() / 1000)) },
    },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(encoded).toString('base64') },
  };
  const path = `/api/v1/namespaces/${encodeURIComponent(release.namespace)}/secrets`;
  const existing = await kubeRequest(target, 'GET', `${path}/${body.metadata.name}`);
  const response = existing.status === 200 ? await kubeRequest(target, 'PUT', `${path}/${body.metadata.name}`, body) : await kubeRequest(target, 'POST', path, body);
  if (response.status >= 300) throw new HelmError(`failed to record the release: ${statusMessage(response)}`);
}

/** Go's time.ANSIC in local time, as `helm status` prints LAST DEPLOYED. */
function ansic(iso: string): string {
  const d = new Date(iso);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getFullYear()}`;
}

/** Go's default time.Time String(): "2006-01-02 15:04:05.999999999 -0700 MST" (UTC here). */
function goTime(iso: string): string {
  const d = new Date(iso);
  return `${d.toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000000')} +0000 UTC`;
}

function printRelease(release: Release, out: (line: string) => void): void {
  out(`NAME: ${release.name}`);
  out(`LAST DEPLOYED: ${ansic(release.info.last_deployed)}`);
  out(`NAMESPACE: ${release.namespace}`);
  out(`STATUS: ${release.info.status}`);
  out(`REVISION: ${release.version}`);
  out('TEST SUITE: None');
  if (release.info.notes) {
    out('NOTES:');
    for (const line of release.info.notes.replace(/\n$/, '').split('\n')) out(line);
  }
}

function parseSetValues(sets: string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const set of sets) {
    for (const assignment of set.split(/,(?=[^,=]+=)/)) {
      const eq = assignment.indexOf('=');
      if (eq < 0) throw new HelmError(`failed parsing --set data: key "${assignment}" has no value`);
      const key = assignment.slice(0, eq);
      const raw = assignment.slice(eq + 1);
      const value = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+$/.test(raw) ? Number(raw) : raw === 'null' ? null : raw;
      const parts = key.split('.');
      let node = values;
      for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[parts[parts.length - 1]!] = value;
    }
  }
  return values;
}

function parseTimeout(text: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== text.length || !text) throw new HelmError(`invalid argument "${text}" for "--timeout" flag: time: invalid duration "${text}"`);
  return total;
}

const KIND_PATHS: Record<string, { group: string; version: string; plural: string; namespaced: boolean }> = {
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
};

function objectPath(manifest: any): string {
  const kind = KIND_PATHS[manifest.kind];
  if (!kind) throw new HelmError(`unable to recognize "": no matches for kind "${manifest.kind}" in version "${manifest.apiVersion}"`);
  const prefix = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
  return `${prefix}${kind.namespaced ? `/namespaces/${encodeURIComponent(manifest.metadata.namespace)}` : ''}/${kind.plural}/${encodeURIComponent(manifest.metadata.name)}`;
}

function describeObject(manifest: any): string {
  return `${manifest.kind} "${manifest.metadata.name}" in namespace "${manifest.metadata.namespace ?? ''}"`;
}

async function upgradeInstall(target: KubeTarget, name: string, chartRef: string, namespace: string, flags: Flags, install: boolean, out: (l: string) => void, forceInstallCommand: boolean): Promise<void> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 53) {
    throw new HelmError(`release name "${name}": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53`);
  }
  const paths = helmPaths(flags);
  const [repoName, chartName] = chartRef.includes('/') ? chartRef.split('/', 2) as [string, string] : [undefined, chartRef];
  if (!repoName) throw new HelmError(`repo ${chartRef} not found`);
  const repo = readRepositories(paths.repositories).find((r) => r.name === repoName);
  if (!repo) throw new HelmError(`repo ${repoName} not found`);
  if (chartName !== ESO_CHART.name) throw new HelmError(`chart "${chartName}" not found in ${repoName} index. (try 'helm repo update'): no chart name found`);
  const wanted = flags['version'] as string | undefined;
  const chartVersion = wanted ? ESO_CHART.versions.find((v) => v === wanted.replace(/^v/, '')) : ESO_CHART.latest;
  if (!chartVersion) throw new HelmError(`chart "${chartName}" matching ${wanted} not found in ${repoName} index. (try 'helm repo update'): no chart version found for ${chartName}-${wanted}`);

  // Reachability first, as helm's kube client does (GET /version).
  const version = await kubeRequest(target, 'GET', '/version');
  if (version.status === 401) throw new HelmError('Kubernetes cluster unreachable: the server has asked for the client to provide credentials');
  if (version.status !== 200) throw new HelmError(`Kubernetes cluster unreachable: ${statusMessage(version)}`);

  const history = (await loadReleases(target, namespace)).filter((r) => r.name === name).sort((a, b) => a.version - b.version);
  const deployed = history.filter((r) => r.info.status === 'deployed');
  const failedPrefix = history.length && !forceInstallCommand ? 'UPGRADE FAILED' : 'INSTALLATION FAILED';
  if (forceInstallCommand && history.some((r) => r.info.status !== 'uninstalled')) throw new HelmError(`INSTALLATION FAILED: cannot re-use a name that is still in use`);
  if (!install && history.length === 0) throw new HelmError(`UPGRADE FAILED: "${name}" has no deployed releases`);
  const isInstall = history.length === 0 || history.every((r) => r.info.status === 'uninstalled');
  if (isInstall && !forceInstallCommand) out(`Release "${name}" does not exist. Installing it now.`);

  const nsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  const ns = await kubeRequest(target, 'GET', nsPath);
  if (ns.status === 404) {
    if (!flags['create-namespace']) throw new HelmError(`${isInstall ? 'INSTALLATION FAILED: ' : ''}create: failed to create: namespaces "${namespace}" not found`);
    const created = await kubeRequest(target, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { name: namespace } } });
    if (created.status >= 300 && created.status !== 409) throw new HelmError(`${failedPrefix}: ${statusMessage(created)}`);
  } else if (ns.status !== 200) throw new HelmError(`${failedPrefix}: ${statusMessage(ns)}`);

  const values = { installCRDs: true, ...parseSetValues([...((flags['set'] as string[]) ?? []), ...((flags['set-string'] as string[]) ?? [])]) };
  for (const file of (flags['values'] as string[]) ?? []) {
    if (!existsSync(file)) throw new HelmError(`open ${file}: no such file or directory`);
    Object.assign(values, parseYaml(readFileSync(file, 'utf8')) ?? {});
  }
  const manifests = esoChartManifests({ namespace, release: name, chartVersion, installCRDs: values.installCRDs !== false && !flags['skip-crds'] });
  for (const manifest of manifests) {
    manifest.metadata.labels = { ...(manifest.metadata.labels ?? {}), 'app.kubernetes.io/managed-by': 'Helm' };
    manifest.metadata.annotations = { ...(manifest.metadata.annotations ?? {}), 'meta.helm.sh/release-name': name, 'meta.helm.sh/release-namespace': namespace };
    if (manifest.kind === 'CustomResourceDefinition') manifest.metadata.annotations['helm.sh/resource-policy'] = 'keep';
  }

  // Objects that exist but belong to nobody (or another release) are not adopted, as in Helm 3.
  for (const manifest of manifests) {
    const existing = await kubeRequest(target, 'GET', objectPath(manifest));
    if (existing.status !== 200) continue;
    const annotations = existing.body.metadata?.annotations ?? {};
    const labels = existing.body.metadata?.labels ?? {};
    const problems: string[] = [];
    if (labels['app.kubernetes.io/managed-by'] !== 'Helm') problems.push(`label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"`);
    if (annotations['meta.helm.sh/release-name'] !== name) {
      problems.push(annotations['meta.helm.sh/release-name'] === undefined ? `annotation validation error: missing key "meta.helm.sh/release-name": must be set to "${name}"` : `annotation validation error: key "meta.helm.sh/release-name" must equal "${name}": current value is "${annotations['meta.helm.sh/release-name']}"`);
    }
    if (annotations['meta.helm.sh/release-namespace'] !== namespace) {
      problems.push(annotations['meta.helm.sh/release-namespace'] === undefined ? `annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "${namespace}"` : `annotation validation error: key "meta.helm.sh/release-namespace" must equal "${namespace}": current value is "${annotations['meta.helm.sh/release-namespace']}"`);
    }
    if (problems.length) {
      const verb = isInstall ? 'install' : 'update';
      throw new HelmError(`${isInstall ? 'INSTALLATION FAILED' : 'UPGRADE FAILED'}: Unable to continue with ${verb}: ${describeObject(manifest)} exists and cannot be imported into the current release: invalid ownership metadata; ${problems.join('; ')}`);
    }
  }

  if (flags['dry-run']) {
    out(`NAME: ${name}`);
    out('STATUS: pending-install');
    return;
  }
  for (const manifest of manifests) {
    const response = await kubeRequest(target, 'PATCH', `${objectPath(manifest)}?fieldManager=${FIELD_MANAGER}&force=true`, manifest, 'application/apply-patch+yaml');
    if (response.status >= 300) throw new HelmError(`${failedPrefix}: failed to create resource: ${statusMessage(response)}`);
    if (manifest.kind === 'CustomResourceDefinition') {
      // Helm waits for CRDs to be established before it creates anything that may use them.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const crd = await kubeRequest(target, 'GET', objectPath(manifest));
        if ((crd.body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True')) break;
        if (Date.now() > deadline) throw new HelmError(`${failedPrefix}: context deadline exceeded`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  const now = new Date().toISOString();
  const revision = (history[history.length - 1]?.version ?? 0) + 1;
  const release: Release = {
    name,
    namespace,
    version: revision,
    info: {
      first_deployed: history[0]?.info.first_deployed ?? now,
      last_deployed: now,
      deleted: '',
      description: isInstall ? 'Install complete' : 'Upgrade complete',
      status: 'deployed',
      notes: ESO_NOTES(namespace, name),
    },
    chart: { metadata: { name: ESO_CHART.name, version: chartVersion, appVersion: `v${chartVersion}`, apiVersion: 'v2', description: ESO_CHART.description } },
    config: values,
    manifest: manifests.map((m) => `---\n${stringifyYaml(m)}`).join(''),
  };

  if (flags['wait'] || flags['atomic']) {
    const timeout = parseTimeout((flags['timeout'] as string) ?? '5m0s');
    const deadline = Date.now() + timeout;
    for (;;) {
      const states = await Promise.all(manifests.filter((m) => m.kind === 'Deployment').map((m) => kubeRequest(target, 'GET', objectPath(m))));
      const ready = states.every((s) => {
        const d = s.body;
        return s.status === 200 && (d.status?.observedGeneration ?? 0) >= d.metadata.generation && (d.status?.readyReplicas ?? 0) >= (d.spec?.replicas ?? 1);
      });
      if (ready) break;
      if (Date.now() > deadline) {
        release.info.status = 'failed';
        release.info.description = `Release "${name}" failed: context deadline exceeded`;
        await saveRelease(target, release);
        throw new HelmError(`${failedPrefix}: context deadline exceeded`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  for (const previous of deployed) {
    previous.info.status = 'superseded';
    await saveRelease(target, previous);
  }
  await saveRelease(target, release);
  if (!isInstall) out(`Release "${name}" has been upgraded. Happy Helming!`);
  printRelease(release, out);
}

async function uninstall(target: KubeTarget, name: string, namespace: string, flags: Flags, out: (l: string) => void): Promise<void> {
  const history = (await loadReleases(target, namespace)).filter((r) => r.name === name && r.info.status !== 'uninstalled').sort((a, b) => a.version - b.version);
  const latest = history[history.length - 1];
  if (!latest) {
    if (flags['ignore-not-found']) return;
    throw new HelmError(`uninstall: Release not loaded: ${name}: release: not found`);
  }
  const manifests = latest.manifest.split(/^---\n/m).filter(Boolean).map((doc) => parseYaml(doc) as any);
  const kept: string[] = [];
  for (const manifest of manifests.reverse()) {
    if (manifest.metadata.annotations?.['helm.sh/resource-policy'] === 'keep') {
      kept.push(`[${manifest.kind}] ${manifest.metadata.name}`);
      continue;
    }
    const response = await kubeRequest(target, 'DELETE', objectPath(manifest));
    if (response.status >= 300 && response.status !== 404) throw new HelmError(`uninstallation completed with 1 error(s): ${statusMessage(response)}`);
  }
  for (const release of history) {
    const response = await kubeRequest(target, 'DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${releaseSecretName(release.name, release.version)}`);
    if (response.status >= 300 && response.status !== 404) throw new HelmError(`uninstall: ${statusMessage(response)}`);
  }
  if (kept.length) out(`These resources were kept due to the resource policy:\n${kept.reverse().join('\n')}\n`);
  out(`release "${name}" uninstalled`);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('\t').trimEnd());
}

export async function main(argv: string[], out: (line: string) => void): Promise<number> {
  const { command, args, flags } = parseArgs(argv);
  const namespace = (flags['namespace'] as string) || process.env['HELM_NAMESPACE'] || '';
  const kube = (): KubeTarget => {
    const target = loadKubeconfig((flags['kubeconfig'] as string) || process.env['HELM_KUBECONTEXT_FILE'], (flags['kube-context'] as string) || process.env['HELM_KUBECONTEXT']);
    if (flags['kube-apiserver']) target.server = flags['kube-apiserver'] as string;
    return target;
  };
  const namespaceOf = (target: KubeTarget): string => namespace || target.namespace || 'default';
  const expectArgs = (count: number, usage: string): void => {
    if (args.length !== count) throw new HelmError(`"helm ${command}" requires ${count} argument${count === 1 ? '' : 's'}\n\nUsage:  ${usage}`);
  };

  switch (command) {
    case 'version': {
      if (flags['template']) out(String(flags['template']).replace(/\{\{\s*\.Version\s*\}\}/g, HELM_VERSION.version).replace(/\{\{\s*\.GitCommit\s*\}\}/g, HELM_VERSION.commit).replace(/\{\{\s*\.GoVersion\s*\}\}/g, HELM_VERSION.go));
      else if (flags['short']) out(`${HELM_VERSION.version}+g${HELM_VERSION.commit.slice(0, 7)}`);
      else out(`version.BuildInfo{Version:"${HELM_VERSION.version}", GitCommit:"${HELM_VERSION.commit}", GitTreeState:"clean", GoVersion:"${HELM_VERSION.go}"}`);
      return 0;
    }
    case 'repo add': {
      expectArgs(2, 'helm repo add [NAME] [URL] [flags]');
      const [name, url] = args as [string, string];
      const paths = helmPaths(flags);
      const repositories = readRepositories(paths.repositories);
      const existing = repositories.find((r) => r.name === name);
      if (existing && !flags['force-update']) {
        if (existing.url === url) {
          out(`"${name}" already exists with the same configuration, skipping`);
          return 0;
        }
        throw new HelmError(`repository name (${name}) already exists, please specify a different name`);
      }
      fetchIndex({ name, url }, paths.cache);
      writeRepositories(paths.repositories, [...repositories.filter((r) => r.name !== name), { name, url }]);
      out(`"${name}" has been added to your repositories`);
      return 0;
    }
    case 'repo update': {
      const paths = helmPaths(flags);
      const repositories = readRepositories(paths.repositories).filter((r) => args.length === 0 || args.includes(r.name));
      if (repositories.length === 0) throw new HelmError('no repositories found. You must add one before updating');
      out('Hang tight while we grab the latest from your chart repositories...');
      for (const repo of repositories) {
        try {
          fetchIndex(repo, paths.cache);
          out(`...Successfully got an update from the "${repo.name}" chart repository`);
        } catch (error) {
          out(`...Unable to get an update from the "${repo.name}" chart repository (${repo.url}):\n\t${(error as Error).message}`);
        }
      }
      out('Update Complete. ⎈Happy Helming!⎈');
      return 0;
    }
    case 'repo list': {
      const repositories = readRepositories(helmPaths(flags).repositories);
      if (repositories.length === 0) throw new HelmError('no repositories to show');
      if (flags['output'] === 'json') out(JSON.stringify(repositories.map((r) => ({ name: r.name, url: r.url }))));
      else for (const line of table([['NAME', 'URL'], ...repositories.map((r) => [r.name, r.url])])) out(line);
      return 0;
    }
    case 'upgrade':
    case 'install': {
      expectArgs(2, command === 'install' ? 'helm install [NAME] [CHART] [flags]' : 'helm upgrade [RELEASE] [CHART] [flags]');
      const target = kube();
      await upgradeInstall(target, args[0]!, args[1]!, namespaceOf(target), flags, command === 'install' || Boolean(flags['install']), out, command === 'install');
      return 0;
    }
    case 'status': {
      expectArgs(1, 'helm status RELEASE_NAME [flags]');
      const target = kube();
      const history = (await loadReleases(target, namespaceOf(target))).filter((r) => r.name === args[0]).sort((a, b) => a.version - b.version);
      const release = history[history.length - 1];
      if (!release) throw new HelmError('release: not found');
      if (flags['output'] === 'json') out(JSON.stringify({ name: release.name, info: release.info, config: release.config, version: release.version, namespace: release.namespace, chart: release.chart }));
      else printRelease(release, out);
      return 0;
    }
    case 'list':
    case 'ls': {
      const target = kube();
      const releases = (await loadReleases(target, flags['all-namespaces'] ? undefined : namespaceOf(target)))
        .filter((r) => (flags['all'] ? true : r.info.status === 'deployed' || r.info.status === 'failed'))
        .sort((a, b) => a.name.localeCompare(b.name));
      const latest = [...new Map(releases.sort((a, b) => a.version - b.version).map((r) => [`${r.namespace}/${r.name}`, r])).values()];
      const rows = latest.map((r) => ({
        name: r.name,
        namespace: r.namespace,
        revision: String(r.version),
        updated: goTime(r.info.last_deployed),
        status: r.info.status,
        chart: `${r.chart.metadata.name}-${r.chart.metadata.version}`,
        app_version: r.chart.metadata.appVersion,
      }));
      if (flags['output'] === 'json') out(JSON.stringify(rows));
      else if (flags['output'] === 'yaml') out(stringifyYaml(rows).trimEnd());
      else if (flags['short']) for (const row of rows) out(row.name);
      else {
        const lines = table([['NAME', 'NAMESPACE', 'REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION'], ...rows.map((r) => [r.name, r.namespace, r.revision, r.updated, r.status, r.chart, r.app_version])]);
        for (const line of flags['no-headers'] ? lines.slice(1) : lines) out(line);
      }
      return 0;
    }
    case 'uninstall':
    case 'delete': {
      if (args.length < 1) throw new HelmError('"helm uninstall" requires at least 1 argument\n\nUsage:  helm uninstall RELEASE_NAME [...] [flags]');
      const target = kube();
      for (const name of args) await uninstall(target, name, namespaceOf(target), flags, out);
      return 0;
    }
    case '':
      out('The Kubernetes package manager (lab build: version, repo add|update|list, install, upgrade --install, status, list, uninstall)');
      return 0;
    default:
      throw new HelmError(`unknown command "${command.split(' ').pop()}" for "helm"\nRun 'helm --help' for usage.`);
  }
}

// Run as a program (the bundle), not when imported by tests.
declare const HELM_SHIM_BUNDLE: boolean | undefined;
if (typeof HELM_SHIM_BUNDLE !== 'undefined' && HELM_SHIM_BUNDLE) {
  // `helm list | head` closes the pipe early; like helm, end quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2), (line) => void process.stdout.write(`${line}\n`)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`Error: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}

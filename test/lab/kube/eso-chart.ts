/**
 * The External Secrets Operator chart repository the lab serves, made from the chart in ESO's own
 * Go module (deploy/charts/external-secrets) the way ESO's release packages it:
 * - the CRDs are generated into templates/crds/ from deploy/crds/bundle.yaml, each behind the
 *   values that guard it (hack/helm.generate.sh: `installCRDs`, and `crds.create<Kind>` for the
 *   cluster-scoped and PushSecret kinds; the v1alpha1 versions only with crds.conversion.enabled,
 *   which defaults to false, so they are left out);
 * - Chart.yaml gets the release's version and appVersion (the tagged source still says the
 *   previous one);
 * - the bitwarden-sdk-server subchart (condition false by default) lives in an OCI registry the
 *   lab cannot reach, so the dependency is dropped: `helm package` would refuse the chart without
 *   it in charts/. Nothing else is changed.
 * Then `helm package` and `helm repo index` (relative URLs, so the repository works at any address).
 *   <out>/index.yaml
 *   <out>/external-secrets-<version>.tgz
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// js-yaml itself: client-node's loadYaml/dumpYaml map objects through its typed models, which
// renames schema keys (`default` → `_default`, `x-kubernetes-*` → `x_kubernetes_*`).
import { dump as dumpYaml, load as loadYaml, loadAll as loadAllYaml } from 'js-yaml';
import { run } from '../host/process.js';
import { moduleFiles } from './go-build.js';
import { KUBE_VERSIONS } from './versions.js';

interface CrdDocument {
  spec: { names: { kind: string; singular: string }; versions: { name: string }[] };
}

/** The guard hack/helm.generate.sh writes before each CRD. */
export function crdGuard(kind: string): string {
  const flag = `create${kind}`;
  return kind.includes('Cluster') || kind.includes('PushSecret') ? `{{- if and (.Values.installCRDs) (.Values.crds.${flag}) }}` : '{{- if .Values.installCRDs }}';
}

/** One CRD as the chart template ESO's packaging makes of it. */
export function crdTemplate(crd: CrdDocument): string {
  const kind = crd.spec.names.kind;
  const versions = kind.includes('ExternalSecret') || kind.includes('SecretStore') ? crd.spec.versions.filter((version) => version.name !== 'v1alpha1') : crd.spec.versions;
  const body = dumpYaml({ ...crd, spec: { ...crd.spec, versions } }, { lineWidth: -1, noRefs: true });
  return `${crdGuard(kind)}\n${body}{{- end }}\n`;
}

/** Builds the repository into `out` (which must exist and be empty) with `helm`. */
export async function buildEsoChartRepository(out: string, helm: string, version: string = KUBE_VERSIONS.eso): Promise<{ chart: string; version: string }> {
  const source = (await moduleFiles('github.com/external-secrets/external-secrets', `v${version}`)).dir;
  const work = await mkdtemp(join(tmpdir(), 'lab-eso-chart-'));
  try {
    const chartDir = join(work, 'external-secrets');
    await cp(join(source, 'deploy', 'charts', 'external-secrets'), chartDir, { recursive: true });
    // The module cache is read-only; the copy keeps that mode.
    await run('chmod', ['-R', 'u+w', chartDir]);
    const chartYaml = loadYaml(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    delete chartYaml['dependencies'];
    chartYaml['version'] = version;
    chartYaml['appVersion'] = `v${version}`;
    await writeFile(join(chartDir, 'Chart.yaml'), dumpYaml(chartYaml));
    await rm(join(chartDir, 'Chart.lock'), { force: true });
    const crdsDir = join(chartDir, 'templates', 'crds');
    for (const name of await readdir(crdsDir)) if (name.endsWith('.yaml')) await rm(join(crdsDir, name));
    const bundle = loadAllYaml(await readFile(join(source, 'deploy', 'crds', 'bundle.yaml'), 'utf8')) as CrdDocument[];
    for (const crd of bundle) await writeFile(join(crdsDir, `${crd.spec.names.singular}.yaml`), crdTemplate(crd));
    await run(helm, ['package', chartDir, '--destination', out], { timeoutMs: 120_000 });
    await run(helm, ['repo', 'index', out], { timeoutMs: 120_000 });
    return { chart: join(out, `external-secrets-${version}.tgz`), version };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

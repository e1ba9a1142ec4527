/**
 * The recipes of the lab's real cluster programs (built and cached by go-build.ts):
 * - `kube`: one multi-call binary holding kube-apiserver, kube-controller-manager and
 *   kube-scheduler from k8s.io/kubernetes (one compile of their shared packages), called by its
 *   first argument; `/version` reports the real version through component-base's ldflags (helm
 *   refuses charts with `kubeVersion` against the default `v0.0.0-master`).
 * - `etcd` from go.etcd.io/etcd/server/v3 (its `main.go` is package main).
 * - `kwok`, `helm` v3 and v4 by `go install` (their go.mod has no replace).
 * - `external-secrets` (controller, webhook and cert-controller are subcommands of one binary).
 */
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildWrapper, moduleFiles, type GoProgram } from './go-build.js';
import { KUBE_VERSIONS } from './versions.js';

/** The multi-call main: `kube kube-apiserver --flags…`, like monogon's hyperkube. */
const KUBE_MAIN = `// The lab's kube-apiserver, kube-controller-manager and kube-scheduler in one binary.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube kube-apiserver|kube-controller-manager|kube-scheduler [flags]")
		os.Exit(2)
	}
	name := os.Args[1]
	os.Args = append([]string{name}, os.Args[2:]...)
	switch name {
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	}
	fmt.Fprintf(os.Stderr, "kube: unknown program %q\\n", name)
	os.Exit(2)
}
`;

/**
 * k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging
 * directories; a consumer replaces each with the published v0.<minor>.<patch> instead
 * (kubernetes/kubernetes#79384). The list is read from the release's own go.mod.
 */
async function stagingModules(version: string): Promise<string[]> {
  const goMod = await readFile((await moduleFiles('k8s.io/kubernetes', `v${version}`)).goMod, 'utf8');
  return [...new Set([...goMod.matchAll(/^\s*(k8s\.io\/[a-z0-9-]+) v0\.0\.0\s*$/gm)].map((match) => match[1]!))].sort();
}

export function kubeProgram(version: string = KUBE_VERSIONS.kubernetes): GoProgram {
  const [major, minor] = version.split('.');
  const ldflags = [
    `-X k8s.io/component-base/version.gitVersion=v${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ].join(' ');
  return {
    name: 'kubernetes',
    version,
    binaries: ['kube'],
    recipe: { main: KUBE_MAIN, ldflags },
    async build(context) {
      const staging = await stagingModules(version);
      const stagingVersion = `v0.${minor}.${version.split('.')[2]}`;
      const goMod = [
        'module lab/kube',
        '',
        'go 1.26.0',
        '',
        // k8s.io/kubernetes's own go.mod says this; a dependency's godebug line is ignored.
        `godebug default=go1.${minor === '36' ? '26' : '24'}`,
        '',
        `require k8s.io/kubernetes v${version}`,
        '',
        'replace (',
        ...staging.map((module) => `\t${module} => ${module} ${stagingVersion}`),
        ')',
        '',
      ].join('\n');
      await buildWrapper(context, { goMod, files: { 'main.go': KUBE_MAIN }, builds: [{ package: '.', binary: 'kube', ldflags }] });
    },
  };
}

/**
 * A main package of a module with replace directives, built through a wrapper module (`goMod`);
 * `tidyImport` is a library package of it, imported while `go mod tidy` runs so its requirements stay.
 */
function wrapperProgram(name: string, version: string, goMod: string, tidyImport: string, pkg: string, binary: string): GoProgram {
  const tidy = `package main\n\nimport _ "${tidyImport}"\n`;
  return {
    name,
    version,
    binaries: [binary],
    recipe: { goMod, tidy },
    build: (context) => buildWrapper(context, { goMod, tidyOnly: { 'tidy.go': tidy }, builds: [{ package: pkg, binary }] }),
  };
}

export function etcdProgram(version: string = KUBE_VERSIONS.etcd): GoProgram {
  const goMod = `module lab/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v${version}\n`;
  return wrapperProgram('etcd', version, goMod, 'go.etcd.io/etcd/server/v3/etcdmain', 'go.etcd.io/etcd/server/v3', 'etcd');
}

function installProgram(name: string, version: string, pkg: string, binary: string, ldflags = ''): GoProgram {
  return {
    name,
    version,
    binaries: [binary],
    recipe: { pkg, ldflags },
    async build(context) {
      await context.go(['install', '-trimpath', '-ldflags', `-s -w ${ldflags}`.trim(), `${pkg}@v${version}`], { env: { GOBIN: context.out } });
    },
  };
}

/**
 * kwok does nothing without Stages (its root command exits "no stages found"): the release's own
 * stage files go beside the binary, as kwokctl embeds them. Nodes: `node/fast` (initialize) and
 * `node/heartbeat-with-lease` (Ready kept fresh through the Lease, as a kubelet does); pods:
 * `pod/general` (created → initialized → running and Ready after kwok's default 1–6 s, completed,
 * deleted once their grace period ends).
 */
export const KWOK_STAGE_FILES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/general/pod-create.yaml',
  'pod/general/pod-init-container-running.yaml',
  'pod/general/pod-init-container-completed.yaml',
  'pod/general/pod-ready.yaml',
  'pod/general/pod-complete.yaml',
  'pod/general/pod-delete.yaml',
];

/** The name a stage file has in the cache entry (`node-fast-node-initialize.yaml`). */
export function kwokStageName(file: string): string {
  return file.replaceAll('/', '-');
}

export function kwokProgram(version: string = KUBE_VERSIONS.kwok): GoProgram {
  // kwok's consts.Version already holds its release number.
  const install = installProgram('kwok', version, 'sigs.k8s.io/kwok/cmd/kwok', 'kwok');
  return {
    ...install,
    binaries: ['kwok'],
    recipe: { install: install.recipe, stages: KWOK_STAGE_FILES },
    async build(context) {
      await install.build(context);
      const { dir } = await moduleFiles('sigs.k8s.io/kwok', `v${version}`);
      for (const file of KWOK_STAGE_FILES) await copyFile(join(dir, 'kustomize', 'stage', file), join(context.out, kwokStageName(file)));
    },
  };
}

/** helm sets its version from these ldflags in its own Makefile (`LDFLAGS += -X …/internal/version.version`). */
export function helmProgram(major: 3 | 4, version: string = major === 3 ? KUBE_VERSIONS.helm3 : KUBE_VERSIONS.helm4): GoProgram {
  return installProgram(`helm${major}`, version, `helm.sh/helm/v${major}/cmd/helm`, 'helm', `-X helm.sh/helm/v${major}/internal/version.version=v${version}`);
}

export function esoProgram(version: string = KUBE_VERSIONS.eso): GoProgram {
  // ESO's go.mod replaces sprig with its fork; the wrapper must say the same.
  const goMod = `module lab/eso\n\ngo 1.26.0\n\nrequire github.com/external-secrets/external-secrets v${version}\n\nreplace github.com/Masterminds/sprig/v3 => github.com/external-secrets/sprig/v3 v3.3.0\n`;
  return wrapperProgram('external-secrets', version, goMod, 'github.com/external-secrets/external-secrets/cmd/controller', 'github.com/external-secrets/external-secrets', 'external-secrets');
}

/** Everything `lab:up` needs, in the order it builds them (the largest first). */
export function labPrograms(): GoProgram[] {
  return [kubeProgram(), etcdProgram(), kwokProgram(), helmProgram(3), helmProgram(4), esoProgram()];
}

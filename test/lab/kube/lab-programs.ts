/**
 * Every real cluster program the lab runs, from the build cache (go-build.ts), built first where
 * the cache lacks it. `lab up` prints what it builds and how long each build took.
 */
import { join } from 'node:path';
import { seconds, type LabLog } from '../host/log.js';
import { ensureGoProgram, type BuiltProgram } from './go-build.js';
import { esoProgram, etcdProgram, helmProgram, KWOK_STAGE_FILES, kwokProgram, kwokStageName, kubeProgram } from './programs.js';

export interface LabPrograms {
  kube: string;
  etcd: string;
  kwok: string;
  kwokStages: string[];
  eso: string;
  helm3: string;
  helm4: string;
  /** What this call built (cold cache), with how long each took. */
  built: { name: string; version: string; buildMs: number }[];
}

export async function ensureLabPrograms(log: LabLog): Promise<LabPrograms> {
  const built: LabPrograms['built'] = [];
  // One at a time: each go build already uses every core.
  const ensure = async (program: ReturnType<typeof kubeProgram>): Promise<BuiltProgram> => {
    const result = await ensureGoProgram(program, { onBuild: (p) => log.line(`building ${p.name} ${p.version} from its Go module (not in the cache yet)...`) });
    if (result.builtNow) {
      built.push({ name: result.name, version: result.version, buildMs: result.buildMs });
      log.line(`built ${result.name} ${result.version} in ${seconds(result.buildMs)}s (${result.dir})`);
    }
    return result;
  };
  const kube = await ensure(kubeProgram());
  const etcd = await ensure(etcdProgram());
  const kwok = await ensure(kwokProgram());
  const helm3 = await ensure(helmProgram(3));
  const helm4 = await ensure(helmProgram(4));
  const eso = await ensure(esoProgram());
  return {
    kube: kube.paths['kube']!,
    etcd: etcd.paths['etcd']!,
    kwok: kwok.paths['kwok']!,
    kwokStages: KWOK_STAGE_FILES.map((file) => join(kwok.dir, kwokStageName(file))),
    eso: eso.paths['external-secrets']!,
    helm3: helm3.paths['helm']!,
    helm4: helm4.paths['helm']!,
    built,
  };
}

/**
 * What `lab up` hands the cluster process (serve.ts) and what that process reports back once its
 * API is ready: the contract between the two, in a module of its own (serve.ts runs on import).
 */
export const CLUSTER_REPORT_FILE = 'cluster.json';

/** The executables serve.ts runs, from the build cache (lab-programs.ts). */
export interface ClusterPrograms {
  kube: string;
  etcd: string;
  kwok: string;
  kwokStages: string[];
  eso: string;
}

/** DIR/cluster.json, written whole once the API is ready. */
export interface ClusterReport {
  url: string;
  port: number;
  addresses: string[];
  pid: number;
  kubeconfig: string;
  caFile: string;
  version: string;
  pids: Record<string, number>;
}

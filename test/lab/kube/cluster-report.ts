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
  /** The fault proxy in front of the API (fault-proxy.ts), for the API fault suite. */
  faultProxy: FaultProxyReport;
}

export interface FaultProxyReport {
  /** https://<first address>:<port>: what kubeconfig names. */
  url: string;
  /** https://<second address>:<port>: the API address for Vault through the proxy. */
  vaultApiAddress: string;
  /** The admin kubeconfig with the proxy as its server. */
  kubeconfig: string;
  /** The fault switch file (faults.ts). */
  faultsFile: string;
}

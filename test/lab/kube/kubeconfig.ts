/**
 * Kubeconfigs for the lab cluster. The admin one is laid out like K3s's /etc/rancher/k3s/k3s.yaml
 * (cluster, user and context all named `default`, admin by client certificate) plus a `lab-viewer`
 * context whose bearer token has only ClusterRole `view`. The others carry one component's client
 * certificate (controller manager, scheduler) or a service account's token (the pods the lab runs).
 */
// js-yaml, not client-node's dumpYaml: that one maps objects through its typed models.
import { dump as dumpYaml } from 'js-yaml';

export const VIEWER_USER = 'lab-viewer';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

export interface AdminKubeconfigInput {
  server: string;
  caPem: string;
  admin: { certPem: string; keyPem: string };
  viewerToken: string;
}

export function adminKubeconfigYaml(input: AdminKubeconfigInput): string {
  return dumpYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } }],
    users: [
      { name: 'default', user: { 'client-certificate-data': b64(input.admin.certPem), 'client-key-data': b64(input.admin.keyPem) } },
      { name: VIEWER_USER, user: { token: input.viewerToken } },
    ],
    contexts: [
      { name: 'default', context: { cluster: 'default', user: 'default' } },
      { name: VIEWER_USER, context: { cluster: 'default', user: VIEWER_USER, namespace: 'default' } },
    ],
    'current-context': 'default',
    preferences: {},
  });
}

/** One user, one context: a component's certificate files or a bearer token. */
export function componentKubeconfigYaml(input: { server: string; caFile: string; user: { certFile: string; keyFile: string } | { tokenFile: string } }): string {
  // client-go re-reads a tokenFile periodically, so a renewed pod token is picked up.
  const user = 'tokenFile' in input.user ? { tokenFile: input.user.tokenFile } : { 'client-certificate': input.user.certFile, 'client-key': input.user.keyFile };
  return dumpYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: input.server, 'certificate-authority': input.caFile } }],
    users: [{ name: 'lab', user }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }],
    'current-context': 'lab',
  });
}

// The part of client-go the shim needs: load a kubeconfig (KUBECONFIG / --kubeconfig,
// --kube-context) and make TLS-verified requests with its credentials.
// https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseYaml } from '../k8s-sim/yaml.js';

export class HelmError extends Error {}

export interface KubeTarget {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  namespace?: string;
}

function pick<T extends { name: string }>(list: T[] | undefined, name: string): T | undefined {
  return (list ?? []).find((entry) => entry.name === name);
}

export function loadKubeconfig(path: string | undefined, context: string | undefined): KubeTarget {
  const file = path || (process.env['KUBECONFIG'] ?? '').split(':').find(Boolean) || resolve(homedir(), '.kube', 'config');
  let config: any;
  try {
    config = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      // client-go falls back to localhost:8080 when no kubeconfig exists.
      throw new HelmError('Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial tcp 127.0.0.1:8080: connect: connection refused');
    }
    throw new HelmError(`Kubernetes cluster unreachable: error loading config file "${file}": ${(error as Error).message}`);
  }
  const contextName = context || config['current-context'];
  const ctx = pick<any>(config.contexts, contextName)?.context;
  if (!ctx) throw new HelmError(`Kubernetes cluster unreachable: context "${contextName}" does not exist`);
  const cluster = pick<any>(config.clusters, ctx.cluster)?.cluster;
  if (!cluster?.server) throw new HelmError(`Kubernetes cluster unreachable: cluster "${ctx.cluster}" has no server`);
  const user = pick<any>(config.users, ctx.user)?.user ?? {};
  if (cluster['insecure-skip-tls-verify']) throw new HelmError('Kubernetes cluster unreachable: insecure-skip-tls-verify is not honoured by the lab helm; give the cluster CA instead');
  const base = dirname(file);
  const material = (data: string | undefined, path: string | undefined): string | undefined =>
    data ? Buffer.from(data, 'base64').toString('utf8') : path ? readFileSync(resolve(base, path), 'utf8') : undefined;
  const token = user.token ?? (user.tokenFile ? readFileSync(resolve(base, user.tokenFile), 'utf8').trim() : undefined);
  return {
    server: String(cluster.server).replace(/\/+$/, ''),
    ca: material(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: material(user['client-certificate-data'], user['client-certificate']),
    key: material(user['client-key-data'], user['client-key']),
    token,
    namespace: ctx.namespace,
  };
}

export interface KubeResponse {
  status: number;
  body: any;
}

function goError(method: string, url: string, error: NodeJS.ErrnoException): string {
  const { host, hostname } = new URL(url);
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  if (error.code === 'ECONNREFUSED') return `${verb} "${url}": dial tcp ${host}: connect: connection refused`;
  if (error.code === 'ENOTFOUND') return `${verb} "${url}": dial tcp: lookup ${hostname}: no such host`;
  if (/certificate|self.signed|altname/i.test(error.message) || /CERT|SIGNATURE/.test(error.code ?? '')) return `${verb} "${url}": tls: failed to verify certificate: x509: certificate signed by unknown authority`;
  return `${verb} "${url}": ${error.message}`;
}

export function kubeRequest(target: KubeTarget, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse> {
  const url = `${target.server}${path}`;
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'helm/v3.19.0 (linux/amd64) kubernetes/a2ff8a6' };
  if (payload) {
    headers['Content-Type'] = contentType;
    headers['Content-Length'] = String(payload.length);
  }
  if (target.token) headers['Authorization'] = `Bearer ${target.token}`;
  return new Promise((resolvePromise, reject) => {
    const outgoing = httpsRequest(
      url,
      { method, headers, timeout: 30_000, ...(target.ca ? { ca: target.ca } : {}), ...(target.cert ? { cert: target.cert } : {}), ...(target.key ? { key: target.key } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolvePromise({ status: response.statusCode ?? 0, body: parsed });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    outgoing.on('error', (error: NodeJS.ErrnoException) => reject(new HelmError(goError(method, url, error))));
    outgoing.end(payload);
  });
}

/** The message a failed API call gives (the Status message when there is one). */
export function statusMessage(response: KubeResponse): string {
  return typeof response.body === 'object' && response.body?.message ? response.body.message : `the server responded with the status code ${response.status}`;
}

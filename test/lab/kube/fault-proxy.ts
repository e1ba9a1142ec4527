/**
 * A fault-injecting proxy in front of the real kube-apiserver, for the API fault suite: an
 * overloaded or restarting API, or a link that stops carrying packets, switched on and off by the
 * fault switch file (faults.ts). While no fault is on, every request is passed on unchanged and
 * streamed back (watches included).
 *
 * The proxy ends TLS with the API server's own certificate (clients verify it against the cluster
 * CA as usual) and authenticates to kube-apiserver the way the aggregation layer does (front-proxy
 * authentication, https://kubernetes.io/docs/tasks/extend-kubernetes/configure-aggregation-layer/):
 * - a client certificate the cluster CA signed is passed on as X-Remote-User (its CN) and
 *   X-Remote-Group (each O), on a connection carrying the front-proxy client certificate;
 * - a bearer token is passed on as it came, on a connection without a client certificate;
 * - X-Remote-* headers a client sends are dropped, so nobody can claim an identity through it.
 * Only HTTP/1.1 requests are proxied (no upgrades: exec and port-forward are not used here).
 */
import { request as httpsRequest, createServer, Agent, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { FaultSwitch } from './faults.js';

export interface FaultProxyOptions {
  addresses: string[];
  port: number;
  upstream: { host: string; port: number };
  caPem: string;
  /** The serving certificate (the API server's). */
  serving: { certPem: string; keyPem: string };
  /** The front-proxy client certificate kube-apiserver's --requestheader-client-ca-file trusts. */
  frontProxy: { certPem: string; keyPem: string };
  faultsFile: string;
  log: (line: string) => void;
}

export interface FaultProxy {
  urlFor(address: string): string;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the identity headers only the proxy may set. */
function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'].includes(lower)) continue;
    if (lower.startsWith('x-remote-')) continue;
    out[name] = value;
  }
  return out;
}

/** The user and groups of a verified client certificate (CN and O, as kube-apiserver's x509 authenticator reads them). */
function identityOf(socket: TLSSocket): { user: string; groups: string[] } | undefined {
  if (!socket.authorized) return undefined;
  const subject = socket.getPeerCertificate().subject as unknown as Record<string, string | string[]> | undefined;
  const cn = subject?.['CN'];
  if (!cn) return undefined;
  const o = subject['O'];
  return { user: Array.isArray(cn) ? cn[0]! : cn, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const faults = new FaultSwitch(options.faultsFile, options.log);
  const asFrontProxy = new Agent({ keepAlive: true, ca: options.caPem, cert: options.frontProxy.certPem, key: options.frontProxy.keyPem, rejectUnauthorized: true });
  const anonymous = new Agent({ keepAlive: true, ca: options.caPem, rejectUnauthorized: true });

  /** Passes the request on; `dateOffsetSeconds` moves the Date header of the answer (a skewed API clock). */
  const pass = (request: IncomingMessage, response: ServerResponse, dateOffsetSeconds = 0): void => {
    const headers = forwardable(request.headers);
    const identity = identityOf(request.socket as TLSSocket);
    if (identity) {
      headers['X-Remote-User'] = identity.user;
      if (identity.groups.length) headers['X-Remote-Group'] = identity.groups;
    }
    const upstream = httpsRequest(
      { host: options.upstream.host, port: options.upstream.port, method: request.method, path: request.url, headers, agent: identity ? asFrontProxy : anonymous, servername: undefined },
      (answer) => {
        const headers = forwardable(answer.headers);
        if (dateOffsetSeconds !== 0) {
          const upstreamDate = Date.parse(String(answer.headers.date ?? ''));
          headers['date'] = new Date((Number.isFinite(upstreamDate) ? upstreamDate : Date.now()) + dateOffsetSeconds * 1000).toUTCString();
          delete headers['Date'];
        }
        response.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(response);
        response.on('close', () => answer.destroy());
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) {
        response.writeHead(502, { 'Content-Type': 'text/plain' });
        response.end(`fault proxy: ${error.message}\n`);
      } else response.destroy();
    });
    response.on('close', () => upstream.destroy());
    request.pipe(upstream);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const fault = await faults.current();
    if (fault && (await faults.inject(fault, request, response))) return;
    pass(request, response, fault?.dateOffsetSeconds ?? 0);
  };

  const servers: Server[] = [];
  for (const address of options.addresses) {
    const server = createServer({ cert: options.serving.certPem, key: options.serving.keyPem, ca: options.caPem, requestCert: true, rejectUnauthorized: false }, (request, response) => {
      handle(request, response).catch((error: unknown) => {
        options.log(`fault proxy: ${(error as Error).message}`);
        if (!response.headersSent) response.writeHead(502).end();
        else response.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, address, () => resolve());
    });
    servers.push(server);
  }
  return {
    urlFor: (address) => `https://${address}:${options.port}`,
    async close() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
      asFrontProxy.destroy();
      anonymous.destroy();
    },
  };
}

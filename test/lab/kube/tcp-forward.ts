/**
 * A plain TCP forwarder: every connection to <address>:<port> is joined byte for byte to the
 * target, so TLS and HTTP/2 stay end to end (a load balancer in front of kube-apiserver; a CNI's
 * port mapping in front of a pod's process).
 */
import { createConnection, createServer, type Server } from 'node:net';

export function forwardTcp(address: string, port: number, target: { host: string; port: number }): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = createConnection(target);
    socket.pipe(upstream).pipe(socket);
    const close = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

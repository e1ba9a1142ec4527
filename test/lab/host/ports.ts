/**
 * Free TCP ports for one lab instance. The lab's host shares this machine's network, so every port
 * it listens on (sshd, the release mirror, Vault's API and cluster ports) is chosen per instance.
 *
 * Ports come from 20000–32767, below Linux's default ephemeral range (32768–60999,
 * https://www.kernel.org/doc/html/latest/networking/ip-sysctl.html ip_local_port_range), so an
 * outgoing connection made between choosing a port and binding it cannot take it.
 */
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

const FIRST = 20_000;
const LAST = 32_767;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when nothing listens on `port`, on the wildcard address nor on loopback. */
export async function isPortFree(port: number): Promise<boolean> {
  // On Linux a wildcard bind conflicts with a specific one and vice versa: checking both catches
  // listeners on 127.0.0.1 only and on every address.
  return (await canListen(port, '0.0.0.0')) && (await canListen(port, '127.0.0.1'));
}

/** Picks `count` distinct free ports, none of them in `taken`. */
export async function pickFreePorts(count: number, taken: ReadonlySet<number> = new Set()): Promise<number[]> {
  const chosen: number[] = [];
  for (let attempt = 0; chosen.length < count; attempt++) {
    if (attempt > 500) throw new Error(`found only ${chosen.length} of ${count} free ports in ${FIRST}-${LAST}`);
    const port = randomInt(FIRST, LAST + 1);
    if (taken.has(port) || chosen.includes(port)) continue;
    if (await isPortFree(port)) chosen.push(port);
  }
  return chosen;
}

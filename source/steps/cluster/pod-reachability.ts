/**
 * The Vault address External Secrets Operator will use (the ClusterSecretStore's `server`), judged
 * from where ESO runs: a pod. A pod resolves names through the cluster's DNS (CoreDNS in K3s, which
 * forwards to the node's resolv.conf) and has its own loopback, so three kinds of address that work
 * from this machine fail there, and only as a Warning event on the store ("dial tcp …: i/o timeout",
 * "no such host"):
 * - a `.local` name: multicast DNS (Avahi), which CoreDNS does not speak (RFC 6762; CoreDNS has no
 *   mDNS plugin in K3s's build);
 * - a loopback address or `localhost`: inside the pod it is the pod itself;
 * - a name this machine knows only from its own /etc/hosts (or a single-label name, which only a
 *   search domain can complete): nothing the cluster's DNS can see.
 * Each is a warning, not a refusal: a cluster can be made to resolve any of them (CoreDNS's
 * `hosts`/NodeHosts, hostNetwork pods), and the store's own Ready condition is the proof either way.
 * https://docs.k3s.io/networking/networking-services#coredns
 */
import { isIP } from 'node:net';

export interface ReachabilityInput {
  /** The address the store names, e.g. https://192.168.1.20:8200. */
  address: string;
  /** This machine's /etc/hosts, when it could be read. */
  etcHosts?: string;
}

/** Names /etc/hosts maps (comments and blank lines skipped), lower-cased. */
export function hostsFileNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [, ...aliases] = line.split(/\s+/);
    for (const alias of aliases) names.add(alias.toLowerCase().replace(/\.$/, ''));
  }
  return names;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  // URL has already compressed an IPv6 host: ::1, and IPv4-mapped 127.x as ::ffff:7fxx:xxxx.
  if (isIP(host) === 6) return host === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(host);
  return false;
}

/** Why pods may not reach `address`, one sentence each with the fix; empty when nothing is known against it. */
export function podReachabilityWarnings(input: ReachabilityInput): string[] {
  let host: string;
  try {
    host = new URL(input.address).hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  } catch {
    return [];
  }
  const fix = 'set vault.apiAddress to one the pods can reach (the host\'s LAN IP, e.g. https://192.168.1.20:8200, or a name your DNS serves) and include it in the server certificate (vault.tls)';
  if (isLoopback(host)) {
    return [`${input.address} is a loopback address: inside an ESO pod it is the pod itself, so ESO reaches Vault there only if it runs in the host's network; ${fix}`];
  }
  if (isIP(host)) return [];
  if (host.endsWith('.local')) {
    return [`${host} is a multicast DNS (.local) name: the cluster's DNS (CoreDNS) does not resolve mDNS, so ESO's pods will not find it; ${fix}`];
  }
  if (input.etcHosts !== undefined && hostsFileNames(input.etcHosts).has(host)) {
    return [`${host} is in this machine's /etc/hosts, which the cluster's DNS does not read: ESO's pods may not resolve it; ${fix}, or add the name to CoreDNS (K3s: a coredns-custom ConfigMap with a hosts block)`];
  }
  if (!host.includes('.')) {
    return [`${host} is a single-label name, resolved only through a search domain: ESO's pods search the cluster's domains first and may not resolve it; ${fix}`];
  }
  return [];
}

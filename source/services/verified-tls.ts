/**
 * The TLS settings of every connection the product opens itself (snapshot, status, the
 * served-certificate check): verified against the one CA given, whatever the environment says.
 *
 * Node only verifies by default: when `rejectUnauthorized` is left out, tls.connect reads
 * NODE_TLS_REJECT_UNAUTHORIZED at each connection, so a variable left in a shell (`=0`) would hand
 * the root token to any server. Saying `true` explicitly is what makes the variable irrelevant.
 * A dedicated agent (never https.globalAgent) keeps two more things out: sockets another caller
 * opened with other settings are never reused, and the global agent's proxy from the environment
 * (NODE_USE_ENV_PROXY with HTTPS_PROXY, newer Node releases) never reroutes the connection.
 * https://nodejs.org/api/tls.html#tlsconnectoptions-callback
 */
import { Agent, type AgentOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';

/** Options for tls.connect: our CA only, verification on. */
export function verifiedTlsOptions(caPem: string): Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized'> {
  return { ca: caPem, rejectUnauthorized: true };
}

/** An agent of its own for one client, verifying against `caPem` alone. */
export function verifiedAgent(caPem: string, options: Omit<AgentOptions, 'ca' | 'rejectUnauthorized'> = {}): Agent {
  return new Agent({ ...options, ...verifiedTlsOptions(caPem) });
}

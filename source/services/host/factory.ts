/**
 * Builds the transport a profile asks for. The SSH transport (and ssh2 with it) is only loaded when
 * the profile uses SSH, so local runs and commands that never reach the host do not load it.
 */
import type { HostKeyPin } from './known-hosts.js';
import type { SshAuth, UnknownHostKeyInfo } from './ssh.js';
import type { Transport } from './transport.js';
import type { Profile } from '../../profile/schema.js';
import { InputError } from '../../core/errors.js';

export interface TransportCallbacks {
  /** Trust-on-first-use prompt: show the fingerprint, return true to trust (and pin) it. */
  onUnknownHostKey?: (info: UnknownHostKeyInfo) => Promise<boolean>;
  /** Save the accepted key in the profile (host.hostKey). */
  onPinned?: (pin: HostKeyPin) => void | Promise<void>;
  askPassword?: (request: { user: string; host: string }) => Promise<string>;
  askKeyPassphrase?: (request: { keyFile: string }) => Promise<string>;
  askSudoPassword?: () => Promise<string>;
  /** Override of ~/.ssh/known_hosts (tests, or a user with another file). */
  knownHostsFile?: string;
  /** Override of /etc/ssh/ssh_known_hosts (tests). */
  systemKnownHostsFile?: string;
}

export async function createTransport(host: Profile['host'], callbacks: TransportCallbacks = {}): Promise<Transport> {
  if (host.transport === 'local') {
    const { LocalTransport } = await import('./local.js');
    return new LocalTransport({ askSudoPassword: callbacks.askSudoPassword });
  }
  let auth: SshAuth;
  if (host.auth === 'key') {
    if (!host.keyFile) {
      throw new InputError('host.auth is "key" but no key file is set', {
        field: 'host.keyFile',
        hint: 'set host.keyFile to your private key, e.g. ~/.ssh/id_ed25519, or use host.auth agent',
      });
    }
    auth = { method: 'key', keyFile: host.keyFile };
  } else if (host.auth === 'password') {
    auth = { method: 'password' };
  } else {
    auth = { method: 'agent' };
  }
  const { SshTransport } = await import('./ssh.js');
  return new SshTransport({
    host: host.address,
    port: host.port,
    username: host.user,
    auth,
    pinnedHostKey: host.hostKey,
    ...callbacks,
  });
}

/**
 * The services one run uses, opened lazily: the host transport is created on first use (a run that
 * never touches the host never loads ssh2), and every question it has — an unknown host key, an SSH
 * password, a key passphrase, the sudo password — goes to the run's Prompter (a dialog in the TUI,
 * the terminal or a clear error headless). The same wiring serves the TUI and the headless commands.
 */
import type { Prompter, Services } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import type { ProfileStore } from '../profile/store.js';
import { describeKnown } from './host/known-hosts.js';
import type { Transport } from './host/transport.js';

/** Services for one run; closed when the run ends (connections must not outlive it). */
export interface RunServices extends Services {
  close(): Promise<void>;
}

export interface HostKeyPinning {
  store: Pick<ProfileStore, 'pinHostKey'>;
  profileName: string;
}

export function openRunServices(profile: Profile, prompt: Prompter, pinning: HostKeyPinning): RunServices {
  let transport: Promise<Transport> | undefined;
  return {
    host() {
      transport ??= import('./host/factory.js').then(({ createTransport }) =>
        createTransport(profile.host, {
          onUnknownHostKey: (info) =>
            prompt.confirm(`Trust the SSH host key of ${info.host}:${info.port}?`, {
              // Never trusted by default, not even with --yes: pin it with known_hosts or the profile.
              defaultValue: false,
              detail:
                // A host known by another key type that now offers only this one may be an impostor: said first.
                (info.knownOtherKeys.length > 0
                  ? `WARNING: ${info.host}:${info.port} is already known with a key of another type (${describeKnown(info.knownOtherKeys)}), but the server offered ${info.algorithm}: someone may be intercepting the connection. `
                  : '') +
                `${info.algorithm} ${info.fingerprint}. Compare it with \`ssh-keygen -lf /etc/ssh/${hostKeyFileName(info.algorithm)}\` run on the host itself. It is pinned in the profile once trusted.`,
            }),
          onPinned: (pin) => {
            pinning.store.pinHostKey(pinning.profileName, pin);
          },
          askPassword: ({ user, host }) => prompt.secret(`SSH password for ${user}@${host}:`),
          askKeyPassphrase: ({ keyFile }) => prompt.secret(`Passphrase of the SSH key ${keyFile}:`),
          askSudoPassword: () => prompt.secret('sudo password on the host:'),
        }),
      );
      return transport;
    },
    async close() {
      const opened = await transport?.catch(() => undefined);
      await opened?.close();
    },
  };
}

/** The file OpenSSH keeps a host key of this type in (ssh-ed25519 → ssh_host_ed25519_key.pub). */
function hostKeyFileName(algorithm: string): string {
  const type = algorithm.startsWith('ecdsa-') ? 'ecdsa' : algorithm.replace(/^ssh-/, '');
  return `ssh_host_${type}_key.pub`;
}

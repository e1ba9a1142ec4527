/**
 * Services for one run of the TUI: the host transport is opened on first use (a check-only run of
 * cluster steps never connects over SSH) and every question it has — an unknown host key, an SSH
 * password, a key passphrase, the sudo password — is asked through the run's Prompter (a dialog).
 */
import type { Prompter } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import type { ProfileStoreApi, RunServices } from './deps.js';
import type { Transport } from '../services/host/transport.js';
import type { ProfileStore } from '../profile/store.js';

export function openHostServices(
  profile: Profile,
  prompt: Prompter,
  pinning: { store: ProfileStoreApi & Pick<ProfileStore, 'pinHostKey'>; profileName: string },
): RunServices {
  let transport: Promise<Transport> | undefined;
  return {
    host() {
      transport ??= import('../services/host/factory.js').then(({ createTransport }) =>
        createTransport(profile.host, {
          onUnknownHostKey: (info) =>
            prompt.confirm(`Trust the SSH host key of ${info.host}:${info.port}?`, {
              defaultValue: false,
              detail: `${info.algorithm} ${info.fingerprint}. Compare it with \`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub\` run on the host itself. It is pinned in the profile once trusted.`,
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

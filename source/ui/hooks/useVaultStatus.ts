/**
 * Keeps the Setup slice's Vault reading fresh while the Setup screen is open: once when it opens,
 * again whenever `refresh` changes (a step finished) and every `intervalMs` — one request at a time
 * (a slow or unreachable Vault never piles requests up), and nothing at all when the profile names
 * no API address.
 */
import { useEffect, useRef, type Dispatch } from 'react';
import type { Profile } from '../../profile/schema.js';
import { vaultApiAddress } from '../../steps/host/layout.js';
import type { SetupAction } from '../state/setup-state.js';
import type { ReadVaultStatus } from '../vault-status.js';

export const VAULT_STATUS_INTERVAL_MS = 5_000;

export interface VaultStatusPolling {
  read: ReadVaultStatus | undefined;
  profileName: string;
  profile: Profile;
  /** The Setup screen is open (nothing is read behind other screens). */
  active: boolean;
  /** A new value reads at once. */
  refresh: number;
  dispatch: Dispatch<SetupAction>;
  intervalMs?: number;
}

export function useVaultStatus({ read, profileName, profile, active, refresh, dispatch, intervalMs = VAULT_STATUS_INTERVAL_MS }: VaultStatusPolling): void {
  const inFlight = useRef(false);
  const again = useRef(false);
  const latest = useRef({ read, profileName, profile, dispatch });
  latest.current = { read, profileName, profile, dispatch };
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  const address = vaultApiAddress(profile);
  useEffect(() => {
    if (!read) return undefined;
    if (!address) {
      dispatch({ type: 'vault-status', reading: undefined });
      return undefined;
    }
    if (!active) return undefined;
    const readNow = (): void => {
      if (inFlight.current) {
        // A step finished while a read was under way: read once more when it settles.
        again.current = true;
        return;
      }
      const { read: current, profileName: name, profile: target, dispatch: send } = latest.current;
      if (!current) return;
      inFlight.current = true;
      void current(name, target)
        .then((reading) => {
          if (mounted.current) send({ type: 'vault-status', reading });
        })
        // The reader turns failures into readings; this only guards against a broken injected one.
        .catch(() => undefined)
        .finally(() => {
          inFlight.current = false;
          if (again.current && mounted.current) {
            again.current = false;
            readNow();
          }
        });
    };
    readNow();
    const timer = setInterval(readNow, intervalMs);
    return () => clearInterval(timer);
  }, [read, address, active, refresh, profile, profileName, dispatch, intervalMs]);
}

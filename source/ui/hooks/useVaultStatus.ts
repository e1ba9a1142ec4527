/**
 * Keeps the Setup slice's Vault reading fresh while the Setup screen is open: once when it opens,
 * again whenever `refresh` changes (a step finished) and every `intervalMs` (usePolledReading: one
 * request at a time), and nothing at all when the profile names no API address.
 */
import { useCallback, useEffect, type Dispatch } from 'react';
import type { Profile } from '../../profile/schema.js';
import { vaultApiAddress } from '../../steps/host/layout.js';
import type { SetupAction } from '../state/setup-state.js';
import type { ReadVaultStatus, VaultStatusReading } from '../vault-status.js';
import { usePolledReading } from './usePolledReading.js';

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
  const address = vaultApiAddress(profile);
  useEffect(() => {
    // No address: any earlier reading is stale.
    if (read && !address) dispatch({ type: 'vault-status', reading: undefined });
  }, [read, address, dispatch]);
  const readNow = useCallback(() => (read ? read(profileName, profile) : Promise.resolve(undefined)), [read, profileName, profile]);
  const onValue = useCallback((reading: VaultStatusReading | undefined) => dispatch({ type: 'vault-status', reading }), [dispatch]);
  usePolledReading({ read: read && address ? readNow : undefined, onValue, active, refresh, intervalMs, key: profile });
}

/**
 * Keeps the Setup slice's cluster reading fresh while the Setup screen is open, once there is a
 * ClusterSecretStore to read: the cluster phase recorded its store step (saved progress), or the
 * step just finished in this session. Polled like the Vault reading, less often: ESO itself only
 * re-validates a store every few minutes.
 */
import { useCallback, type Dispatch } from 'react';
import type { Profile } from '../../profile/schema.js';
import { clusterConfigured, type ClusterStatus } from '../../services/cluster-status.js';
import type { SetupAction, SetupState } from '../state/setup-state.js';
import type { ReadClusterStatus } from '../vault-status.js';
import { usePolledReading } from './usePolledReading.js';

export const CLUSTER_STATUS_INTERVAL_MS = 15_000;
const STORE_STEP_ID = 'cluster.secret-store';

export interface ClusterStatusPolling {
  read: ReadClusterStatus | undefined;
  profileName: string;
  profile: Profile;
  setup: Pick<SetupState, 'steps' | 'vaultRefresh'>;
  active: boolean;
  dispatch: Dispatch<SetupAction>;
  intervalMs?: number;
}

export function useClusterStatus({ read, profileName, profile, setup, active, dispatch, intervalMs = CLUSTER_STATUS_INTERVAL_MS }: ClusterStatusPolling): void {
  const storeStep = setup.steps.find((step) => step.id === STORE_STEP_ID);
  const configured = clusterConfigured(profile) || storeStep?.state === 'done' || storeStep?.state === 'drift';
  const readNow = useCallback(() => (read ? read(profileName, profile) : Promise.resolve(undefined)), [read, profileName, profile]);
  const onValue = useCallback((reading: ClusterStatus | undefined) => dispatch({ type: 'cluster-status', reading }), [dispatch]);
  usePolledReading({ read: read && configured ? readNow : undefined, onValue, active, refresh: setup.vaultRefresh, intervalMs, key: profile });
}

/**
 * What the TUI needs from the rest of the program, passed in as one object so tests can run the
 * real screens and the real runner over a plan of test steps, in temp XDG directories.
 */
import { createContext, useContext } from 'react';
import type { LogBuffer } from '../core/log-buffer.js';
import type { ProgressSink } from '../core/progress.js';
import type { Redactor } from '../core/redact.js';
import type { LogLine, Plan, Prompter } from '../core/step.js';
import type { RunServices } from '../services/run-services.js';
import type { CleanupRegistry } from './cleanup.js';
import type { ProfileStore } from '../profile/store.js';
import type { Profile } from '../profile/schema.js';
import type { ReadClusterStatus, ReadHomeStatus, ReadVaultStatus, ResetVaultUnseal } from './vault-status.js';

export type ProfileStoreApi = Pick<ProfileStore, 'load' | 'save' | 'exists' | 'file'>;

export type { RunServices } from '../services/run-services.js';

export interface AppDependencies {
  profileName: string;
  /** The profile as loaded (defaults for a new profile). */
  profile: Profile;
  /** The profile file exists (false: the Profile screen opens first). */
  profileExists: boolean;
  store: ProfileStoreApi;
  /** The plan for a profile (the real one is steps/index.ts buildPlan). */
  createPlan(profile: Profile): Plan;
  /** Opens the services for a run of `profile`; questions they ask (host key, passwords) go to `prompt`. */
  openServices(profile: Profile, prompt: Prompter): RunServices;
  logBuffer: LogBuffer;
  redactor: Redactor;
  /** Where the runner records progress (the profile store's sink in the product). */
  progress?: ProgressSink;
  /** Every log line, e.g. to the log file (the LogBuffer keeps only the last few thousand). */
  onLogLine?(line: LogLine): void;
  /**
   * Reads Vault's seal status for the Status pane (the product's: vaultStatusReader(), over TLS with
   * the profile's CA). Absent: the pane shows no Vault state and nothing is polled.
   */
  vaultStatus?: ReadVaultStatus;
  /**
   * Reads the Home screen's status, the report `status` prints (the product's: homeStatusReader(),
   * collectStatus over TLS with the profile's CA, plus the host's units over the home's connection).
   * Absent: the Home screen shows no status and nothing is polled.
   */
  homeStatus?: ReadHomeStatus;
  /**
   * Reads the ClusterSecretStore for the Status pane once the cluster phase created it (the
   * product's: readClusterStatus, which loads the Kubernetes client only then). Absent: no cluster line.
   */
  clusterStatus?: ReadClusterStatus;
  /** ctrl+r while an unseal key is asked: discards the shares submitted so far (the product's: vaultUnsealResetter()). */
  vaultUnsealReset?: ResetVaultUnseal;
  /** What must happen before the process goes away (SIGTERM, SIGHUP, exit): a running plan registers its stop here. */
  cleanup?: CleanupRegistry;
}

export const DependenciesContext = createContext<AppDependencies | undefined>(undefined);

export function useDependencies(): AppDependencies {
  const deps = useContext(DependenciesContext);
  if (!deps) throw new Error('useDependencies must be used inside <App>');
  return deps;
}

/**
 * The plan: every step of the setup, in order, phase by phase (host → vault → cluster).
 * Phases register their steps here as they are built.
 */
import type { Plan, Phase, Step } from '../core/step.js';
import { PHASES } from '../core/step.js';
import { serverOf } from '../core/server.js';
import type { Profile } from '../profile/schema.js';
import { clusterSteps } from './cluster/index.js';
import { hostSteps } from './host/index.js';
import { VaultSession, vaultSteps } from './vault/index.js';

/** What a run's flags change in its steps (the TUI asks instead). */
export interface PlanOptions {
  /** `setup --recover-helm`: settle a helm release a stopped helm left pending without asking. */
  recoverHelm?: boolean;
}

type StepFactory = (profile: Profile, vault: VaultSession, options: PlanOptions) => Step[];

const phaseSteps: Record<Phase, StepFactory> = {
  host: (profile) => hostSteps(serverOf(profile)),
  vault: (profile, vault) => vaultSteps(profile, { session: vault }),
  cluster: (profile, vault, options) => clusterSteps({ vault, ...(options.recoverHelm ? { recoverHelm: true } : {}) }, serverOf(profile)),
};

export function buildPlan(profile: Profile, phases: readonly Phase[] = PHASES, options: PlanOptions = {}): Plan {
  // One Vault session for the whole plan: a custody passphrase or a typed token is asked once.
  const vault = new VaultSession();
  return { steps: PHASES.filter((phase) => phases.includes(phase)).flatMap((phase) => phaseSteps[phase](profile, vault, options)) };
}

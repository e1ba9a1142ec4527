/**
 * The plan: every step of the setup, in order, phase by phase (host → vault → cluster).
 * Phases register their steps here as they are built.
 */
import type { Plan, Phase, Step } from '../core/step.js';
import { PHASES } from '../core/step.js';
import type { Profile } from '../profile/schema.js';
import { hostSteps } from './host/index.js';
import { vaultSteps } from './vault/index.js';

type StepFactory = (profile: Profile) => Step[];

const phaseSteps: Record<Phase, StepFactory> = {
  host: () => hostSteps(),
  vault: (profile) => vaultSteps(profile),
  cluster: () => [],
};

export function buildPlan(profile: Profile, phases: readonly Phase[] = PHASES): Plan {
  return { steps: PHASES.filter((phase) => phases.includes(phase)).flatMap((phase) => phaseSteps[phase](profile)) };
}

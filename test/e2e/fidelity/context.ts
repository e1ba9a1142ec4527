/**
 * The lab every failure-mode case of the cluster fidelity suite runs against: one fresh lab,
 * set up once (`setup --yes`, all phases); each case breaks one thing the way the real world
 * does, checks what the CLI says, and puts it back so the next case starts from a working setup.
 */
import type { ClusterSetup } from '../support/cluster-lab.js';

export interface FidelityLab {
  /** The set-up lab (valid once the suite's first test has run). */
  readonly s: ClusterSetup;
}

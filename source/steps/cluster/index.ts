/**
 * Phase 3, the cluster: Vault's kubernetes auth method and External Secrets Operator, ending with the
 * proof that a value written to Vault shows up in a Kubernetes Secret. One ClusterSession per plan:
 * one API client, and the Vault session of the vault phase, so a token or passphrase is asked once.
 */
import type { Step } from '../../core/step.js';
import { authMethodStep } from './auth-method.js';
import { esoInstallStep } from './eso-install.js';
import { esoRoleStep } from './eso-role.js';
import { clusterPreflightStep } from './preflight.js';
import { reviewerAccountStep } from './reviewer-account.js';
import { secretStoreStep } from './secret-store.js';
import { ClusterSession, type ClusterStepOptions } from './session.js';
import { verifyStep } from './verify.js';

export { ClusterSession, type ClusterStepOptions } from './session.js';

export function clusterSteps(options: ClusterStepOptions = {}): Step[] {
  const session = new ClusterSession(options);
  return [
    clusterPreflightStep(session),
    reviewerAccountStep(session),
    authMethodStep(session),
    esoInstallStep(session),
    esoRoleStep(session),
    secretStoreStep(session),
    verifyStep(session),
  ];
}

/**
 * Phase 3, the cluster: Vault's kubernetes auth method and External Secrets Operator, ending with the
 * proof that a value written to Vault shows up in a Kubernetes Secret. One ClusterSession per plan:
 * one API client, and the Vault session of the vault phase, so a token or passphrase is asked once.
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
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

/** The cluster phase's steps; `server` names Vault or OpenBao in their titles. */
export function clusterSteps(options: ClusterStepOptions = {}, server: ServerFlavor = VAULT): Step[] {
  const session = new ClusterSession(options);
  return [
    clusterPreflightStep(session, server),
    reviewerAccountStep(session, server),
    authMethodStep(session, server),
    esoInstallStep(session),
    esoRoleStep(session, server),
    secretStoreStep(session),
    verifyStep(session, server),
  ];
}

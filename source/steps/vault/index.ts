/**
 * Phase 2, the server itself (Vault or OpenBao): initialize (keys to custody first), unseal, auto-unseal on the host, the KV v2
 * engine, the policies, the tokens, and a self-test of the policies; optionally the root token is
 * revoked at the end. One VaultSession per plan, so a passphrase or a typed token is asked once.
 */
import { serverOf } from '../../core/server.js';
import type { Step } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import { autoUnsealStepFor } from './autounseal.js';
import { initStep } from './init.js';
import { kvStep } from './kv.js';
import { policiesStep } from './policies.js';
import { revokeRootStep } from './root-token.js';
import { selftestStep } from './selftest.js';
import { VaultSession, type VaultStepOptions } from './session.js';
import { tokensStep } from './tokens.js';
import { unsealStep } from './unseal.js';

export { VaultSession, type VaultStepOptions } from './session.js';

export function vaultSteps(profile: Profile, options: VaultStepOptions & { session?: VaultSession } = {}): Step[] {
  const session = options.session ?? new VaultSession(options);
  const server = serverOf(profile);
  return [
    initStep(server),
    unsealStep(session, server),
    // Installed, or removed when vault.autoUnseal is off: the step itself decides.
    autoUnsealStepFor(session, server),
    kvStep(session),
    policiesStep(session),
    ...(profile.vault.issueAccess ? [tokensStep(session, server)] : []),
    selftestStep(session),
    ...(profile.vault.revokeRootAtEnd ? [revokeRootStep(session)] : []),
  ];
}

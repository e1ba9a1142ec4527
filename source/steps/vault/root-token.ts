/**
 * vault.revoke-root (only in the plan when profile.vault.revokeRootAtEnd): revokes the root token once
 * the vault phase is configured, as Vault's hardening guide advises. init.json keeps the unseal keys and
 * is not rewritten; a separate custody note records the revocation, so later runs ask for a token
 * instead of using a dead one. A new root token can be made at any time with the unseal keys:
 * `vault operator generate-root` (https://developer.hashicorp.com/vault/docs/commands/operator/generate-root).
 * API: https://developer.hashicorp.com/vault/api-docs/auth/token#revoke-a-token-self
 */
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { custodyExists, custodyPath, writeCustody } from '../../profile/custody.js';
import { VaultApiError } from '../../services/vault.js';
import { apiAddress, openVault, readInitRecord, ROOT_REVOKED_CUSTODY_NAME, type VaultSession } from './session.js';

export const REVOKE_ROOT_STEP_ID = 'vault.revoke-root';

export const GENERATE_ROOT_ADVICE =
  'to get a new root token later: `vault operator generate-root -init` (prints a nonce and a one-time password), then `vault operator generate-root -nonce=NONCE` once per unseal key up to the threshold, then `vault operator generate-root -decode=ENCODED -otp=OTP`';

type RootState = { kind: 'revoked'; detail: string } | { kind: 'valid'; token: string };

async function rootState(ctx: StepContext, session: VaultSession): Promise<RootState> {
  if (await custodyExists(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME)) {
    return { kind: 'revoked', detail: `revoked (noted in ${custodyPath(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME)})` };
  }
  const record = await readInitRecord(ctx, session);
  if (!record) return { kind: 'revoked', detail: 'custody holds no root token' };
  const vault = await openVault(ctx);
  try {
    await vault.withToken(record.root_token).lookupSelf();
    return { kind: 'valid', token: record.root_token };
  } catch (error) {
    if (error instanceof VaultApiError && error.statusCode === 403) return { kind: 'revoked', detail: 'the root token in custody is no longer valid' };
    throw error;
  }
}

async function noteRevocation(ctx: StepContext, address: string): Promise<void> {
  await writeCustody(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME, `${JSON.stringify({ version: 1, vaultAddress: address, revokedAt: new Date().toISOString() }, null, 2)}\n`, {
    replace: true,
  });
}

export function revokeRootStep(session: VaultSession): Step {
  return {
    id: REVOKE_ROOT_STEP_ID,
    phase: 'vault',
    title: 'Revoke the root token',
    describe(ctx): Planned[] {
      return [
        { kind: 'api', summary: `POST ${apiAddress(ctx)}/v1/auth/token/revoke-self with the root token from custody` },
        { kind: 'local', summary: `${custodyPath(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME)}: the note that it was revoked` },
      ];
    },
    async check(ctx): Promise<Check> {
      const state = await rootState(ctx, session);
      return state.kind === 'revoked' ? { state: 'done', detail: state.detail } : { state: 'todo', detail: 'the root token in custody is still valid' };
    },
    async apply(ctx) {
      const state = await rootState(ctx, session);
      const address = apiAddress(ctx);
      if (state.kind === 'valid') {
        await (await openVault(ctx)).withToken(state.token).revokeSelf();
        ctx.log.info(`root token revoked at ${address}; later runs ask for a token`);
      }
      if (!(await custodyExists(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME))) await noteRevocation(ctx, address);
      session.typedToken = undefined;
      ctx.log.info(GENERATE_ROOT_ADVICE);
    },
  };
}

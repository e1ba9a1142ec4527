/**
 * vault.tokens (when profile.vault.issueAccess): one token per policy — readonly and readwrite — asked
 * for with the profile's TTL; the TTL shown, logged and recorded is the one Vault granted
 * (auth.lease_duration), said to be capped when its max TTL cut it (token-ttl.ts). Each is written to custody (tokens.json, 0600) before it is shown once, and never
 * logged. They are orphan tokens (no_parent): revoking the root token at the end of the phase must not
 * revoke them with it (Vault revokes a token's children with it).
 *
 * check: custody holds both and each still works (lookup-self answers and names its policy); an
 * expired or revoked token is todo and only that one is issued again (a still-valid token is kept:
 * replacing it would leave a live token nobody has a copy of).
 * API: https://developer.hashicorp.com/vault/api-docs/auth/token
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { custodyPath } from '../../profile/custody.js';
import { VaultApiError, type VaultApi } from '../../services/vault.js';
import { POLICY_NAMES, type PolicyName } from './policies.js';
import { cappedTtlHint, grantedTtl, type GrantedTtl } from './token-ttl.js';
import {
  adminClient,
  apiAddress,
  openVault,
  readTokensRecord,
  TOKENS_CUSTODY_NAME,
  writeTokensRecord,
  type IssuedToken,
  type TokensRecord,
  type VaultSession,
} from './session.js';

export const TOKENS_STEP_ID = 'vault.tokens';

type TokenState = { name: PolicyName; usable: true; issued: IssuedToken } | { name: PolicyName; usable: false; why: string };

async function tokenStates(ctx: StepContext, session: VaultSession, vault: VaultApi): Promise<{ record: TokensRecord | undefined; states: TokenState[] }> {
  const record = await readTokensRecord(ctx, session);
  const states: TokenState[] = [];
  for (const name of POLICY_NAMES) {
    const issued = record?.tokens[name];
    if (!issued) {
      states.push({ name, usable: false, why: `no ${name} token in custody` });
      continue;
    }
    try {
      const info = await vault.withToken(issued.token).lookupSelf();
      states.push(info.policies.includes(name) ? { name, usable: true, issued } : { name, usable: false, why: `the ${name} token in custody lacks the ${name} policy` });
    } catch (error) {
      if (error instanceof VaultApiError && error.statusCode === 403) {
        states.push({ name, usable: false, why: `the ${name} token in custody has expired or was revoked` });
      } else {
        throw error;
      }
    }
  }
  return { record, states };
}

export function tokensStep(session: VaultSession, server: ServerFlavor = VAULT): Step {
  return {
    id: TOKENS_STEP_ID,
    phase: 'vault',
    title: 'Issue a readonly and a readwrite token',
    describe(ctx): Planned[] {
      return [
        { kind: 'api', summary: `POST ${apiAddress(ctx)}/v1/auth/token/create {policies: [readonly | readwrite], ttl: ${ctx.profile.vault.accessTtl}, no_parent: true}` },
        { kind: 'local', summary: `${custodyPath(ctx.profileName, TOKENS_CUSTODY_NAME)} (0600), written before the tokens are shown once` },
      ];
    },
    async check(ctx): Promise<Check> {
      const { states } = await tokenStates(ctx, session, await openVault(ctx));
      const missing = states.filter((state) => !state.usable);
      if (missing.length === 0) return { state: 'done', detail: `readonly and readwrite tokens in ${custodyPath(ctx.profileName, TOKENS_CUSTODY_NAME)} work` };
      return { state: 'todo', detail: missing.map((state) => (state.usable ? '' : state.why)).join('; ') };
    },
    async apply(ctx) {
      const vault = await openVault(ctx);
      const { record, states } = await tokenStates(ctx, session, vault);
      const wanted = states.filter((state) => !state.usable).map((state) => state.name);
      if (wanted.length === 0) return;
      const admin = await adminClient(ctx, session, vault);
      const ttl = ctx.profile.vault.accessTtl;
      const next: TokensRecord = { version: 1, vaultAddress: vault.address, tokens: { ...(record?.tokens ?? {}) } };
      const granted: GrantedTtl[] = [];
      for (const name of wanted) {
        const created = await admin.createToken({ policies: [name], ttl, noParent: true, displayName: `picluster-${name}`, meta: { issuedBy: 'picluster-vault-tui' } });
        ctx.registerSecret(created.token);
        if (!created.policies.includes(name)) {
          throw new UserError(`Vault issued a token without the ${name} policy (it has: ${created.policies.join(', ')})`);
        }
        // What Vault granted (auth.lease_duration), which its max TTL may have cut below what was asked.
        const given = grantedTtl(ttl, created.leaseDuration, server.name);
        granted.push(given);
        next.tokens[name] = {
          token: created.token,
          accessor: created.accessor,
          policies: created.policies,
          ttl: given.ttl,
          ...(given.ttl === ttl ? {} : { askedTtl: ttl }),
          createdAt: new Date().toISOString(),
        };
        ctx.log.info(`issued a ${name} token (accessor ${created.accessor}), TTL ${given.text}`);
      }
      const capped = granted.find((given) => given.capped);
      if (capped) ctx.log.warn(cappedTtlHint(capped, server));
      const file = await writeTokensRecord(ctx, session, next);
      ctx.log.info(`tokens saved in ${file} (0600)`);
      const texts = [...new Set(granted.map((given) => given.text))];
      const shown = texts.length === 1 ? texts[0]! : wanted.map((name, i) => `${name} ${granted[i]!.text}`).join(', ');
      const expiry = [...new Set(granted.map((given) => given.ttl))];
      await ctx.prompt.revealOnce({
        title: `${server.name} tokens issued, TTL ${shown}`,
        lines: wanted.map((name) => `${name.padEnd(9)} ${next.tokens[name]!.token}`),
        note:
          `They are kept in ${file} (mode 0600). Give the readwrite token only to whoever manages secrets; the cluster uses the readonly policy through Kubernetes auth. ` +
          (expiry.length === 1 && expiry[0] === 'none' ? 'They do not expire.' : `They expire after ${expiry.join(' / ')}, the TTL ${server.name} granted; run the setup again to issue new ones.`),
      });
    },
  };
}

/**
 * cluster.eso-role: the Vault role External Secrets Operator logs in with —
 * auth/<mount>/role/external-secrets, bound to ESO's service account and namespace, granting the
 * readonly policy, with a short token TTL and the audience the ClusterSecretStore asks its token for
 * (a service account token minted for another audience cannot log in).
 * https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-role
 * https://external-secrets.io/latest/provider/hashicorp-vault/#kubernetes-authentication
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { adminClient, apiAddress } from '../vault/session.js';
import { controllerOf, inspectEso, type EsoInstallation } from './eso-install.js';
import { ESO, type ClusterSession } from './session.js';

export const ESO_ROLE_STEP_ID = 'cluster.eso-role';
/** The policy vault.policies writes for readers: ESO only ever reads. */
export const ESO_POLICY = 'readonly';
/** ESO logs in again when its token expires; an hour keeps a leaked token short-lived. */
export const ESO_TOKEN_TTL_SECONDS = 3600;
export const ESO_TOKEN_MAX_TTL_SECONDS = 4 * 3600;

export interface EsoServiceAccount {
  name: string;
  namespace: string;
}

/**
 * The service account whose token ESO presents: the controller Deployment's own (what the chart
 * creates and grants serviceaccounts/token), else the chart's default name.
 */
export async function esoServiceAccount(ctx: StepContext, session: ClusterSession): Promise<EsoServiceAccount> {
  const namespace = ctx.profile.cluster.esoNamespace;
  return serviceAccountOf(await inspectEso(await session.cluster(ctx), namespace), namespace);
}

export function serviceAccountOf(installation: EsoInstallation, namespace: string): EsoServiceAccount {
  return { name: controllerOf(installation)?.spec?.template.spec?.serviceAccountName ?? ESO.defaultServiceAccount, namespace };
}

export interface EsoRole {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  audience: string;
}

export function desiredEsoRole(account: EsoServiceAccount, audience: string): EsoRole {
  return {
    bound_service_account_names: [account.name],
    bound_service_account_namespaces: [account.namespace],
    token_policies: [ESO_POLICY],
    token_ttl: ESO_TOKEN_TTL_SECONDS,
    token_max_ttl: ESO_TOKEN_MAX_TTL_SECONDS,
    audience,
  };
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String).sort() : typeof value === 'string' && value ? value.split(',').sort() : [];
}

/** Each difference between the role Vault holds (its read answer) and the desired one, one phrase each. */
export function esoRoleDrift(current: Record<string, unknown>, desired: EsoRole): string[] {
  const drift: string[] = [];
  for (const key of ['bound_service_account_names', 'bound_service_account_namespaces', 'token_policies'] as const) {
    const have = list(current[key] ?? (key === 'token_policies' ? current['policies'] : undefined));
    const want = [...desired[key]].sort();
    if (have.join(',') !== want.join(',')) drift.push(`${key} is [${have.join(', ')}], want [${want.join(', ')}]`);
  }
  for (const key of ['token_ttl', 'token_max_ttl'] as const) {
    const have = Number(current[key] ?? 0);
    if (have !== desired[key]) drift.push(`${key} is ${have}s, want ${desired[key]}s`);
  }
  const audience = String(current['audience'] ?? '');
  if (audience !== desired.audience) drift.push(`audience is ${audience || '(none)'}, want ${desired.audience}`);
  return drift;
}

export function esoRoleStep(session: ClusterSession, server: ServerFlavor = VAULT): Step {
  return {
    id: ESO_ROLE_STEP_ID,
    phase: 'cluster',
    title: `Create the ${server.name} role for External Secrets Operator`,
    describe(ctx): Planned[] {
      const { authMountPath, esoNamespace, esoAudience } = ctx.profile.cluster;
      return [
        {
          kind: 'api',
          summary: `POST ${apiAddress(ctx)}/v1/auth/${authMountPath}/role/${ESO.vaultRole} {bound_service_account_names: [<ESO's service account>], bound_service_account_namespaces: [${esoNamespace}], token_policies: [${ESO_POLICY}], token_ttl: 1h, audience: ${esoAudience}}`,
        },
      ];
    },
    async check(ctx): Promise<Check> {
      const { authMountPath, esoAudience } = ctx.profile.cluster;
      const vault = await adminClient(ctx, session.vault);
      const current = await vault.readAuth(authMountPath, `role/${ESO.vaultRole}`);
      if (!current) return { state: 'todo', detail: `no role ${ESO.vaultRole} at auth/${authMountPath}/` };
      const account = await esoServiceAccount(ctx, session);
      const drift = esoRoleDrift(current, desiredEsoRole(account, esoAudience));
      if (drift.length > 0) return { state: 'drift', detail: drift.join('; ') };
      return { state: 'done', detail: `role ${ESO.vaultRole}: ${account.namespace}/${account.name} → policy ${ESO_POLICY}, audience ${esoAudience}` };
    },
    async apply(ctx) {
      const { authMountPath, esoAudience } = ctx.profile.cluster;
      const vault = await adminClient(ctx, session.vault);
      const account = await esoServiceAccount(ctx, session);
      ctx.log.info(`writing auth/${authMountPath}/role/${ESO.vaultRole} for service account ${account.namespace}/${account.name}`);
      await vault.writeAuth(authMountPath, `role/${ESO.vaultRole}`, { ...desiredEsoRole(account, esoAudience) });
    },
  };
}

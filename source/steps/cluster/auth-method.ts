/**
 * cluster.auth-method: Vault's kubernetes auth method at cluster.authMountPath, configured with the
 * API address Vault reaches, the cluster CA and the reviewer account's JWT. The method is enabled when
 * the path is free; another method already mounted there is reported and left alone (someone's logins
 * may depend on it). Drift in the address or CA, or a config without a reviewer JWT, is found by check.
 * https://developer.hashicorp.com/vault/api-docs/system/auth#enable-auth-method
 * https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { createHash } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { AuthenticatedVault } from '../../services/vault.js';
import { adminClient, apiAddress } from '../vault/session.js';
import { authConfigDrift, type KubernetesAuthConfig, type KubernetesAuthConfigRead } from './auth-config.js';
import { vaultSideApi } from './preflight.js';
import { readReviewerToken, REVIEWER_ACCOUNT_STEP_ID, reviewerTokenSecret } from './reviewer-account.js';
import { REVIEWER, type ClusterSession } from './session.js';

export const AUTH_METHOD_STEP_ID = 'cluster.auth-method';
/**
 * Vault never returns the reviewer JWT it holds. So that a token Secret deleted and recreated by hand
 * (a new JWT; Vault's is then refused by the TokenReview API and every login fails) shows as drift,
 * the Secret carries a fingerprint of the JWT Vault was configured with: the first 16 hex digits of
 * its SHA-256, which says nothing about the token itself. A recreated Secret loses it.
 */
export const CONFIGURED_TOKEN_ANNOTATION = 'picluster-vault-tui/vault-configured-token-sha256';
const ANNOTATION_FIELD_MANAGER = 'picluster-vault-tui-auth-method';

export function tokenFingerprint(jwt: string): string {
  return createHash('sha256').update(jwt).digest('hex').slice(0, 16);
}

type MountState = { kind: 'absent' } | { kind: 'kubernetes' } | { kind: 'foreign'; type: string };

export async function authMountState(vault: AuthenticatedVault, mount: string): Promise<MountState> {
  const entry = (await vault.listAuthMethods())[`${mount}/`];
  if (!entry) return { kind: 'absent' };
  return entry.type === 'kubernetes' ? { kind: 'kubernetes' } : { kind: 'foreign', type: entry.type };
}

export function readAuthConfig(data: Record<string, unknown> | undefined): KubernetesAuthConfigRead | undefined {
  if (!data) return undefined;
  return {
    ...(typeof data['kubernetes_host'] === 'string' ? { kubernetes_host: data['kubernetes_host'] } : {}),
    ...(typeof data['kubernetes_ca_cert'] === 'string' ? { kubernetes_ca_cert: data['kubernetes_ca_cert'] } : {}),
    ...(typeof data['token_reviewer_jwt_set'] === 'boolean' ? { token_reviewer_jwt_set: data['token_reviewer_jwt_set'] } : {}),
  };
}

function foreignMount(mount: string, type: string, address: string): UserError {
  return new UserError(`a "${type}" auth method is already enabled at auth/${mount}/ in Vault at ${address}; it is left as it is`, {
    hint: `choose another mount path for the kubernetes auth method (profile set cluster.authMountPath=NAME), or disable that method yourself (vault auth disable ${mount}) if nothing logs in with it`,
  });
}

export function authMethodStep(session: ClusterSession, server: ServerFlavor = VAULT): Step {
  async function desiredConfig(ctx: StepContext): Promise<KubernetesAuthConfig> {
    const cluster = await session.cluster(ctx);
    const api = vaultSideApi(ctx, cluster);
    const jwt = await readReviewerToken(cluster);
    if (!jwt) {
      throw new UserError(`the reviewer token Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} has no token`, {
        hint: `run the step ${REVIEWER_ACCOUNT_STEP_ID} first (setup --phase cluster does it in order)`,
      });
    }
    ctx.registerSecret(jwt);
    return { kubernetes_host: api.host, kubernetes_ca_cert: api.caPem, token_reviewer_jwt: jwt };
  }

  return {
    id: AUTH_METHOD_STEP_ID,
    phase: 'cluster',
    title: `Enable and configure ${server.name}'s kubernetes auth method`,
    describe(ctx): Planned[] {
      const mount = ctx.profile.cluster.authMountPath;
      return [
        { kind: 'api', summary: `POST ${apiAddress(ctx)}/v1/sys/auth/${mount} {type: kubernetes} (only if the path is free)` },
        { kind: 'api', summary: `POST ${apiAddress(ctx)}/v1/auth/${mount}/config {kubernetes_host: ${ctx.profile.cluster.apiAddressForVault ?? '<the kubeconfig server>'}, kubernetes_ca_cert: <cluster CA>, token_reviewer_jwt: <${REVIEWER.namespace}/${REVIEWER.tokenSecret}>}` },
      ];
    },
    async check(ctx): Promise<Check> {
      const mount = ctx.profile.cluster.authMountPath;
      const vault = await adminClient(ctx, session.vault);
      const state = await authMountState(vault, mount);
      if (state.kind === 'absent') return { state: 'todo', detail: `no auth method at auth/${mount}/` };
      if (state.kind === 'foreign') return { state: 'drift', detail: `a "${state.type}" auth method is enabled at auth/${mount}/, not kubernetes` };
      const current = readAuthConfig(await vault.readAuth(mount, 'config'));
      if (!(await readReviewerToken(await session.cluster(ctx)))) {
        return { state: 'todo', detail: `the reviewer token Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} has no token yet (${REVIEWER_ACCOUNT_STEP_ID} comes first)` };
      }
      const desired = await desiredConfig(ctx);
      const drift = authConfigDrift(current, desired);
      if (!current) return { state: 'todo', detail: `kubernetes auth enabled at auth/${mount}/, not configured yet` };
      const secret = await reviewerTokenSecret(await session.cluster(ctx));
      if (current.token_reviewer_jwt_set && secret?.metadata?.annotations?.[CONFIGURED_TOKEN_ANNOTATION] !== tokenFingerprint(desired.token_reviewer_jwt)) {
        drift.push(`Vault holds another reviewer token than Secret ${REVIEWER.namespace}/${REVIEWER.tokenSecret} (the Secret was recreated): TokenReview calls, and so logins, would fail`);
      }
      if (drift.length > 0) return { state: 'drift', detail: drift.join('; ') };
      return { state: 'done', detail: `kubernetes auth at auth/${mount}/ → ${current.kubernetes_host}` };
    },
    async apply(ctx) {
      const mount = ctx.profile.cluster.authMountPath;
      const vault = await adminClient(ctx, session.vault);
      const state = await authMountState(vault, mount);
      if (state.kind === 'foreign') throw foreignMount(mount, state.type, vault.address);
      const desired = await desiredConfig(ctx);
      if (state.kind === 'absent') {
        ctx.log.info(`enabling the kubernetes auth method at auth/${mount}/`);
        await vault.enableAuthMethod(mount, 'kubernetes', 'service accounts of the cluster (picluster-vault-tui)');
      }
      ctx.log.info(`configuring auth/${mount}/config: kubernetes_host ${desired.kubernetes_host}, the cluster CA, the reviewer token of ${REVIEWER.namespace}/${REVIEWER.serviceAccount}`);
      // The JWT travels in the request body only; it is registered with the redactor above.
      await vault.writeAuth(mount, 'config', { ...desired });
      const cluster = await session.cluster(ctx);
      await cluster.apply(
        [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: REVIEWER.tokenSecret, namespace: REVIEWER.namespace, annotations: { [CONFIGURED_TOKEN_ANNOTATION]: tokenFingerprint(desired.token_reviewer_jwt) } } }],
        ANNOTATION_FIELD_MANAGER,
      );
    },
  };
}

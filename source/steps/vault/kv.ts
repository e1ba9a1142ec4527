/**
 * vault.kv: the KV version 2 secrets engine at profile.vault.kvPath (the path the cluster reads from).
 * Mounted when the path is free; a KV version 1 or any other engine already there is reported and left
 * alone (it may hold someone's secrets; replacing it would lose them).
 * API: https://developer.hashicorp.com/vault/api-docs/system/mounts and
 * https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2 (type "kv" with options.version "2").
 */
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step } from '../../core/step.js';
import type { MountInfo } from '../../services/vault.js';
import { adminClient, apiAddress, type VaultSession } from './session.js';

export const KV_STEP_ID = 'vault.kv';

export type KvMountState = { kind: 'absent' } | { kind: 'kv-v2' } | { kind: 'foreign'; description: string };

/** What is mounted at `path` (no slashes), from the sys/mounts table. */
export function kvMountState(mounts: Record<string, MountInfo>, path: string): KvMountState {
  const entry = mounts[`${path.replace(/\/+$/, '')}/`];
  if (!entry) return { kind: 'absent' };
  if ((entry.type === 'kv' || entry.type === 'kv-v2') && entry.options?.['version'] === '2') return { kind: 'kv-v2' };
  if (entry.type === 'kv') return { kind: 'foreign', description: `a KV version ${entry.options?.['version'] ?? '1'} engine` };
  return { kind: 'foreign', description: `a "${entry.type}" engine` };
}

export function kvStep(session: VaultSession): Step {
  return {
    id: KV_STEP_ID,
    phase: 'vault',
    title: 'Mount the KV v2 secrets engine',
    describe(ctx): Planned[] {
      return [{ kind: 'api', summary: `POST ${apiAddress(ctx)}/v1/sys/mounts/${ctx.profile.vault.kvPath} {type: kv, options: {version: 2}} (only if the path is free)` }];
    },
    async check(ctx): Promise<Check> {
      const path = ctx.profile.vault.kvPath;
      const state = kvMountState(await (await adminClient(ctx, session)).listMounts(), path);
      if (state.kind === 'kv-v2') return { state: 'done', detail: `KV v2 mounted at ${path}/` };
      if (state.kind === 'absent') return { state: 'todo', detail: `nothing mounted at ${path}/` };
      return { state: 'drift', detail: `${state.description} is mounted at ${path}/, not KV v2` };
    },
    async apply(ctx) {
      const path = ctx.profile.vault.kvPath;
      const client = await adminClient(ctx, session);
      const state = kvMountState(await client.listMounts(), path);
      if (state.kind === 'kv-v2') return;
      if (state.kind === 'foreign') {
        throw new UserError(`${state.description} is already mounted at ${path}/ in Vault at ${client.address}; it is left as it is`, {
          hint: `choose another path for the cluster's secrets (profile set vault.kvPath=NAME), or move that engine yourself (vault secrets move ${path}/ OTHER/) if it is not in use`,
        });
      }
      ctx.log.info(`mounting KV v2 at ${path}/`);
      await client.enableKvV2(path, 'secrets read by the cluster (picluster-vault-tui)');
    },
  };
}

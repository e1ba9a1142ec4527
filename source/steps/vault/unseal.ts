/**
 * vault.unseal: from custody (init.json), else from the host's keys file (the auto-unseal file), else
 * typed one key at a time with the progress shown (k/t). Only as many keys as the threshold needs are
 * submitted, and submitting stops as soon as Vault reports itself unsealed.
 * API: https://developer.hashicorp.com/vault/api-docs/system/unseal
 */
import { serverOf, VAULT, type ServerFlavor } from '../../core/server.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { custodyPath } from '../../profile/custody.js';
import { VaultApiError, type SealStatus, type VaultApi } from '../../services/vault.js';
import { unsealKeysFile } from './autounseal.js';
import { apiAddress, INIT_CUSTODY_NAME, openVault, readInitRecord, type VaultSession } from './session.js';

export const UNSEAL_STEP_ID = 'vault.unseal';

/** The host keys file the auto-unseal service reads ({"keys": [hex...], "threshold": t}). */
function hostKeysFile(ctx: StepContext): string {
  return unsealKeysFile(ctx.profile);
}

/** The key list of a keys file, read as defensively as the unseal script does. */
export function keysFromKeysFile(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const record = parsed as Record<string, unknown>;
  const list = record['keys'] ?? record['unseal_keys_hex'] ?? record['unseal_keys_b64'];
  return Array.isArray(list) ? list.filter((key): key is string => typeof key === 'string' && key.length > 0) : [];
}

/** How long an unsealed node gets to become the active one (raft elects itself; a Pi may be slow). */
export const ACTIVE_WAIT_MS = 30_000;
const ACTIVE_POLL_MS = 200;

/**
 * Waits until an unsealed node is the active one. Right after an unseal a raft node is a standby
 * until it has elected itself (sys/health 429, `standby: true`); requests other than sys/* then
 * fail with 500 "local node not active" (seen from the real OpenBao 2.7.2; Vault's raft storage does
 * the same). Bounded: a node still a standby after ACTIVE_WAIT_MS is a standby of a cluster whose
 * other peers are down or lead elsewhere (this setup makes a single node; users may join more), and
 * is said so.
 */
export async function waitUntilActive(ctx: StepContext, vault: VaultApi, timeoutMs = ACTIVE_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const health = await vault.health();
    if (health.sealed || !health.standby) return;
    if (!told) {
      ctx.log.info(`unsealed, waiting for leadership: ${vault.address} is a standby until raft makes it the active node (up to ${Math.round(timeoutMs / 1000)} s)`);
      told = true;
    }
    if (Date.now() >= deadline) {
      throw new UserError(`${vault.address} is unsealed but still a standby after ${Math.round(timeoutMs / 1000)} s`, {
        hint: `raft makes a node active only with a majority of the raft peers unsealed and reachable (a single node elects itself within seconds): if this node has peers (it joined others, or others joined it), start and unseal enough of them; otherwise look at the server's log (the \`logs\` command) for raft errors, then try again`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, ACTIVE_POLL_MS));
    ctx.signal.throwIfAborted();
  }
}

function sealedDetail(status: SealStatus): string {
  return `sealed (unseal progress ${status.progress}/${status.t})`;
}

/** Submits `keys` (at most the threshold) and says which source failed when they do not unseal Vault. */
export async function unsealWithKeys(ctx: StepContext, vault: VaultApi, status: SealStatus, keys: string[], source: string): Promise<void> {
  const name = serverOf(ctx.profile).name;
  if (status.progress > 0) {
    // Shares typed earlier (maybe wrong ones) would be combined with ours: start from zero.
    ctx.log.info(`discarding ${status.progress} key share(s) submitted earlier`);
    await vault.unsealReset();
  }
  const needed = keys.slice(0, status.t);
  let submitted = 0;
  for (const key of needed) {
    let after: SealStatus;
    try {
      after = await vault.unseal(key);
    } catch (error) {
      if (error instanceof VaultApiError && error.statusCode === 400) {
        throw new UserError(`the keys in ${source} do not unseal ${name} at ${vault.address}: ${error.errors.join('; ') || error.message}`, {
          hint: `they may belong to another ${name}. Keep ${source} as it is, and unseal by typing this ${name}'s keys: move the file aside for this run, or use the \`unseal\` command`,
        });
      }
      throw error;
    }
    submitted++;
    if (!after.sealed) {
      ctx.log.info(`${name} unsealed with ${submitted} of ${status.n} keys from ${source}`);
      await waitUntilActive(ctx, vault);
      return;
    }
    ctx.log.info(`unseal progress ${after.progress}/${after.t}`);
  }
  throw new UserError(`the ${keys.length} key(s) in ${source} are not enough to unseal ${name} at ${vault.address} (it needs ${status.t})`, {
    hint: 'type the missing keys: use the unseal step without keys in custody, or the `unseal` command',
  });
}

/** Asks for one key at a time, showing k/t; a refused key is explained and a reset offered. */
export async function unsealByTyping(ctx: StepContext, vault: VaultApi): Promise<void> {
  const name = serverOf(ctx.profile).name;
  // Why the last key was refused, said again in the next question: the log pane is hidden behind
  // the key dialog, and a headless prompt shows only the question.
  let refusal: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    const status = await vault.sealStatus();
    if (!status.sealed) return waitUntilActive(ctx, vault);
    const question = `Unseal key ${status.progress + 1} of ${status.t} for ${vault.address}:`;
    const key = (await ctx.prompt.secret(refusal ? `${refusal.replace(/\.?$/, '.')} ${question}` : question)).trim();
    refusal = undefined;
    if (key.length === 0) {
      ctx.log.warn('an empty key was ignored');
      continue;
    }
    ctx.registerSecret(key);
    try {
      const after = await vault.unseal(key);
      if (!after.sealed) {
        ctx.log.info(`${name} unsealed (${after.t === 0 ? status.t : after.t} keys)`);
        await waitUntilActive(ctx, vault);
        return;
      }
      ctx.log.info(`unseal progress ${after.progress}/${after.t}`);
    } catch (error) {
      if (!(error instanceof VaultApiError && error.statusCode === 400)) throw error;
      const now = await vault.sealStatus();
      const reason = error.errors.join('; ') || error.message;
      if (now.progress === 0) {
        // Vault discards the shares of a threshold attempt that failed.
        refusal = `${name} refused the keys (${reason}): one of the ${status.t} keys typed is wrong or belongs to another ${name}. Progress is back to 0/${now.t}: type ${now.t} keys again.`;
        ctx.log.warn(refusal);
      } else {
        refusal = `${name} refused that key (${reason}); progress stays ${now.progress}/${now.t}`;
        ctx.log.warn(refusal);
        const reset = await ctx.prompt.confirm(`Discard the ${now.progress} key(s) accepted so far and start over?`, {
          defaultValue: false,
          detail: 'Start over if you are unsure any key typed so far was right.',
        });
        if (reset) {
          await vault.unsealReset();
          ctx.log.info(`unseal progress reset to 0/${now.t}`);
        }
      }
    }
  }
}

export async function hostKeys(ctx: StepContext): Promise<{ keys: string[]; file: string } | undefined> {
  const file = hostKeysFile(ctx);
  const transport = await ctx.services.host();
  const stat = await transport.stat(file, { sudo: true, signal: ctx.signal });
  if (!stat.exists) return undefined;
  const keys = keysFromKeysFile((await transport.readFile(file, { sudo: true, signal: ctx.signal })).toString('utf8'));
  for (const key of keys) ctx.registerSecret(key);
  return keys.length > 0 ? { keys, file: `${file} on the host` } : undefined;
}

export function unsealStep(session: VaultSession, server: ServerFlavor = VAULT): Step {
  return {
    id: UNSEAL_STEP_ID,
    phase: 'vault',
    title: `Unseal ${server.name}`,
    describe(ctx): Planned[] {
      return [
        {
          kind: 'api',
          summary: `PUT ${apiAddress(ctx)}/v1/sys/unseal with threshold keys from ${custodyPath(ctx.profileName, INIT_CUSTODY_NAME)}, else ${hostKeysFile(ctx)} on the host, else typed (only when sealed)`,
        },
      ];
    },
    async check(ctx): Promise<Check> {
      const vault = await openVault(ctx);
      const status = await vault.sealStatus();
      if (!status.initialized) return { state: 'todo', detail: `${server.name} at ${vault.address} is not initialized` };
      if (status.sealed) return { state: 'todo', detail: sealedDetail(status) };
      // Unsealed but still a standby (a restart unsealed by the auto-unseal unit a moment ago): not
      // done yet, or the steps after this one would meet 500 "local node not active"; apply waits.
      const health = await vault.health();
      if (!health.sealed && health.standby) return { state: 'todo', detail: `unsealed, waiting for leadership (a standby until raft makes it the active node)` };
      return { state: 'done', detail: `unsealed (${status.t} of ${status.n} keys), version ${status.version}` };
    },
    async apply(ctx) {
      const vault = await openVault(ctx);
      const status = await vault.sealStatus();
      if (!status.initialized) throw new UserError(`${server.name} at ${vault.address} is not initialized`, { hint: 'run the init step first' });
      // Unsealed already (by the auto-unseal unit after a restart, say): the next steps need the active node.
      if (!status.sealed) return waitUntilActive(ctx, vault);
      const record = await readInitRecord(ctx, session);
      if (record) {
        await unsealWithKeys(ctx, vault, status, record.keys, custodyPath(ctx.profileName, INIT_CUSTODY_NAME));
        return;
      }
      const fromHost = await hostKeys(ctx);
      if (fromHost) {
        await unsealWithKeys(ctx, vault, status, fromHost.keys, fromHost.file);
        return;
      }
      ctx.log.info(`no unseal keys in custody or on the host: type ${status.t} of the ${status.n} keys`);
      await unsealByTyping(ctx, vault);
    },
  };
}

/**
 * vault.init: PUT sys/init, once in the life of a Vault.
 *
 * The answer is the only copy of the unseal keys and the root token in the world, so the order is
 * fixed: (1) custody init.json is written (atomic, fsync, 0600) before anything else is done with the
 * answer — not even a log line; (2) every value is registered with the redactor; (3) the keys are shown
 * once and the user acknowledges them. A crash at any instant after Vault answered leaves the keys in
 * custody. Custody is proven writable (a test write, fsync, link, free space) before sys/init; if the
 * write still fails, the answer goes to a 0600 file elsewhere (custody's directory under another
 * name, the home or working directory) and is shown at once, headless too: never only in memory.
 *
 * An initialized Vault is never initialized again. If custody has no keys for it, the step fails and
 * says how to go on (type the keys with the unseal step).
 * API: https://developer.hashicorp.com/vault/api-docs/system/init
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { InputError, UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { validateShares } from '../../core/validate.js';
import { custodyExists, custodyIsEncrypted, custodyPath, proveCustodyWritable, readCustody, writeCustody, writeLastCopy } from '../../profile/custody.js';
import type { InitAnswer, SealStatus } from '../../services/vault.js';
import { apiAddress, INIT_CUSTODY_NAME, openVault, parseInitRecord, registerInitSecrets, type InitRecord } from './session.js';

export const INIT_STEP_ID = 'vault.init';

/**
 * Test-only hook: when set to a file path, apply waits after init.json is in custody until that file
 * exists, so an end-to-end test can SIGKILL the process at the most dangerous instant and prove the
 * next run finds the keys. Not a user setting; nothing else reads it.
 */
export const PAUSE_AFTER_INIT_ENV = 'PICLUSTER_VAULT_TUI_TEST_PAUSE_AFTER_INIT';

/** Shares and threshold as the profile asks; a message for the user when they are not allowed. */
export function checkShares(shares: number, threshold: number): { error?: string; warning?: string } {
  const error = validateShares(shares, threshold);
  if (error) return { error };
  if (shares === 1 && threshold === 1) {
    return {
      warning:
        'one key share with threshold 1: whoever holds that one key can unseal Vault. A homelab trade-off; with 5 shares and threshold 3 no single copy is enough.',
    };
  }
  return {};
}

/** The lines shown once after init, as `vault operator init` prints them. */
export function revealLines(answer: InitAnswer): string[] {
  return [...answer.keys_base64.map((key, index) => `Unseal Key ${index + 1}: ${key}`), `Initial Root Token: ${answer.root_token}`];
}

/** What custody holds for this Vault, read without asking for a passphrase (a check never asks). */
async function custodyState(ctx: StepContext, status: SealStatus): Promise<{ kind: 'none' } | { kind: 'encrypted' } | { kind: 'matches' | 'other'; record: InitRecord }> {
  if (!(await custodyExists(ctx.profileName, INIT_CUSTODY_NAME))) return { kind: 'none' };
  if (await custodyIsEncrypted(ctx.profileName, INIT_CUSTODY_NAME)) return { kind: 'encrypted' };
  const file = custodyPath(ctx.profileName, INIT_CUSTODY_NAME);
  const record = parseInitRecord((await readCustody(ctx.profileName, INIT_CUSTODY_NAME)).toString('utf8'), file);
  registerInitSecrets(ctx, record);
  // A Vault with other shares/threshold than the record cannot be the one these keys belong to. The
  // address may change (DHCP, a new name) for the same Vault, so it is not part of the identity; a
  // wrong key set is still caught by the unseal step, which says so.
  return { kind: status.n === record.shares && status.t === record.threshold ? 'matches' : 'other', record };
}

function initializedElsewhere(address: string, file: string, detail: string, name: string): UserError {
  return new UserError(`${name} at ${address} was initialized elsewhere; this profile has no keys for it (${detail})`, {
    hint: `it is never initialized again. If you hold its unseal keys, type them: press u on the Setup screen (one key at a time, progress shown). Keys of another ${name} in ${file} were left untouched.`,
  });
}

async function waitForTestRelease(file: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    try {
      await access(file, constants.F_OK);
      return;
    } catch {
      signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function initStep(server: ServerFlavor = VAULT): Step {
  return {
    id: INIT_STEP_ID,
    phase: 'vault',
    title: `Initialize ${server.name} (keys to custody first, shown once)`,
    describe(ctx): Planned[] {
      const { keyShares, keyThreshold } = ctx.profile.vault;
      return [
        { kind: 'api', summary: `PUT ${apiAddress(ctx)}/v1/sys/init {secret_shares: ${keyShares}, secret_threshold: ${keyThreshold}} (only if not initialized)` },
        { kind: 'local', summary: `${custodyPath(ctx.profileName, INIT_CUSTODY_NAME)} (0600): unseal keys and root token, written before they are shown once` },
      ];
    },
    async check(ctx): Promise<Check> {
      const vault = await openVault(ctx);
      const status = await vault.sealStatus();
      const file = custodyPath(ctx.profileName, INIT_CUSTODY_NAME);
      if (!status.initialized) return { state: 'todo', detail: `${server.name} at ${vault.address} is not initialized` };
      const custody = await custodyState(ctx, status);
      if (custody.kind === 'matches') return { state: 'done', detail: `initialized (${status.t} of ${status.n} keys to unseal); keys in ${file}` };
      if (custody.kind === 'encrypted') return { state: 'done', detail: `initialized (${status.t} of ${status.n} keys to unseal); keys in ${file} (passphrase-protected)` };
      if (custody.kind === 'none') return { state: 'drift', detail: `${server.name} at ${vault.address} is initialized but this profile has no keys for it` };
      return {
        state: 'drift',
        detail: `${server.name} at ${vault.address} is initialized with ${status.t} of ${status.n} keys, but ${file} holds ${custody.record.threshold} of ${custody.record.shares} (another ${server.name}'s keys)`,
      };
    },
    async apply(ctx) {
      const { keyShares: shares, keyThreshold: threshold } = ctx.profile.vault;
      const { error, warning } = checkShares(shares, threshold);
      if (error) throw new InputError(error, { field: 'vault.keyThreshold', hint: 'set vault.keyShares and vault.keyThreshold: 2 ≤ threshold ≤ shares ≤ 10 (e.g. 5 and 3), or 1 and 1' });
      const vault = await openVault(ctx);
      const file = custodyPath(ctx.profileName, INIT_CUSTODY_NAME);
      const status = await vault.sealStatus();
      if (status.initialized) {
        const custody = await custodyState(ctx, status);
        if (custody.kind === 'matches' || custody.kind === 'encrypted') return;
        throw initializedElsewhere(
          vault.address,
          file,
          custody.kind === 'none' ? `no ${INIT_CUSTODY_NAME} in custody` : `${INIT_CUSTODY_NAME} holds ${custody.record.threshold} of ${custody.record.shares} keys, ${server.name} has ${status.t} of ${status.n}`,
          server.name,
        );
      }
      if (warning) ctx.log.warn(warning);
      // A custody init.json for a Vault that is not initialized belongs to a Vault that no longer
      // exists (wiped data dir, reinstalled host). It is replaced, and kept beside as init.json.bak-<time>.
      const replace = await custodyExists(ctx.profileName, INIT_CUSTODY_NAME);
      if (replace) ctx.log.warn(`${file} holds keys of an earlier ${server.name} (this one is not initialized); it is kept as a .bak file beside the new one`);
      // sys/init cannot be undone: custody must be able to take the answer before it is asked for.
      await proveCustodyWritable(ctx.profileName, INIT_CUSTODY_NAME);
      ctx.log.info(`initializing ${server.name} at ${vault.address} with ${shares} key shares, threshold ${threshold}`);

      const answer = await vault.init({ shares, threshold });
      const record: InitRecord = {
        version: 1,
        vaultAddress: vault.address,
        initializedAt: new Date().toISOString(),
        shares,
        threshold,
        keys: answer.keys,
        keys_base64: answer.keys_base64,
        root_token: answer.root_token,
      };
      const content = `${JSON.stringify(record, null, 2)}\n`;
      try {
        await writeCustody(ctx.profileName, INIT_CUSTODY_NAME, content, { replace });
      } catch (writeError) {
        // The answer exists nowhere else: a file elsewhere, and the screen (headless too), now.
        const reason = writeError instanceof Error ? writeError.message : String(writeError);
        const lastCopy = await writeLastCopy(ctx.profileName, INIT_CUSTODY_NAME, content);
        registerInitSecrets(ctx, answer);
        ctx.log.error(`${server.name} was initialized but writing ${file} failed (${reason}); ${lastCopy ? `the keys and root token are in ${lastCopy} (0600)` : 'no file could take the keys: they are shown on the terminal only'}`);
        await ctx.prompt.revealOnce({
          title: `${server.name} was initialized but its keys could NOT be saved in custody: copy them now`,
          lines: revealLines(answer),
          note: `writing ${file} failed (${reason}). ${lastCopy ? `A copy is in ${lastCopy} (mode 0600); these lines are the other.` : 'No file could take them: these lines are the only copy.'} Store them safely before going on.`,
          lastCopy: true,
        });
        throw new UserError(`${server.name} was initialized but its keys could not be written to custody (${reason})`, {
          hint: lastCopy
            ? `they are in ${lastCopy}: once custody is fixed, move it into place (mv ${lastCopy} ${file}) and run the setup again`
            : `they were shown once above: once custody is fixed, put them in ${file} (or unseal by typing them) and run the setup again`,
        });
      }
      const pauseFile = process.env[PAUSE_AFTER_INIT_ENV];
      if (pauseFile) await waitForTestRelease(pauseFile, ctx.signal);
      registerInitSecrets(ctx, answer);
      ctx.log.info(`unseal keys and root token saved in ${file} (0600)`);
      await ctx.prompt.revealOnce({
        title: `${server.name} initialized: ${shares} unseal keys (any ${threshold} unseal it) and the root token`,
        lines: revealLines(answer),
        note: `They are kept in ${file} (mode 0600, this machine only). Copy the keys to separate safe places (a password manager, paper): whoever holds ${threshold} of them can unseal ${server.name}, and without ${threshold} of them nobody can.`,
      });
    },
  };
}

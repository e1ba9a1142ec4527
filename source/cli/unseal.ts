/**
 * `unseal [--from auto|custody|host|typed]`: unseals Vault after a power cut, from anywhere.
 *
 * Keys come from, in this order (or only from the one `--from` names):
 *  1. custody init.json (asks the custody passphrase in a terminal when the file is protected);
 *  2. the host's keys file /etc/vault/unseal.json, read with sudo over the transport;
 *  3. typed: masked, one at a time, from the terminal; or, when stdin is not a terminal, one key per
 *     line from stdin (`... | picluster-vault-tui unseal`). Never from argv (visible in `ps`).
 * Only as many keys as the threshold needs are submitted, and submitting stops once Vault is
 * unsealed. Progress `k/t` goes to stderr; stdout stays empty. Every key read is registered with the
 * redactor before it is used, and none is ever printed.
 *
 * The submitting itself is the unseal step's (steps/vault/unseal.ts), so the command and the setup
 * behave alike: the same reset of earlier shares, the same messages for refused keys.
 *
 * Exit codes: 0 unsealed (or already unsealed) and the active node: right after an unseal a raft
 * node is a standby until it has elected itself, and the command waits for that (bounded; the unseal
 * step's waitUntilActive); 1 the keys were refused or were not enough, Vault could not be reached /
 * is not initialized, or it stayed a standby; 2 bad input (unknown --from, no keys on stdin, a
 * question with no terminal to ask it on).
 * API: https://developer.hashicorp.com/vault/api-docs/system/unseal
 */
import { serverOf } from '../core/server.js';
import { createInterface } from 'node:readline';
import { InputError, UserError } from '../core/errors.js';
import { createHeadlessPrompter } from '../core/headless-prompter.js';
import { LogFile } from '../core/log-file.js';
import { Redactor } from '../core/redact.js';
import type { Prompter, StepContext } from '../core/step.js';
import { custodyPath } from '../profile/custody.js';
import { logFile } from '../profile/paths.js';
import { commandFor, ProfileStore } from '../profile/store.js';
import type { SealStatus, VaultApi } from '../services/vault.js';
import { INIT_CUSTODY_NAME, openVault, readInitRecord, VaultSession } from '../steps/vault/session.js';
import { hostKeys, unsealByTyping, unsealWithKeys, waitUntilActive } from '../steps/vault/unseal.js';
import type { GlobalOptions, Output } from './output.js';
import { commandServices, commandStepContext } from './status.js';

export const UNSEAL_SOURCES = ['auto', 'custody', 'host', 'typed'] as const;
export type UnsealSource = (typeof UNSEAL_SOURCES)[number];

export interface UnsealOptions {
  from?: string;
}

export function parseUnsealSource(value: string | undefined): UnsealSource {
  if (value === undefined) return 'auto';
  if ((UNSEAL_SOURCES as readonly string[]).includes(value)) return value as UnsealSource;
  throw new InputError(`unknown key source "${value}"`, { field: '--from', hint: `use one of ${UNSEAL_SOURCES.join(', ')}` });
}

/** Thrown by the stdin key reader at end of input: the caller decides between "no keys" and "not enough". */
class KeysExhausted extends Error {
  override readonly name = 'KeysExhausted';
}

/**
 * Unseal keys from a non-terminal stdin, one per line (blank lines skipped), read only when a key is
 * asked for. Every other question goes to `others` (which has no terminal either: it answers with the
 * safe default or fails), so a key is never taken for a password and a password never for a key.
 */
export function stdinKeyPrompter(input: NodeJS.ReadableStream, others: Prompter, registerSecret: (value: string) => void): Prompter & { keysRead(): number } {
  let lines: AsyncIterator<string> | undefined;
  let read = 0;
  return {
    confirm: (question, options) => others.confirm(question, options),
    text: (question, options) => others.text(question, options),
    revealOnce: (reveal) => others.revealOnce(reveal),
    async secret() {
      lines ??= createInterface({ input, crlfDelay: Infinity, terminal: false })[Symbol.asyncIterator]();
      for (;;) {
        const next = await lines.next();
        if (next.done) throw new KeysExhausted('no more keys on stdin');
        const key = next.value.trim();
        if (key.length === 0) continue;
        registerSecret(key);
        read++;
        return key;
      }
    },
    keysRead: () => read,
  };
}

function describeProgress(status: SealStatus): string {
  return `${status.progress}/${status.t}`;
}

export async function unseal(global: GlobalOptions, options: UnsealOptions, output: Output): Promise<number> {
  const source = parseUnsealSource(options.from);
  const store = new ProfileStore();
  const profile = store.load(global.profile);
  const redactor = new Redactor();
  const interactive = Boolean(process.stdin.isTTY);
  const register = (value: string): void => redactor.register(value);
  // Questions besides the keys (custody passphrase, SSH or sudo password, an unknown host key) are
  // asked in a terminal; without one the safe default answers or the question fails: stdin then
  // carries the keys and nothing else.
  const prompt = createHeadlessPrompter({ assumeYes: !interactive, registerSecret: register });
  const keyPrompt = interactive ? prompt : stdinKeyPrompter(process.stdin, prompt, register);
  const services = commandServices(profile, global.profile, store, prompt, true);
  const log = new LogFile(logFile(global.profile));
  const s = output.errStyle;
  const ctx = commandStepContext({
    profileName: global.profile,
    profile,
    services,
    prompt,
    redactor,
    onLog: (level, text) => {
      try {
        log.writeRaw(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [unseal] ${text}`);
      } catch {
        // An unwritable log must not stop an unseal; stderr still shows the line.
      }
      if (level === 'debug') return;
      output.err(level === 'warn' ? s.yellow(text) : level === 'error' ? s.red(text) : text);
    },
  });
  const session = new VaultSession();
  const name = serverOf(ctx.profile).name;
  try {
    const vault = await openVault(ctx);
    const status = await vault.sealStatus();
    if (!status.initialized) {
      throw new UserError(`${name} at ${vault.address} is not initialized: there is nothing to unseal`, {
        hint: `initialize it with \`${commandFor(global.profile, 'setup --phase vault')}\``,
      });
    }
    if (!status.sealed) {
      ctx.log.info(`${name} at ${vault.address} is already unsealed`);
      // Unsealed a moment ago (by the auto-unseal unit after a restart, say) it may still be a
      // standby: exit 0 only once it serves, as after our own unseal, so `unseal && …` can go on.
      await waitUntilActive(ctx, vault);
      return 0;
    }
    ctx.log.info(`${name} at ${vault.address} is sealed (unseal progress ${describeProgress(status)}, ${status.n} key shares)`);
    await unsealFrom(source, { ctx, vault, status, session, keyPrompt, profileName: global.profile });
    const after = await vault.sealStatus();
    if (after.sealed) {
      throw new UserError(`${name} at ${vault.address} is still sealed (unseal progress ${describeProgress(after)})`, {
        hint: `give the missing keys: \`${commandFor(global.profile, 'unseal --from typed')}\``,
      });
    }
    output.err(s.green(`${name} at ${vault.address} is unsealed`));
    return 0;
  } finally {
    await services.close().catch(() => undefined);
    log.close();
  }
}

interface UnsealRun {
  ctx: StepContext;
  vault: VaultApi;
  status: SealStatus;
  session: VaultSession;
  keyPrompt: Prompter & { keysRead?(): number };
  profileName: string;
}

async function unsealFrom(source: UnsealSource, run: UnsealRun): Promise<void> {
  const { ctx, vault, status, session } = run;
  if (source === 'auto' || source === 'custody') {
    const record = await readInitRecord(ctx, session);
    if (record) {
      await unsealWithKeys(ctx, vault, status, record.keys, custodyPath(run.profileName, INIT_CUSTODY_NAME));
      return;
    }
    if (source === 'custody') {
      throw new UserError(`there is no ${INIT_CUSTODY_NAME} in custody (${custodyPath(run.profileName, INIT_CUSTODY_NAME)})`, {
        hint: `use the host's keys file or type the keys: \`${commandFor(run.profileName, 'unseal --from host')}\` or \`--from typed\``,
      });
    }
  }
  if (source === 'auto' || source === 'host') {
    let fromHost: Awaited<ReturnType<typeof hostKeys>>;
    try {
      fromHost = await hostKeys(ctx);
    } catch (error) {
      if (source === 'host') throw error;
      // The host being out of reach must not stand between the user and typing the keys.
      ctx.log.warn(`could not read the host's keys file: ${error instanceof Error ? error.message : String(error)}`);
      fromHost = undefined;
    }
    if (fromHost) {
      await unsealWithKeys(ctx, vault, status, fromHost.keys, fromHost.file);
      return;
    }
    if (source === 'host') throw new UserError('the host has no keys file, or it holds no keys', { hint: `type the keys: \`${commandFor(run.profileName, 'unseal --from typed')}\`` });
    ctx.log.info('no unseal keys in custody or on the host');
  }
  ctx.log.info(
    process.stdin.isTTY ? `type ${status.t} of the ${status.n} unseal keys (input is hidden)` : `reading unseal keys from stdin, one per line (${status.t} needed)`,
  );
  try {
    await unsealByTyping({ ...ctx, prompt: run.keyPrompt }, vault);
  } catch (error) {
    if (!(error instanceof KeysExhausted)) throw error;
    const read = run.keyPrompt.keysRead?.() ?? 0;
    if (read === 0) {
      throw new InputError('no unseal keys on stdin', {
        field: 'stdin',
        hint: `pipe ${status.t} keys, one per line, or run it in a terminal to type them`,
      });
    }
    const now = await vault.sealStatus();
    throw new UserError(`the ${read} key(s) read from stdin did not unseal ${serverOf(ctx.profile).name} at ${vault.address} (unseal progress ${describeProgress(now)})`, {
      hint: `give ${now.t - now.progress} more key(s) of this ${serverOf(ctx.profile).name}; a refused key resets the progress to 0, then all ${now.t} are needed again`,
    });
  }
}

/**
 * `seal [--yes]`: seals Vault (PUT sys/seal with the root token from custody, else typed). Every
 * client loses access until Vault is unsealed again (`unseal`), so it asks first in a terminal; with
 * no terminal it refuses unless --yes says the question was answered in advance.
 * A restart of vault.service would unseal it again through vault-unseal.service when auto-unseal is
 * installed; sealing itself does not trigger that unit.
 * API: https://developer.hashicorp.com/vault/api-docs/system/seal
 *
 * Exit codes: 0 Vault is sealed (now, or it already was); 1 it was not sealed (declined at the
 * question, Vault unreachable or not initialized, the token refused); 2 bad input (no terminal to
 * ask and no --yes, or a token is needed and there is no terminal to type it).
 */
import { serverOf } from '../core/server.js';
import { InputError, UserError } from '../core/errors.js';
import { commandFor } from '../profile/store.js';
import { openVault } from '../steps/vault/session.js';
import { openCommandContext } from './command-context.js';
import type { GlobalOptions, Output } from './output.js';

export interface SealOptions {
  yes?: boolean;
}

export async function seal(global: GlobalOptions, options: SealOptions, output: Output): Promise<number> {
  const yes = options.yes === true;
  if (!yes && !process.stdin.isTTY) {
    throw new InputError('seal asks for confirmation and there is no terminal to ask it on', {
      field: '--yes',
      hint: `run it in a terminal, or pass --yes to seal without asking: \`${commandFor(global.profile, 'seal --yes')}\``,
    });
  }
  const command = openCommandContext(global, output, { command: 'seal', assumeYes: yes });
  const { ctx } = command;
  const name = serverOf(command.profile).name;
  const s = output.errStyle;
  try {
    const vault = await openVault(ctx);
    const before = await vault.sealStatus();
    if (!before.initialized) {
      throw new UserError(`${name} at ${vault.address} is not initialized: there is nothing to seal`, {
        hint: `initialize it with \`${commandFor(command.profileName, 'setup --phase vault')}\``,
      });
    }
    if (before.sealed) {
      output.err(`${name} at ${vault.address} is already sealed`);
      return 0;
    }
    if (!yes) {
      const go = await command.prompt.confirm(`Seal ${name} at ${vault.address}?`, {
        defaultValue: false,
        detail: `Every client (External Secrets, apps, the ${name} CLI) loses access until it is unsealed again with ${before.t} of the ${before.n} unseal keys.`,
      });
      if (!go) {
        output.err('not sealed');
        return 1;
      }
    }
    const token = await command.rootToken();
    await vault.withToken(token).seal();
    const after = await vault.sealStatus();
    if (!after.sealed) throw new UserError(`${name} at ${vault.address} answered the seal request but still reports itself unsealed`);
    output.err(s.green(`${name} at ${vault.address} is sealed`));
    output.err(`hint: unseal it with \`${commandFor(command.profileName, 'unseal')}\``);
    return 0;
  } finally {
    await command.close();
  }
}

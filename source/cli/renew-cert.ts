/**
 * `renew-cert [--force] [--json]`: renews Vault's server certificate when it is due (30 days or fewer
 * left, or not served at all) or when --force asks, and proves the new one is served (see
 * renewServerCertificate in steps/host/tls.ts): re-issued from the CA in custody for the same key and
 * names, uploaded, vault.service restarted, the API's certificate read again over TLS verified with
 * our CA. A provided certificate (vault.tls.mode provided) is the user's to renew: this says so, and
 * uploads their renewed files once they are in place.
 *
 * A restart seals Vault. When it was unsealed before (or could not be asked, e.g. its certificate had
 * expired), it is unsealed again: vault-unseal.service does it when auto-unseal is installed;
 * otherwise, or when that did not happen within a minute, with the keys in custody.
 *
 * Exit codes: 0 renewed and served (or not due: nothing done), Vault unsealed again if it was before;
 * 1 not renewed (a provided certificate that is due, no CA in custody, the new certificate not
 * served), or Vault left sealed after the restart; 2 bad input; 130 cancelled.
 */
import { serverOf } from '../core/server.js';
import { isAbortError, UserError } from '../core/errors.js';
import { commandFor } from '../profile/store.js';
import type { CertificateInfo } from '../services/tls.js';
import type { VaultApi } from '../services/vault.js';
import { renewServerCertificate, type RenewResult } from '../steps/host/tls.js';
import { INIT_CUSTODY_NAME, openVault, readInitRecord } from '../steps/vault/session.js';
import { unsealWithKeys, waitUntilActive } from '../steps/vault/unseal.js';
import { custodyPath } from '../profile/custody.js';
import { openCommandContext, type CommandContext } from './command-context.js';
import type { GlobalOptions, Output } from './output.js';

export interface RenewCertOptions {
  force?: boolean;
  json?: boolean;
}

/** How long vault-unseal.service gets to unseal Vault after the restart before custody's keys are used. */
export const AUTO_UNSEAL_WAIT_MS = 60_000;
const POLL_MS = 500;

function certificateJson(info: CertificateInfo | undefined): Record<string, unknown> | null {
  if (!info) return null;
  return { serialNumber: info.serialNumber, fingerprint256: info.fingerprint256, notAfter: info.notAfter.toISOString(), daysLeft: info.daysLeft, subject: info.subject, issuer: info.issuer };
}

async function sealedOrUnknown(vault: VaultApi): Promise<boolean | undefined> {
  try {
    return (await vault.sealStatus()).sealed;
  } catch {
    return undefined;
  }
}

/** After the restart: Vault answering, and unsealed again (auto-unseal first, then custody). Resolves with whether it is sealed. */
async function unsealAfterRestart(command: CommandContext, vault: VaultApi): Promise<boolean> {
  const { ctx } = command;
  const autoUnseal = command.profile.vault.autoUnseal;
  const deadline = Date.now() + (autoUnseal ? AUTO_UNSEAL_WAIT_MS : 0);
  let status = await vault.sealStatus();
  const server = serverOf(command.profile);
  if (status.sealed && autoUnseal) ctx.log.info(`waiting for ${server.unsealUnit} to unseal ${server.name}`);
  while (status.sealed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    ctx.signal.throwIfAborted();
    status = await vault.sealStatus();
  }
  if (!status.sealed) {
    ctx.log.info(`${server.name} at ${vault.address} is unsealed`);
    // Unsealed by the auto-unseal unit a moment ago: a standby until raft elects it (as after our own unseal).
    await waitUntilActive(ctx, vault);
    return false;
  }
  const record = await readInitRecord(ctx, command.session);
  if (!record) {
    ctx.log.warn(`${server.name} at ${vault.address} is sealed after the restart and custody holds no keys (${custodyPath(command.profileName, INIT_CUSTODY_NAME)})`);
    return true;
  }
  await unsealWithKeys(ctx, vault, status, record.keys, custodyPath(command.profileName, INIT_CUSTODY_NAME));
  return (await vault.sealStatus()).sealed;
}

function printResult(output: Output, result: RenewResult, serverName: string): void {
  const served = result.served;
  const line = `serial ${served.serialNumber}, expires ${served.notAfter.toISOString().slice(0, 10)} (${served.daysLeft} days), SHA-256 ${served.fingerprint256}`;
  const verb: Record<RenewResult['outcome'], string> = {
    renewed: 'renewed',
    restarted: `restarted ${serverName} to serve the installed certificate`,
    uploaded: 'uploaded your certificate',
    'not-due': 'not due',
  };
  output.out(`${verb[result.outcome]}: ${line}`);
}

export async function renewCert(global: GlobalOptions, options: RenewCertOptions, output: Output): Promise<number> {
  const command = openCommandContext(global, output, { command: 'renew-cert', assumeYes: false });
  const { ctx } = command;
  try {
    const vault = await openVault(ctx);
    const sealedBefore = await sealedOrUnknown(vault);
    const result = await renewServerCertificate(ctx, { force: options.force === true });
    let sealedAfter: boolean | undefined = sealedBefore;
    if (result.outcome !== 'not-due') {
      // Sealed before: the restart changes nothing about that. Unknown (e.g. the old certificate had
      // expired, so nothing could be asked): a working Vault is what the user came for.
      sealedAfter = sealedBefore === true ? await sealedOrUnknown(vault) : await unsealAfterRestart(command, vault);
    }
    if (options.json) {
      output.json({
        outcome: result.outcome,
        mode: result.mode,
        reason: result.reason,
        before: certificateJson(result.before),
        beforeProblem: result.beforeProblem ?? null,
        served: certificateJson(result.served),
        sealed: sealedAfter ?? null,
      });
    } else {
      printResult(output, result, serverOf(command.profile).name);
      if (result.outcome === 'not-due') output.err(result.reason);
    }
    if (sealedAfter === true && sealedBefore !== true) {
      throw new UserError(`the certificate was renewed, but ${serverOf(command.profile).name} at ${vault.address} is sealed after the restart`, {
        hint: `unseal it with \`${commandFor(command.profileName, 'unseal')}\``,
      });
    }
    return 0;
  } catch (error) {
    if (isAbortError(error) || command.signal.aborted) {
      output.err(`${command.cancelledBy() ?? 'cancelled'}: stopped; run \`${commandFor(command.profileName, 'renew-cert')}\` again (it picks up where this stopped)`);
      return 130;
    }
    throw error;
  } finally {
    await command.close();
  }
}

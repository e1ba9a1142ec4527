/**
 * `snapshot [--json]`: a raft snapshot of Vault into local custody
 * (`<custody dir>/snapshots/vault-<UTC>.snap`, 0600 in a 0700 directory; see services/snapshot.ts).
 *
 * The token is the root token from custody init.json, else typed in a terminal. The file's path goes
 * to stdout (or, with --json, `{file, bytes, sha256, address, takenAt}`); notes go to stderr.
 *
 * Exit codes: 0 the snapshot was written; 1 it was not (Vault unreachable, sealed, the token refused,
 * the connection cut: no partial file is left); 2 bad input (a token is needed and there is no
 * terminal to type it); 130 cancelled (Ctrl+C).
 */
import { serverOf } from '../core/server.js';
import { isAbortError } from '../core/errors.js';
import { commandFor } from '../profile/store.js';
import { takeSnapshot } from '../services/snapshot.js';
import { apiAddress, caPemFor } from '../steps/vault/session.js';
import { openCommandContext } from './command-context.js';
import type { GlobalOptions, Output } from './output.js';

export interface SnapshotCommandOptions {
  json?: boolean;
}

export async function snapshot(global: GlobalOptions, options: SnapshotCommandOptions, output: Output): Promise<number> {
  const command = openCommandContext(global, output, { command: 'snapshot', assumeYes: false });
  const { ctx } = command;
  try {
    const address = apiAddress(ctx);
    const caPem = await caPemFor(ctx);
    const token = await command.rootToken();
    const takenAt = new Date();
    const server = serverOf(command.profile);
    ctx.log.info(`taking a raft snapshot of ${server.name} at ${address}`);
    const result = await takeSnapshot({ vault: { address, caPem, token }, profileName: command.profileName, signal: command.signal, now: () => takenAt });
    ctx.log.info(`snapshot written: ${result.file} (${result.bytes} bytes, SHA-256 ${result.sha256}, mode 0600)`);
    ctx.log.info(
      `it is encrypted with ${server.name}'s keys: restoring it needs this ${server.name}'s unseal keys (custody init.json); restore with \`${server.binaryName} operator raft snapshot restore FILE\``,
    );
    if (options.json) output.json({ file: result.file, bytes: result.bytes, sha256: result.sha256, address, takenAt: takenAt.toISOString() });
    else output.out(result.file);
    return 0;
  } catch (error) {
    if (isAbortError(error) || command.signal.aborted) {
      output.err(`${command.cancelledBy() ?? 'cancelled'}: no snapshot was written; run \`${commandFor(command.profileName, 'snapshot')}\` again`);
      return 130;
    }
    throw error;
  } finally {
    await command.close();
  }
}

/**
 * Proves that a set of unseal key shares opens the running server, before the product replaces or
 * removes a copy of keys (the host keys file of vault.autounseal). Nothing else proves it: the
 * server keeps no fingerprint of its keys, and custody matching Vault's share counts (n/t) says
 * nothing after a rekey or a re-init elsewhere with the same counts.
 *
 * - Sealed: the shares are given to sys/unseal. Threshold right shares unseal it (which the
 *   product wants anyway); wrong ones fail at the threshold and the server resets the progress.
 * - Unsealed: a root token is generated from the shares (ServerFlavor.rootGeneration: Vault's
 *   unauthenticated sys/generate-root, OpenBao's sys/generate-root-token behind a token). The
 *   server checks the combined shares exactly as an unseal would; the token it then makes is
 *   revoked at once, and wrong shares abort the attempt, which is then cancelled.
 *
 * An attempt someone else started, or an unseal under way, is never touched: the answer is then
 * "cannot tell", and the caller refuses to destroy anything.
 */
import type { ServerFlavor } from '../../core/server.js';
import { ServerUnreachableError, VaultApiError, type VaultApi } from '../../services/vault.js';

export type KeyProof =
  /** The shares open this server: `unsealed` when proving it unsealed the server. */
  | { outcome: 'opens'; how: 'unsealed' | 'root-generation'; warning?: string }
  /** The server refused them: what it said. */
  | { outcome: 'rejected'; reason: string }
  /** Nothing was proven either way, and why. */
  | { outcome: 'unknown'; reason: string };

export interface KeyProofOptions {
  server: ServerFlavor;
  /** A token for servers that generate root tokens only behind one (asked for only then). */
  token: () => Promise<string>;
  /** Every secret the proof sees (the OTP, the new root token) goes to the redactor first. */
  registerSecret: (value: string) => void;
}

function problem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The new root token from the completed attempt's encoded token and the OTP (the docs' XOR, base64). */
export function decodeRootToken(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length !== otp.length) throw new Error(`the encoded token has ${bytes.length} bytes for an OTP of ${otp.length}`);
  return String.fromCharCode(...[...bytes].map((byte, index) => byte ^ otp.charCodeAt(index)));
}

export async function proveKeysOpen(vault: VaultApi, keys: readonly string[], options: KeyProofOptions): Promise<KeyProof> {
  const { server } = options;
  try {
    const status = await vault.sealStatus();
    if (!status.initialized) return { outcome: 'unknown', reason: `${server.name} is not initialized` };
    if (keys.length < status.t) return { outcome: 'rejected', reason: `${keys.length} key(s), fewer than the threshold of ${status.t}` };
    const shares = keys.slice(0, status.t);
    return status.sealed ? await byUnseal(vault, shares, status.progress, options) : await byRootGeneration(vault, shares, options);
  } catch (error) {
    if (error instanceof ServerUnreachableError) return { outcome: 'unknown', reason: problem(error) };
    throw error;
  }
}

async function byUnseal(vault: VaultApi, shares: readonly string[], progress: number, options: KeyProofOptions): Promise<KeyProof> {
  if (progress > 0) return { outcome: 'unknown', reason: `an unseal is under way (${progress} share(s) given by someone else); it is left alone` };
  for (const share of shares) {
    let after;
    try {
      after = await vault.unseal(share);
    } catch (error) {
      // The server refused a share or the combined key; it has reset the progress itself.
      if (error instanceof VaultApiError) return { outcome: 'rejected', reason: error.message };
      throw error;
    }
    if (!after.sealed) return { outcome: 'opens', how: 'unsealed' };
  }
  return { outcome: 'unknown', reason: `${options.server.name} is still sealed after the threshold of shares` };
}

async function byRootGeneration(vault: VaultApi, shares: readonly string[], options: KeyProofOptions): Promise<KeyProof> {
  const { server } = options;
  const generation = vault.rootGeneration(server.rootGeneration.needsToken ? await options.token() : undefined);
  let started;
  try {
    const current = await generation.status();
    if (current.started) {
      return { outcome: 'unknown', reason: `a root token generation is under way on ${server.name} (nonce ${current.nonce}), not started here; it is left alone` };
    }
    started = await generation.start();
  } catch (error) {
    // Refused before any share was given (a token without the right, a standby): nothing proven.
    if (error instanceof VaultApiError) return { outcome: 'unknown', reason: `${server.name} did not start a root token generation: ${error.message}` };
    throw error;
  }
  options.registerSecret(started.otp);
  let last = started;
  try {
    for (const share of shares) {
      last = await generation.update(share, started.nonce);
      if (last.complete) break;
    }
  } catch (error) {
    // A refused share or combined key aborts the attempt; the server keeps it until it is cancelled.
    await generation.cancel().catch(() => undefined);
    if (error instanceof VaultApiError) return { outcome: 'rejected', reason: error.message };
    throw error;
  }
  if (!last.complete) {
    await generation.cancel().catch(() => undefined);
    return { outcome: 'unknown', reason: `root token generation did not complete after ${shares.length} share(s) (progress ${last.progress}/${last.required})` };
  }
  // The shares are proven. The token they produced is not wanted: revoke it.
  try {
    const token = decodeRootToken(last.encodedToken, started.otp);
    options.registerSecret(token);
    await vault.withToken(token).revokeSelf();
    return { outcome: 'opens', how: 'root-generation' };
  } catch (error) {
    return {
      outcome: 'opens',
      how: 'root-generation',
      warning: `the root token made to check the keys could not be revoked (${problem(error)}): list root tokens with \`${server.binaryName} list auth/token/accessors\` and revoke the new one`,
    };
  }
}

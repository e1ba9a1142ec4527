// Root token generation with unseal key shares, as Vault serves it unauthenticated on
// sys/generate-root/attempt and /update (https://developer.hashicorp.com/vault/api-docs/system/generate-root).
// OpenBao 2.5.3 turned those endpoints off by default and 2.6 serves the same procedure behind a
// token on sys/generate-root-token (https://openbao.org/docs/deprecation/unauthed-generate-root/,
// https://openbao.org/api-docs/system/generate-root-token/); the simulator stands in for Vault,
// so it serves the unauthenticated one. The lifecycle is the one the real OpenBao 2.7.2 showed:
// - POST attempt without otp or pgp_key: the server makes a base62 OTP of otp_length and returns it once;
// - POST attempt while one is started: refused; DELETE attempt: cancelled (204, also when none is);
// - each update adds a share; the last one is checked as an unseal would be, and a wrong set
//   aborts ("root generation aborted: unable to authenticate: …"), clearing the shares but
//   keeping the attempt (started, progress 0) until it is cancelled;
// - complete: encoded_token is the new root token's characters XOR the OTP's, base64 without padding.
import { randomUUID } from 'node:crypto';
import { badRequest, VaultHttpError } from './api.js';
import type { Core } from './core.js';
import { randomBase62 } from './state.js';
import { issueRootToken } from './tokens.js';

/** Vault 1.10+ root tokens are `hvs.` and 24 base62 characters: the OTP has their length. */
export const OTP_LENGTH = 28;

interface Attempt {
  nonce: string;
  otp: string;
  parts: Buffer[];
}

export class RootGeneration {
  private attempt: Attempt | null = null;

  constructor(private readonly core: Core) {}

  /** Sealing forgets an attempt (Vault keeps it in memory only). */
  reset(): void {
    this.attempt = null;
  }

  status(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const attempt = this.attempt;
    return {
      started: attempt !== null,
      nonce: attempt?.nonce ?? '',
      progress: attempt?.parts.length ?? 0,
      required: this.core.sealConfig()?.secret_threshold ?? 0,
      complete: false,
      encoded_token: '',
      encoded_root_token: '',
      pgp_fingerprint: '',
      otp: '',
      otp_length: OTP_LENGTH,
      ...extra,
    };
  }

  start(body: Record<string, unknown>): Record<string, unknown> {
    this.requireUnsealed();
    if (body['pgp_key']) throw badRequest('PGP-encrypted root tokens are not supported by this server');
    if (this.attempt) throw badRequest('root generation already in progress');
    const given = typeof body['otp'] === 'string' ? body['otp'] : '';
    if (given && given.length !== OTP_LENGTH) throw badRequest(`OTP string is wrong length`);
    this.attempt = { nonce: randomUUID(), otp: given || randomBase62(OTP_LENGTH), parts: [] };
    this.core.log('INFO', `core: root generation initialized: nonce=${this.attempt.nonce}`);
    return this.status({ otp: given ? '' : this.attempt.otp });
  }

  cancel(): void {
    this.requireUnsealed();
    this.attempt = null;
  }

  update(key: Buffer, nonce: string): Record<string, unknown> {
    this.requireUnsealed();
    const attempt = this.attempt;
    if (!attempt) throw badRequest('no root generation in progress');
    if (nonce !== attempt.nonce) throw badRequest(`incorrect nonce supplied; nonce for this root generation operation is "${attempt.nonce}"`);
    this.core.checkShareLength(key, (message) => badRequest(message));
    if (!attempt.parts.some((part) => part.equals(key))) attempt.parts.push(key);
    const required = this.core.sealConfig()?.secret_threshold ?? 0;
    if (attempt.parts.length < required) return this.status();

    const parts = attempt.parts;
    attempt.parts = [];
    this.core.barrierKeyFrom(parts, (message) => {
      this.core.log('ERROR', `core: root generation aborted: error="unable to authenticate: ${message}"`);
      return badRequest(`root generation aborted: unable to authenticate: ${message}`);
    });
    const token = this.issueRoot();
    const encoded = Buffer.from([...token].map((char, index) => char.charCodeAt(0) ^ attempt.otp.charCodeAt(index))).toString('base64').replace(/=+$/, '');
    this.attempt = null;
    this.core.log('INFO', `core: root generation finished: nonce=${attempt.nonce}`);
    return { ...this.status(), started: true, nonce: attempt.nonce, progress: required, complete: true, encoded_token: encoded, encoded_root_token: encoded };
  }

  private requireUnsealed(): void {
    if (this.core.sealed()) throw new VaultHttpError(503, ['Vault is sealed']);
  }

  private issueRoot(): string {
    const { id } = issueRootToken(this.core.data);
    this.core.persist();
    return id;
  }
}

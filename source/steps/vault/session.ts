/**
 * What the vault phase's steps share: how they reach the API (address from the profile, TLS verified
 * with our CA), the custody files they keep (init.json, tokens.json, the note that the root token was
 * revoked), and the token they configure Vault with.
 *
 * One VaultSession lives as long as one plan: it remembers a custody passphrase or a typed token so
 * the user is asked once per run, not once per step. Nothing secret is ever written back to the profile.
 */
import { readFile } from 'node:fs/promises';
import { InputError, UserError } from '../../core/errors.js';
import type { StepContext } from '../../core/step.js';
import { custodyExists, custodyIsEncrypted, custodyPath, readCustody, writeCustody } from '../../profile/custody.js';
import { connectVault, type AuthenticatedVault, type VaultApi } from '../../services/vault.js';
import { hostLayout, requireApiAddress } from '../host/layout.js';
import type { Profile } from '../../profile/schema.js';
import { CA_CERT_NAME } from '../host/tls.js';
import { expandHome } from '../../profile/paths.js';

/** The init answer, kept in custody before anything else happens with it. */
export const INIT_CUSTODY_NAME = 'init.json';
/** The readonly and readwrite tokens issued by vault.tokens. */
export const TOKENS_CUSTODY_NAME = 'tokens.json';
/** Written when vault.revoke-root revoked the root token: later runs ask for a token instead. */
export const ROOT_REVOKED_CUSTODY_NAME = 'root-token-revoked.json';

/** Custody file init.json (version 1): the shape the vault-phase decisions fixed. */
export interface InitRecord {
  version: 1;
  vaultAddress: string;
  /** ISO 8601 */
  initializedAt: string;
  shares: number;
  threshold: number;
  /** Unseal key shares, hex. */
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

export interface IssuedToken {
  token: string;
  accessor: string;
  policies: string[];
  /** The TTL Vault granted (auth.lease_duration), e.g. 768h; `none` for a token without expiry. */
  ttl: string;
  /** The TTL asked for (vault.accessTtl), recorded only when Vault granted another. */
  askedTtl?: string;
  createdAt: string;
}

/** Custody file tokens.json (version 1). */
export interface TokensRecord {
  version: 1;
  vaultAddress: string;
  tokens: Partial<Record<string, IssuedToken>>;
}

export interface VaultStepOptions {
  /**
   * Owner of the policy files on the host: root with the server's group (root:vault,
   * root:openbao), readable by the server and changed by root only; another owner where the host
   * has no such group (the integration tests run the steps against this machine, which has none).
   */
  fileOwner?: { user: string; group: string };
}

export class VaultSession {
  /** The custody passphrase typed in this run (one per profile: it protects its files alike). */
  passphrase: string | undefined;
  /** A token typed because custody holds no usable root token. */
  typedToken: string | undefined;
  private readonly fileOwnerOverride: { user: string; group: string } | undefined;

  constructor(options: VaultStepOptions = {}) {
    this.fileOwnerOverride = options.fileOwner;
  }

  /** Who owns the files the vault phase writes on the host for this profile's server. */
  fileOwner(profile: Profile): { user: string; group: string } {
    const { server } = hostLayout(profile);
    return this.fileOwnerOverride ?? { user: 'root', group: server.group };
  }
}

export function apiAddress(ctx: StepContext): string {
  return requireApiAddress(ctx.profile);
}


/**
 * The CA that signed Vault's certificate: the local copy first (custody's ca.crt in generate mode, the
 * user's CA file in provided mode), so the trust anchor does not come from the server being checked;
 * the host's copy (installed by host.tls) otherwise.
 */
export async function caPemFor(ctx: StepContext): Promise<string> {
  const tls = ctx.profile.vault.tls;
  if (tls.mode === 'provided' && tls.caFile) return readFile(expandHome(tls.caFile), 'utf8');
  if (tls.mode === 'generate' && (await custodyExists(ctx.profileName, CA_CERT_NAME))) {
    return (await readCustody(ctx.profileName, CA_CERT_NAME)).toString('utf8');
  }
  const caFile = hostLayout(ctx.profile).caFile;
  const transport = await ctx.services.host();
  const stat = await transport.stat(caFile, { sudo: true, signal: ctx.signal });
  if (!stat.exists) {
    throw new UserError(`there is no CA certificate to verify Vault's TLS with (none in custody, none at ${caFile} on the host)`, {
      hint: 'run the host phase first (its TLS step installs the certificate and CA)',
    });
  }
  return (await transport.readFile(caFile, { sudo: true, signal: ctx.signal })).toString('utf8');
}

export async function openVault(ctx: StepContext): Promise<VaultApi> {
  return connectVault({ address: apiAddress(ctx), caPem: await caPemFor(ctx), server: hostLayout(ctx.profile).server });
}

/** A custody file's text, asking for its passphrase (once per run) when it is encrypted; undefined when absent. */
export async function readCustodyText(ctx: StepContext, session: VaultSession, name: string): Promise<string | undefined> {
  if (!(await custodyExists(ctx.profileName, name))) return undefined;
  if (!(await custodyIsEncrypted(ctx.profileName, name))) return (await readCustody(ctx.profileName, name)).toString('utf8');
  const passphrase = session.passphrase ?? (await ctx.prompt.secret(`Passphrase of ${custodyPath(ctx.profileName, name)}:`));
  ctx.registerSecret(passphrase);
  const text = (await readCustody(ctx.profileName, name, { passphrase })).toString('utf8');
  session.passphrase = passphrase;
  return text;
}

function isStringArray(value: unknown, length: number): value is string[] {
  return Array.isArray(value) && value.length === length && value.every((item) => typeof item === 'string' && item.length > 0);
}

/** Parses init.json; a damaged file is an error that never shows its content. */
export function parseInitRecord(text: string, file: string): InitRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is not valid JSON`, { hint: 'restore it from your backup; it holds the unseal keys' });
  }
  const record = parsed as Partial<InitRecord>;
  const shares = record.shares;
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    record.version === 1 &&
    typeof record.vaultAddress === 'string' &&
    typeof shares === 'number' &&
    typeof record.threshold === 'number' &&
    isStringArray(record.keys, shares) &&
    isStringArray(record.keys_base64, shares) &&
    typeof record.root_token === 'string';
  if (!valid) {
    throw new UserError(`${file} does not have the expected shape (version 1 with keys, keys_base64, root_token, shares, threshold)`, {
      hint: 'restore it from your backup; it holds the unseal keys',
    });
  }
  return record as InitRecord;
}

/** init.json from custody, every secret in it registered with the redactor; undefined when there is none. */
export async function readInitRecord(ctx: StepContext, session: VaultSession): Promise<InitRecord | undefined> {
  const text = await readCustodyText(ctx, session, INIT_CUSTODY_NAME);
  if (text === undefined) return undefined;
  const record = parseInitRecord(text, custodyPath(ctx.profileName, INIT_CUSTODY_NAME));
  registerInitSecrets(ctx, record);
  return record;
}

export function registerInitSecrets(ctx: StepContext, record: Pick<InitRecord, 'keys' | 'keys_base64' | 'root_token'>): void {
  for (const value of [...record.keys, ...record.keys_base64, record.root_token]) ctx.registerSecret(value);
}

export async function readTokensRecord(ctx: StepContext, session: VaultSession): Promise<TokensRecord | undefined> {
  const text = await readCustodyText(ctx, session, TOKENS_CUSTODY_NAME);
  if (text === undefined) return undefined;
  const file = custodyPath(ctx.profileName, TOKENS_CUSTODY_NAME);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is not valid JSON`, { hint: 'move it away; the tokens step issues new tokens' });
  }
  const record = parsed as Partial<TokensRecord>;
  if (record?.version !== 1 || typeof record.tokens !== 'object' || record.tokens === null) {
    throw new UserError(`${file} does not have the expected shape (version 1 with tokens)`, { hint: 'move it away; the tokens step issues new tokens' });
  }
  for (const issued of Object.values(record.tokens)) {
    if (typeof issued?.token !== 'string') throw new UserError(`${file} holds a token entry without a token`, { hint: 'move it away; the tokens step issues new tokens' });
    ctx.registerSecret(issued.token);
  }
  return record as TokensRecord;
}

export async function writeTokensRecord(ctx: StepContext, session: VaultSession, record: TokensRecord): Promise<string> {
  // Encrypted like the rest of this profile's custody when the user chose a passphrase.
  const passphrase = session.passphrase;
  return writeCustody(ctx.profileName, TOKENS_CUSTODY_NAME, `${JSON.stringify(record, null, 2)}\n`, {
    replace: true,
    ...(passphrase === undefined ? {} : { passphrase }),
  });
}

/**
 * The token the configuration steps use: the root token from custody, unless it was revoked (then, or
 * when custody has no init.json, the user types one, asked once per run).
 */
export async function adminToken(ctx: StepContext, session: VaultSession): Promise<string> {
  if (session.typedToken) return session.typedToken;
  const revoked = await custodyExists(ctx.profileName, ROOT_REVOKED_CUSTODY_NAME);
  if (!revoked) {
    const record = await readInitRecord(ctx, session);
    if (record) return record.root_token;
  }
  const why = revoked ? 'the root token was revoked' : 'custody holds no root token for it';
  const token = (await ctx.prompt.secret(`Vault token allowed to configure ${apiAddress(ctx)} (${why}):`)).trim();
  if (token.length === 0) {
    throw new InputError('no Vault token was given', {
      field: 'token',
      hint: 'make a root token with `vault operator generate-root` (it needs the unseal keys) and enter it here',
    });
  }
  ctx.registerSecret(token);
  session.typedToken = token;
  return token;
}

export async function adminClient(ctx: StepContext, session: VaultSession, vault?: VaultApi): Promise<AuthenticatedVault> {
  const api = vault ?? (await openVault(ctx));
  return api.withToken(await adminToken(ctx, session));
}

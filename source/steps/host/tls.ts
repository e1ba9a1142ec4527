/**
 * host.tls: the Vault listener's certificate, key and CA on the host.
 *
 * mode generate — our CA lives in local custody (ca.crt + ca.key), created once and written there
 * before it signs anything; a CA certificate without its key stops the step (a silently new CA would
 * break every client that trusts the old one). The server key is made ON THE HOST by openssl and
 * never leaves it: only a CSR comes back (stdout), is signed here, and the certificate goes back.
 * An existing valid host key is reused, so a run cut off between key and certificate does not churn.
 *
 * mode provided — the user's files (e.g. certbot's) are validated here first (key matches, current,
 * covers the API address, chains to the CA), then uploaded; the key travels on the SSH channel's
 * stdin, never in argv, and is registered with the redactor.
 *
 * Files: certFile and caFile 0644 root:vault (public), keyFile 0640 root:vault (Vault reads it through
 * its group; nobody else can). The tls directory itself is the directories step's (root:vault 0750):
 * root changes files only there, and only regular files (root-safe.ts).
 */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { posix } from 'node:path';
import { InputError, UserError } from '../../core/errors.js';
import { notSymlinkGuard, trustedDirectoryGuard } from '../../services/host/root-safe.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { isHostname } from '../../core/validate.js';
import { custodyExists, custodyIsEncrypted, custodyPath, readCustody, writeCustody } from '../../profile/custody.js';
import type { Profile } from '../../profile/schema.js';
import { sh } from '../../services/host/shell-quote.js';
import { verifiedTlsOptions } from '../../services/verified-tls.js';
import type { FileStat, Transport } from '../../services/host/transport.js';
import {
  checkCaPair,
  createCertificateAuthority,
  expectedSans,
  inspectCertificate,
  missingSans,
  recreateCaCertificate,
  serverKeyProblem,
  signServerCertificate,
  spkiOf,
  validateProvidedSet,
  type CaMaterial,
  type CertificateInfo,
  type SanSet,
} from '../../services/tls.js';
import { hostLayout, requireApiAddress, vaultApiAddress } from './layout.js';
import { expandHome } from '../../profile/paths.js';

export const TLS_STEP_ID = 'host.tls';
export const CA_CERT_NAME = 'ca.crt';
export const CA_KEY_NAME = 'ca.key';
export const CERT_MODE = 0o644;
export const CA_MODE = 0o644;
export const KEY_MODE = 0o640;
export const FILE_OWNER = 'root';
/** A certificate with this many whole days left, or fewer, is renewed (`status` says "renewal due" alike). */
export const RENEW_WITHIN_DAYS = 30;

export function renewalDue(daysLeft: number): boolean {
  return daysLeft <= RENEW_WITHIN_DAYS;
}
const COMMAND_TIMEOUT_MS = 60_000;

const GENERATE_KEY = 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256';

export interface TlsStepOptions {
  /** Clock, for tests. */
  now?: () => Date;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}


interface HostNames {
  hostname: string;
  fqdn?: string;
}

interface HostFile {
  path: string;
  stat: FileStat;
  /** Content, for the certificate and CA (public); never read for the key. */
  pem?: string;
}

interface HostKey {
  path: string;
  stat: FileStat;
  /** The key's public half (`openssl pkey -pubout`), when the key is readable and valid. */
  publicKeyPem?: string;
  /** Why the key cannot be used, when it exists but is not a usable key. */
  problem?: string;
}

interface HostTls {
  names: HostNames;
  tlsDir: FileStat;
  cert: HostFile;
  key: HostKey;
  ca: HostFile;
}

/** One finding of a check: `missing` findings make the step todo, others drift. */
interface Finding {
  kind: 'missing' | 'drift';
  text: string;
}

async function exec(ctx: StepContext, command: string, options: { sudo?: boolean; stdin?: string | Buffer } = {}) {
  const transport = await ctx.services.host();
  return transport.exec(command, { signal: ctx.signal, timeoutMs: COMMAND_TIMEOUT_MS, ...options });
}

function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find((line) => line.length > 0) ?? 'no error message';
}

async function mustRun(ctx: StepContext, what: string, command: string, options: { sudo?: boolean; stdin?: string | Buffer } = {}): Promise<string> {
  const result = await exec(ctx, command, options);
  if (result.code !== 0) throw new UserError(`${what} failed on the host (exit ${result.code}): ${firstLine(result.stderr || result.stdout)}`);
  return result.stdout;
}

async function hostNames(ctx: StepContext): Promise<HostNames> {
  // `hostname -f` asks the resolver for the canonical name; a host without one prints an error or the
  // short name, so a failure only means "no FQDN".
  const result = await exec(ctx, 'uname -n; hostname -f 2>/dev/null || :');
  const [hostname = '', fqdn = ''] = result.stdout.split('\n').map((line) => line.trim().toLowerCase());
  if (result.code !== 0 || !isHostname(hostname)) {
    throw new UserError(`cannot read the host's name (uname -n answered ${JSON.stringify(hostname)})`, {
      hint: 'give the host a valid hostname (letters, digits, dashes), e.g. with hostnamectl',
    });
  }
  return isHostname(fqdn) && fqdn !== hostname ? { hostname, fqdn } : { hostname };
}

async function readHostFile(transport: Transport, ctx: StepContext, path: string): Promise<HostFile> {
  // sudo: the tls directory is root:vault 0750, closed to the login user.
  const stat = await transport.stat(path, { sudo: true, signal: ctx.signal });
  if (!stat.exists || stat.type !== 'file') return { path, stat };
  const pem = (await transport.readFile(path, { sudo: true, signal: ctx.signal })).toString('utf8');
  return { path, stat, pem };
}

async function readHostKey(transport: Transport, ctx: StepContext, path: string): Promise<HostKey> {
  const stat = await transport.stat(path, { sudo: true, signal: ctx.signal });
  if (!stat.exists) return { path, stat };
  if (stat.type !== 'file') return { path, stat, problem: `${path} is a ${stat.type ?? 'special file'}, not a file` };
  // Only the public half comes back; the private key stays on the host. `-passin pass:` makes an
  // encrypted key (which Vault could not read either) fail at once instead of asking for a passphrase.
  const result = await exec(ctx, sh`openssl pkey -in ${path} -passin pass: -pubout`, { sudo: true });
  if (result.code !== 0) return { path, stat, problem: `${path} is not a readable private key (${firstLine(result.stderr)})` };
  let keyProblem: string | undefined;
  try {
    keyProblem = serverKeyProblem(createPublicKey(result.stdout));
  } catch (error) {
    keyProblem = `openssl printed no usable public key (${(error as Error).message})`;
  }
  if (keyProblem) return { path, stat, problem: `${path}: ${keyProblem}` };
  return { path, stat, publicKeyPem: result.stdout };
}

async function inspectHost(ctx: StepContext): Promise<HostTls> {
  const transport = await ctx.services.host();
  const layout = hostLayout(ctx.profile);
  return {
    names: await hostNames(ctx),
    tlsDir: await transport.stat(layout.tlsDir, { sudo: true, signal: ctx.signal }),
    cert: await readHostFile(transport, ctx, layout.certFile),
    key: await readHostKey(transport, ctx, layout.keyFile),
    ca: await readHostFile(transport, ctx, layout.caFile),
  };
}

/** The server's group (vault, openbao): it reads the TLS files, root owns them. */
function groupOf(ctx: StepContext): string {
  return hostLayout(ctx.profile).server.group;
}

function ownershipProblem(file: { path: string; stat: FileStat }, mode: number, group: string): string | undefined {
  const { stat } = file;
  if (!stat.exists) return undefined;
  if (stat.owner === FILE_OWNER && stat.group === group && stat.mode === mode) return undefined;
  return `${file.path} is ${octal(stat.mode ?? 0)} ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid}, want ${octal(mode)} ${FILE_OWNER}:${group}`;
}

function sameSpki(a: string, b: string): boolean {
  return spkiOf(a).equals(spkiOf(b));
}

/** The part of the API address a client checks against the certificate. */
function apiHost(profile: Profile): string {
  const address = vaultApiAddress(profile);
  if (!address) {
    throw new InputError('the API address is unknown: vault.nodeIp is not set', {
      field: 'vault.nodeIp',
      hint: "set vault.nodeIp to the host's IP address (or vault.apiAddress)",
    });
  }
  const host = new URL(address).hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

interface Evaluation {
  findings: Finding[];
  /** Said in a done check's detail without making it drift (a provided certificate due for renewal: only its owner can renew it). */
  notes: string[];
  /** Facts about the certificate on the host, when it could be read. */
  info?: CertificateInfo;
  /** What the certificate must cover. */
  sans?: SanSet;
  /** Whether the certificate itself must be (re)issued or uploaded (not only its mode fixed). */
  certStale: boolean;
}

/**
 * Compares the host with what it should be. `trustedCaPem` is the CA the certificate must chain to
 * (custody's in generate mode, the user's in provided mode); `wantCert` is the exact certificate
 * content wanted in provided mode.
 */
async function evaluate(ctx: StepContext, host: HostTls, want: { caPem: string; certPem?: string; sans?: SanSet }, now: Date): Promise<Evaluation> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  let certStale = false;
  const layout = hostLayout(ctx.profile);
  if (!host.tlsDir.exists) {
    return { findings: [{ kind: 'missing', text: `${layout.tlsDir} is missing (the directories step creates it)` }], notes, certStale: true };
  }
  for (const file of [host.cert, host.key, host.ca]) {
    if (!file.stat.exists) findings.push({ kind: 'missing', text: `${file.path} is missing` });
  }
  if (host.key.problem) findings.push({ kind: 'drift', text: host.key.problem });

  if (host.ca.pem !== undefined && host.ca.pem !== want.caPem) {
    findings.push({ kind: 'drift', text: `${host.ca.path} differs from the CA it should hold` });
  }

  let info: CertificateInfo | undefined;
  if (host.cert.pem !== undefined) {
    try {
      info = await inspectCertificate(host.cert.pem, { source: host.cert.path, caPem: want.caPem, now });
    } catch (error) {
      findings.push({ kind: 'drift', text: (error as Error).message });
      certStale = true;
    }
  } else {
    certStale = true;
  }
  if (info && host.cert.pem !== undefined) {
    if (want.certPem !== undefined && host.cert.pem !== want.certPem) {
      findings.push({ kind: 'drift', text: `${host.cert.path} differs from the provided certificate` });
      certStale = true;
    }
    if (!info.issuedByCa) {
      findings.push({ kind: 'drift', text: `${host.cert.path} was not issued by the CA (issuer ${info.issuer})` });
      certStale = true;
    }
    if (want.sans) {
      const missing = missingSans(info, want.sans);
      if (missing.length > 0) {
        findings.push({ kind: 'drift', text: `${host.cert.path} lacks ${missing.join(', ')}` });
        certStale = true;
      }
    }
    if (renewalDue(info.daysLeft)) {
      const when = info.notAfter.toISOString().slice(0, 10);
      const text = info.daysLeft < 0 ? `${host.cert.path} expired on ${when}` : `${host.cert.path} expires in ${info.daysLeft} days (${when})`;
      if (want.certPem === undefined) {
        findings.push({ kind: 'drift', text });
        certStale = true;
      } else {
        // Uploading the same file again would change nothing: the certificate's owner renews it.
        notes.push(`${text}: ${PROVIDED_RENEWAL_HINT}`);
      }
    }
    if (host.key.publicKeyPem !== undefined && !sameSpki(host.key.publicKeyPem, info.publicKeyPem)) {
      findings.push({ kind: 'drift', text: `${host.key.path} does not match ${host.cert.path} (different public keys)` });
      certStale = true;
    }
  }
  for (const [file, mode] of [
    [host.cert, CERT_MODE],
    [host.key, KEY_MODE],
    [host.ca, CA_MODE],
  ] as const) {
    const problem = ownershipProblem(file, mode, groupOf(ctx));
    if (problem) findings.push({ kind: 'drift', text: problem });
  }
  return { findings, notes, ...(info ? { info } : {}), ...(want.sans ? { sans: want.sans } : {}), certStale };
}

function toCheck(evaluation: Evaluation): Check {
  const { findings, info, notes } = evaluation;
  if (findings.length === 0) {
    const expiry = info ? `, expires ${info.notAfter.toISOString().slice(0, 10)} (${info.daysLeft} days), SHA-256 ${info.fingerprint256}` : '';
    return { state: 'done', detail: [`certificate, key and CA in place${expiry}`, ...notes].join('; ') };
  }
  return { state: findings.some((finding) => finding.kind === 'drift') ? 'drift' : 'todo', detail: findings.map((finding) => finding.text).join('; ') };
}

function logCertificate(ctx: StepContext, info: CertificateInfo, path: string): void {
  const names = [...info.sans.ips.map((ip) => `IP:${ip}`), ...info.sans.dns.map((name) => `DNS:${name}`)].join(', ');
  ctx.log.info(`${path}: ${info.subject}, expires ${info.notAfter.toISOString()} (${info.daysLeft} days)`);
  ctx.log.info(`${path}: SHA-256 fingerprint ${info.fingerprint256}`);
  ctx.log.info(`${path}: subjectAltNames ${names}`);
}

// ---------------------------------------------------------------------------------------------
// The CA in custody (generate mode)

interface CustodyCaState {
  certPem?: string;
  keyPresent: boolean;
}

function custodyMessagePaths(profileName: string): { cert: string; key: string } {
  return { cert: custodyPath(profileName, CA_CERT_NAME), key: custodyPath(profileName, CA_KEY_NAME) };
}

/** What custody holds, without the private key (check never needs, nor asks for, the passphrase). */
async function custodyCaState(profileName: string): Promise<CustodyCaState> {
  const keyPresent = await custodyExists(profileName, CA_KEY_NAME);
  if (!(await custodyExists(profileName, CA_CERT_NAME))) return { keyPresent };
  const certPem = (await readCustody(profileName, CA_CERT_NAME)).toString('utf8');
  if (!keyPresent) throw missingCaKey(profileName);
  return { certPem, keyPresent };
}

function missingCaKey(profileName: string, cause?: unknown): UserError {
  const files = custodyMessagePaths(profileName);
  return new UserError(`the CA certificate ${files.cert} is in custody but its key ${files.key} is missing or unreadable`, {
    hint: 'restore ca.key from your backup. A new CA is not made automatically: clients that trust the old one would stop working. To start over on purpose, move ca.crt away.',
    ...(cause === undefined ? {} : { cause }),
  });
}

async function readCaKey(ctx: StepContext, profileName: string): Promise<string> {
  try {
    if (await custodyIsEncrypted(profileName, CA_KEY_NAME)) {
      const passphrase = await ctx.prompt.secret(`Passphrase of the CA key in custody (${custodyPath(profileName, CA_KEY_NAME)})`);
      ctx.registerSecret(passphrase);
      return (await readCustody(profileName, CA_KEY_NAME, { passphrase })).toString('utf8');
    }
    return (await readCustody(profileName, CA_KEY_NAME)).toString('utf8');
  } catch (error) {
    // A wrong passphrase is the user's to retry; anything else means the key is not usable.
    if (error instanceof InputError && error.field === 'passphrase') throw error;
    throw missingCaKey(profileName, error);
  }
}

/** The CA from custody, created (and kept in custody) first if there is none. */
async function loadOrCreateCa(ctx: StepContext, profileName: string, now: Date): Promise<CaMaterial> {
  const files = custodyMessagePaths(profileName);
  const state = await custodyCaState(profileName);
  if (state.certPem !== undefined) {
    const keyPem = await readCaKey(ctx, profileName);
    ctx.registerSecret(keyPem);
    const ca = { certPem: state.certPem, keyPem };
    checkCaPair(ca, files);
    return ca;
  }
  if (state.keyPresent) {
    // The key reached custody and the certificate did not (a crash between the two writes): nothing
    // was signed yet with a certificate anyone holds, so the certificate is made again for that key.
    const keyPem = await readCaKey(ctx, profileName);
    ctx.registerSecret(keyPem);
    ctx.log.warn(`${files.cert} is missing while its key is in custody: re-issuing the CA certificate for the same key`);
    const certPem = await recreateCaCertificate({ keyPem, profileName, now });
    await writeCustody(profileName, CA_CERT_NAME, certPem);
    return { certPem, keyPem };
  }
  ctx.log.info(`creating a CA (ECDSA P-256, 10 years) in custody: ${files.cert}`);
  const ca = await createCertificateAuthority({ profileName, now });
  ctx.registerSecret(ca.keyPem);
  // Key first: a CA certificate must never exist without its key (that state stops the step).
  await writeCustody(profileName, CA_KEY_NAME, ca.keyPem);
  await writeCustody(profileName, CA_CERT_NAME, ca.certPem);
  ctx.log.info(`CA key kept in custody: ${files.key} (0600) — back it up`);
  return ca;
}

// ---------------------------------------------------------------------------------------------
// Provided mode: the user's files

interface ProvidedSet {
  certPem: string;
  keyPem: string;
  caPem: string;
  info: CertificateInfo;
}

async function readLocal(path: string, field: string): Promise<string> {
  const full = expandHome(path);
  try {
    return await readFile(full, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${full}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { field, cause: error });
  }
}

function providedPaths(profile: Profile): { cert: string; key: string; ca: string } {
  const { certFile, keyFile, caFile } = profile.vault.tls;
  const missing = [!certFile && 'vault.tls.certFile', !keyFile && 'vault.tls.keyFile', !caFile && 'vault.tls.caFile'].filter((field): field is string => Boolean(field));
  if (missing.length > 0 || !certFile || !keyFile || !caFile) {
    throw new InputError(`vault.tls.mode is "provided" but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`, {
      field: missing[0],
      hint: 'point them at your certificate (e.g. certbot fullchain.pem), its key (privkey.pem) and the CA that issued it (chain.pem), or use vault.tls.mode generate',
    });
  }
  return { cert: expandHome(certFile), key: expandHome(keyFile), ca: expandHome(caFile) };
}

async function loadProvided(ctx: StepContext, now: Date): Promise<ProvidedSet> {
  const paths = providedPaths(ctx.profile);
  const keyPem = await readLocal(paths.key, 'vault.tls.keyFile');
  registerKey(ctx, keyPem);
  const certPem = await readLocal(paths.cert, 'vault.tls.certFile');
  const caPem = await readLocal(paths.ca, 'vault.tls.caFile');
  const info = await validateProvidedSet({
    cert: { file: paths.cert, pem: certPem },
    key: { file: paths.key, pem: keyPem },
    ca: { file: paths.ca, pem: caPem },
    address: apiHost(ctx.profile),
    now,
  });
  return { certPem, keyPem, caPem, info };
}

/** The whole PEM and each of its base64 lines: a log line quoting part of the key is masked too. */
function registerKey(ctx: StepContext, keyPem: string): void {
  ctx.registerSecret(keyPem);
  for (const line of keyPem.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.length > 0 && !trimmed.startsWith('-----') && !trimmed.includes(':')) ctx.registerSecret(trimmed);
  }
}

// ---------------------------------------------------------------------------------------------
// Host writes

async function fixOwnership(ctx: StepContext, file: { path: string; stat: FileStat }, mode: number): Promise<void> {
  const problem = ownershipProblem(file, mode, groupOf(ctx));
  if (!problem) return;
  ctx.log.info(`fixing ${problem}`);
  // In one script with the guards: only a regular file in a directory only root can change.
  const command = [
    'set -e',
    trustedDirectoryGuard(posix.dirname(file.path)),
    notSymlinkGuard(file.path),
    sh`chown -h -- ${`${FILE_OWNER}:${groupOf(ctx)}`} ${file.path}`,
    sh`chmod -- ${octal(mode)} ${file.path}`,
  ].join('\n');
  await mustRun(ctx, `setting owner and mode of ${file.path}`, command, { sudo: true });
}

function generateKeyCommand(keyFile: string, tlsDir: string, group: string): string {
  const template = `${tlsDir}/.vault-key.tmp.XXXXXXXX`;
  return [
    'set -e',
    trustedDirectoryGuard(tlsDir),
    // umask 077 first: the key file is private from the moment it exists.
    'umask 077',
    sh`tmp=$(mktemp -- ${template})`,
    `trap 'rm -f -- "$tmp"' EXIT`,
    `${GENERATE_KEY} -out "$tmp"`,
    sh`chown -h -- ${`${FILE_OWNER}:${group}`} "$tmp"`,
    sh`chmod -- ${octal(KEY_MODE)} "$tmp"`,
    'sync -- "$tmp" 2>/dev/null || :',
    // Renamed into place only when complete: a cut-off run never leaves half a key as keyFile.
    sh`mv -f -T -- "$tmp" ${keyFile}`,
    'trap - EXIT',
    sh`sync -- ${tlsDir} 2>/dev/null || :`,
  ].join('\n');
}

function csrCommand(keyFile: string, hostname: string): string {
  // The subject is a placeholder: the certificate's names are decided when it is signed.
  return sh`openssl req -new -sha256 -key ${keyFile} -passin pass: -subj ${`/CN=${hostname}`}`;
}

async function writeHostFile(ctx: StepContext, path: string, content: string, mode: number): Promise<void> {
  const transport = await ctx.services.host();
  await transport.writeFile(path, content, { mode, owner: FILE_OWNER, group: groupOf(ctx), sudo: true });
}

function requireTlsDir(ctx: StepContext, host: HostTls): void {
  if (host.tlsDir.exists && host.tlsDir.type === 'directory') return;
  throw new UserError(`${hostLayout(ctx.profile).tlsDir} does not exist on the host`, { hint: "run the directories step first (it creates Vault's directories)" });
}

interface IssueOptions {
  /** Issue a new certificate even when the one on the host is still good (`renew-cert --force`). */
  forceReissue?: boolean;
  /** Overrides the profile's vault.tls.validityDays for this certificate. */
  validityDays?: number;
}

async function applyGenerate(ctx: StepContext, profileName: string, now: Date, issue: IssueOptions = {}): Promise<void> {
  const layout = hostLayout(ctx.profile);
  let host = await inspectHost(ctx);
  requireTlsDir(ctx, host);
  await refuseForeignCa(ctx, profileName, host);
  const ca = await loadOrCreateCa(ctx, profileName, now);

  if (host.key.publicKeyPem === undefined) {
    if (host.key.problem) ctx.log.warn(`${host.key.problem}: making a new key`);
    ctx.log.info(`generating the server key on the host: ${GENERATE_KEY} -> ${layout.keyFile} (${octal(KEY_MODE)} ${FILE_OWNER}:${groupOf(ctx)})`);
    await mustRun(ctx, 'generating the server key', generateKeyCommand(layout.keyFile, layout.tlsDir, layout.server.group), { sudo: true });
    host = { ...host, key: await readHostKey(await ctx.services.host(), ctx, layout.keyFile) };
    if (host.key.publicKeyPem === undefined) throw new UserError(`the new server key is not usable: ${host.key.problem ?? 'unknown problem'}`);
  } else {
    ctx.log.info(`reusing the server key on the host (${layout.keyFile})`);
    await fixOwnership(ctx, host.key, KEY_MODE);
  }

  if (host.ca.pem !== ca.certPem) {
    ctx.log.info(`writing the CA certificate ${layout.caFile} (${octal(CA_MODE)} ${FILE_OWNER}:${groupOf(ctx)})`);
    await writeHostFile(ctx, layout.caFile, ca.certPem, CA_MODE);
  } else {
    await fixOwnership(ctx, host.ca, CA_MODE);
  }

  const sans = expectedSans(ctx.profile, host.names);
  const evaluation = await evaluate(ctx, host, { caPem: ca.certPem, sans }, now);
  if (evaluation.certStale || issue.forceReissue) {
    ctx.log.info(`requesting a certificate: openssl req -new -key ${layout.keyFile} (the key stays on the host)`);
    const csrPem = await mustRun(ctx, 'making the certificate request', csrCommand(layout.keyFile, host.names.hostname), { sudo: true });
    const certPem = await signServerCertificate({
      ca,
      csrPem,
      sans,
      commonName: host.names.hostname,
      validityDays: issue.validityDays ?? ctx.profile.vault.tls.validityDays,
      now,
    });
    const info = await inspectCertificate(certPem, { source: layout.certFile, caPem: ca.certPem, now });
    if (!host.key.publicKeyPem || !sameSpki(host.key.publicKeyPem, info.publicKeyPem)) {
      throw new UserError('the certificate request from the host is not for the server key on the host');
    }
    ctx.log.info(`writing the certificate ${layout.certFile} (${octal(CERT_MODE)} ${FILE_OWNER}:${groupOf(ctx)})`);
    await writeHostFile(ctx, layout.certFile, certPem, CERT_MODE);
    logCertificate(ctx, info, layout.certFile);
  } else {
    await fixOwnership(ctx, host.cert, CERT_MODE);
    if (evaluation.info) logCertificate(ctx, evaluation.info, layout.certFile);
  }
}

/**
 * The host already has a CA file but this profile's custody has no CA (another machine ran the setup,
 * or custody was lost): making a new CA would quietly break every client that trusts the old one.
 */
async function refuseForeignCa(ctx: StepContext, profileName: string, host: HostTls): Promise<void> {
  if (host.ca.pem === undefined || (await custodyExists(profileName, CA_CERT_NAME)) || (await custodyExists(profileName, CA_KEY_NAME))) return;
  let fingerprint = 'unreadable';
  try {
    fingerprint = (await inspectCertificate(host.ca.pem, { source: host.ca.path })).fingerprint256;
  } catch {
    // Named as unreadable below; the decision is the same.
  }
  throw new UserError(`${host.ca.path} on the host holds a CA (SHA-256 ${fingerprint}) that is not in this profile's custody (${custodyPath(profileName, CA_CERT_NAME)})`, {
    hint: `copy the custody directory from the machine that set this host up, or, to replace the CA on purpose, remove ${host.ca.path} on the host and run the step again`,
  });
}

async function applyProvided(ctx: StepContext, now: Date): Promise<void> {
  const layout = hostLayout(ctx.profile);
  const provided = await loadProvided(ctx, now);
  const host = await inspectHost(ctx);
  requireTlsDir(ctx, host);

  if (host.ca.pem !== provided.caPem) {
    ctx.log.info(`uploading the CA certificate to ${layout.caFile} (${octal(CA_MODE)} ${FILE_OWNER}:${groupOf(ctx)})`);
    await writeHostFile(ctx, layout.caFile, provided.caPem, CA_MODE);
  } else {
    await fixOwnership(ctx, host.ca, CA_MODE);
  }
  if (host.key.publicKeyPem === undefined || !sameSpki(host.key.publicKeyPem, provided.info.publicKeyPem)) {
    ctx.log.info(`uploading the private key to ${layout.keyFile} (${octal(KEY_MODE)} ${FILE_OWNER}:${groupOf(ctx)}; over the SSH channel, not in a command line)`);
    await writeHostFile(ctx, layout.keyFile, provided.keyPem, KEY_MODE);
  } else {
    await fixOwnership(ctx, host.key, KEY_MODE);
  }
  if (host.cert.pem !== provided.certPem) {
    ctx.log.info(`uploading the certificate to ${layout.certFile} (${octal(CERT_MODE)} ${FILE_OWNER}:${groupOf(ctx)})`);
    await writeHostFile(ctx, layout.certFile, provided.certPem, CERT_MODE);
  } else {
    await fixOwnership(ctx, host.cert, CERT_MODE);
  }
  logCertificate(ctx, provided.info, layout.certFile);
}

// ---------------------------------------------------------------------------------------------
// Renewal (`renew-cert`): re-issue, upload, restart Vault, and see the new certificate served

export const PROVIDED_RENEWAL_HINT =
  'the certificate is yours (vault.tls.mode provided): renew it where it came from (e.g. `certbot renew`), keep vault.tls.certFile, keyFile and caFile pointing at the renewed files, then run `renew-cert` to upload them and restart Vault';

/** The auto-unseal unit (steps/vault/autounseal.ts owns it; named here to keep host steps free of vault-phase imports). */
/** How long Vault gets to serve the new certificate after the restart. */
export const SERVE_WAIT_MS = 30_000;
const SERVE_POLL_MS = 500;
const HANDSHAKE_TIMEOUT_MS = 5_000;

export interface RenewOptions {
  /** Re-issue even when the certificate is not due (generate mode only). */
  force?: boolean;
  /** Validity of the new certificate; the profile's vault.tls.validityDays when not given. */
  validityDays?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** How long to wait for the new certificate to be served after the restart. */
  serveWaitMs?: number;
}

export interface RenewResult {
  /**
   * renewed: a new certificate was issued, uploaded and is served now. restarted: the installed
   * certificate was current but Vault still served an older one, so only the restart was needed.
   * uploaded: the user's (provided) renewed files were uploaded and are served now. not-due: nothing
   * to do.
   */
  outcome: 'renewed' | 'restarted' | 'uploaded' | 'not-due';
  mode: 'generate' | 'provided';
  /** The certificate Vault served before (undefined when it could not be read: Vault down, expired certificate…). */
  before: CertificateInfo | undefined;
  /** Why `before` could not be read. */
  beforeProblem?: string;
  /** The certificate Vault serves now (verified with the CA, for the API address). */
  served: CertificateInfo;
  /** One line saying why this outcome. */
  reason: string;
}

function parseAddress(address: string): { host: string; port: number } {
  const url = new URL(address);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

/**
 * The certificate the API presents, from a TLS handshake verified against `caPem` alone and checked
 * for the address's name (Node's default checkServerIdentity: subjectAltName, IP or DNS). A
 * certificate that does not verify (expired, other CA, wrong name) rejects with the reason.
 * https://nodejs.org/api/tls.html#tlsconnectoptions-callback
 */
export function readServedCertificate(address: string, caPem: string, options: { now: Date; timeoutMs?: number; signal?: AbortSignal }): Promise<CertificateInfo> {
  const { host, port } = parseAddress(address);
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // rejectUnauthorized explicitly: left out, NODE_TLS_REJECT_UNAUTHORIZED=0 would let any certificate through.
    const socket = tlsConnect({ host, port, ...verifiedTlsOptions(caPem), ...(isIP(host) === 0 ? { servername: host } : {}), ...(options.signal ? { signal: options.signal } : {}) }, () => {
      // Never reached unverified with the option above; checked again because this answer is what "verified" rests on.
      if (!socket.authorized) {
        socket.destroy();
        reject(new UserError(`TLS handshake with ${address}: the certificate is not verified by the profile's CA (${String(socket.authorizationError)})`));
        return;
      }
      const peer = socket.getPeerCertificate();
      socket.end();
      if (!peer?.raw) {
        reject(new UserError(`${address} presented no certificate`));
        return;
      }
      const pem = `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
      inspectCertificate(pem, { source: `the certificate served at ${address}`, caPem, now: options.now }).then(resolve, reject);
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('error', (error: NodeJS.ErrnoException) => reject(new UserError(`TLS handshake with ${address}: ${error.code && !error.message.includes(error.code) ? `${error.message} (${error.code})` : error.message}`)));
  });
}

function describeInfo(info: CertificateInfo): string {
  return `serial ${info.serialNumber}, expires ${info.notAfter.toISOString()} (${info.daysLeft} days), SHA-256 ${info.fingerprint256}`;
}

async function restartVault(ctx: StepContext): Promise<void> {
  const { server } = hostLayout(ctx.profile);
  const VAULT_UNIT = server.unit;
  ctx.log.info(`restarting ${VAULT_UNIT} so it serves the new certificate (${server.name} comes back sealed; ${server.unsealUnit} unseals it when auto-unseal is installed)`);
  const restart = sh`systemctl restart ${VAULT_UNIT}`;
  const result = await exec(ctx, restart, { sudo: true });
  if (result.code === 0) return;
  const why = firstLine(result.stderr || result.stdout);
  // The unit allows 3 starts a minute (StartLimitBurst) against crash loops; restarts asked for by
  // hand count too, so a renewal soon after other restarts is refused. This restart is deliberate:
  // clear the counter once and try again; a crash loop still shows below as the new certificate
  // never being served.
  if (/start.*attempted too often|start-limit/i.test(`${why} ${result.stderr}`)) {
    // vault-unseal.service starts with every start of vault.service (PartOf/WantedBy) and has a
    // start limit of its own (systemd's default, 5 in 10 s): reset it too, or Vault would come back
    // sealed. It may not exist (auto-unseal off), hence `|| :`.
    ctx.log.warn(`${VAULT_UNIT} hit its start limit (${why}): resetting it (systemctl reset-failed) and restarting once more`);
    await mustRun(
      ctx,
      `restarting ${VAULT_UNIT}`,
      sh`systemctl reset-failed ${VAULT_UNIT} && { systemctl reset-failed ${server.unsealUnit} 2>/dev/null || :; } && systemctl restart ${VAULT_UNIT}`,
      { sudo: true },
    );
    return;
  }
  throw new UserError(`restarting ${VAULT_UNIT} failed on the host (exit ${result.code}): ${why}`, {
    hint: `look at the service's log (\`journalctl -u ${VAULT_UNIT}\` on the host, or the \`logs\` command)`,
  });
}

/** Polls the API until it serves the certificate with `fingerprint` (verified with our CA). */
async function waitServed(ctx: StepContext, address: string, caPem: string, fingerprint: string, options: { now: () => Date; waitMs: number }): Promise<CertificateInfo> {
  const { server } = hostLayout(ctx.profile);
  const deadline = Date.now() + options.waitMs;
  let last = 'no answer yet';
  for (;;) {
    ctx.signal.throwIfAborted();
    try {
      const served = await readServedCertificate(address, caPem, { now: options.now(), signal: ctx.signal });
      if (served.fingerprint256 === fingerprint) return served;
      last = `it still serves ${describeInfo(served)}`;
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new UserError(`${server.name} at ${address} does not serve the new certificate ${Math.round(options.waitMs / 1000)} s after the restart: ${last}`, {
        hint: `look at the service's log (\`journalctl -u ${server.unit}\` on the host, or the \`logs\` command), then run \`renew-cert\` again`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, SERVE_POLL_MS));
  }
}

async function servedBefore(address: string, caPem: string, ctx: StepContext, now: Date): Promise<{ info?: CertificateInfo; problem?: string }> {
  try {
    return { info: await readServedCertificate(address, caPem, { now, signal: ctx.signal }) };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    return { problem: (error as Error).message };
  }
}

/**
 * Renews the Vault server certificate when it is due (≤ 30 days left on the installed or the served
 * certificate, or not served at all) or when `force` asks:
 *  - generate mode: re-issued from the CA in custody (never a new CA) for the same server key and
 *    the SANs the profile and host call for, through the same code as the TLS step; uploaded;
 *    vault.service restarted; done only once the API serves the new certificate (new fingerprint,
 *    TLS verified with our CA for the API address);
 *  - provided mode: the certificate is the user's: when it is due this says so with the hint; when the
 *    user already renewed the files, they are uploaded and Vault restarted the same way.
 */
export async function renewServerCertificate(ctx: StepContext, options: RenewOptions = {}): Promise<RenewResult> {
  const clock = options.now ?? (() => new Date());
  const now = clock();
  const address = requireApiAddress(ctx.profile);
  const waitMs = options.serveWaitMs ?? SERVE_WAIT_MS;
  const layout = hostLayout(ctx.profile);

  if (ctx.profile.vault.tls.mode === 'provided') {
    if (options.force) throw new UserError('--force re-issues certificates this tool generates; this profile uses your own (vault.tls.mode provided)', { hint: PROVIDED_RENEWAL_HINT });
    const provided = await loadProvided(ctx, now);
    const before = await servedBefore(address, provided.caPem, ctx, now);
    if (renewalDue(provided.info.daysLeft)) {
      throw new UserError(`${providedPaths(ctx.profile).cert} expires in ${provided.info.daysLeft} days (${provided.info.notAfter.toISOString().slice(0, 10)})`, { hint: PROVIDED_RENEWAL_HINT });
    }
    if (before.info && before.info.fingerprint256 === provided.info.fingerprint256) {
      return { outcome: 'not-due', mode: 'provided', before: before.info, served: before.info, reason: `Vault serves your certificate, ${provided.info.daysLeft} days left` };
    }
    ctx.log.info(`Vault serves ${before.info ? describeInfo(before.info) : `no certificate that verifies (${before.problem})`}; uploading ${providedPaths(ctx.profile).cert}`);
    await applyProvided(ctx, now);
    await restartVault(ctx);
    const served = await waitServed(ctx, address, provided.caPem, provided.info.fingerprint256, { now: clock, waitMs });
    ctx.log.info(`Vault serves the uploaded certificate: ${describeInfo(served)}`);
    return { outcome: 'uploaded', mode: 'provided', before: before.info, ...(before.problem ? { beforeProblem: before.problem } : {}), served, reason: 'your renewed certificate was uploaded' };
  }

  const custody = await custodyCaState(ctx.profileName);
  if (custody.certPem === undefined) {
    throw new UserError(`there is no CA in custody (${custodyPath(ctx.profileName, CA_CERT_NAME)}) to renew the certificate with`, {
      hint: 'run the host phase first (`setup --phase host`); if this host was set up from another machine, copy its custody directory here',
    });
  }
  const caPem = custody.certPem;
  const before = await servedBefore(address, caPem, ctx, now);
  const host = await inspectHost(ctx);
  const evaluation = await evaluate(ctx, host, { caPem, sans: expectedSans(ctx.profile, host.names) }, now);
  const installed = evaluation.info;

  let reason: string;
  if (options.force) reason = 'renewal requested (--force)';
  else if (evaluation.certStale) reason = evaluation.findings.map((finding) => finding.text).join('; ');
  else if (!before.info) reason = `Vault serves no certificate that verifies with the CA (${before.problem})`;
  else if (renewalDue(before.info.daysLeft)) reason = `the served certificate expires in ${before.info.daysLeft} days`;
  else if (installed && before.info.fingerprint256 !== installed.fingerprint256) reason = `${layout.certFile} is newer than the certificate Vault serves`;
  else {
    return { outcome: 'not-due', mode: 'generate', before: before.info, served: before.info, reason: `not due: ${before.info.daysLeft} days left (renewed at ${RENEW_WITHIN_DAYS} or fewer)` };
  }
  ctx.log.info(`renewing: ${reason}`);
  if (before.info) ctx.log.info(`served now: ${describeInfo(before.info)}`);

  // Re-issue only when the installed certificate itself needs it: a current one that Vault merely
  // has not loaded yet (a cut-off earlier renewal) only needs the restart.
  const reissue = options.force === true || evaluation.certStale || !installed || renewalDue(installed.daysLeft);
  if (reissue) {
    await applyGenerate(ctx, ctx.profileName, now, { forceReissue: true, ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}) });
  }
  const transport = await ctx.services.host();
  const written = await readHostFile(transport, ctx, layout.certFile);
  if (written.pem === undefined) throw new UserError(`${layout.certFile} is missing on the host after the renewal`);
  const fresh = await inspectCertificate(written.pem, { source: layout.certFile, caPem, now });
  await restartVault(ctx);
  const served = await waitServed(ctx, address, caPem, fresh.fingerprint256, { now: clock, waitMs });
  if (before.info && served.serialNumber === before.info.serialNumber) {
    throw new UserError(`Vault at ${address} still serves serial ${served.serialNumber} after the renewal`);
  }
  ctx.log.info(`Vault serves the new certificate: ${describeInfo(served)}`);
  return {
    outcome: reissue ? 'renewed' : 'restarted',
    mode: 'generate',
    before: before.info,
    ...(before.problem ? { beforeProblem: before.problem } : {}),
    served,
    reason,
  };
}

// ---------------------------------------------------------------------------------------------

export function tlsStep(options: TlsStepOptions = {}): Step {
  const clock = options.now ?? (() => new Date());
  return {
    id: TLS_STEP_ID,
    phase: 'host',
    title: 'TLS certificate',

    describe(ctx): Planned[] {
      const layout = hostLayout(ctx.profile);
      const owner = `${FILE_OWNER}:${groupOf(ctx)}`;
      if (ctx.profile.vault.tls.mode === 'provided') {
        const { certFile = '(vault.tls.certFile)', keyFile = '(vault.tls.keyFile)', caFile = '(vault.tls.caFile)' } = ctx.profile.vault.tls;
        return [
          { kind: 'local', summary: `validate ${certFile}, ${keyFile}, ${caFile}: key matches, not expired, covers the API address, issued by the CA` },
          { kind: 'file', summary: `${layout.caFile} (${octal(CA_MODE)} ${owner}) from ${caFile}` },
          { kind: 'file', summary: `${layout.keyFile} (${octal(KEY_MODE)} ${owner}) from ${keyFile}` },
          { kind: 'file', summary: `${layout.certFile} (${octal(CERT_MODE)} ${owner}) from ${certFile}` },
        ];
      }
      return [
        { kind: 'local', summary: `CA in custody ${custodyPath(ctx.profileName, CA_CERT_NAME)} + ${CA_KEY_NAME} (created once if absent)` },
        { kind: 'command', summary: `umask 077; ${GENERATE_KEY} -> ${layout.keyFile}; chown ${owner}; chmod ${octal(KEY_MODE)} (unless a valid key is there)` },
        { kind: 'command', summary: `openssl req -new -key ${layout.keyFile} (CSR on stdout, signed locally)` },
        { kind: 'file', summary: `${layout.caFile} (${octal(CA_MODE)} ${owner})` },
        {
          kind: 'file',
          summary: `${layout.certFile} (${octal(CERT_MODE)} ${owner}; SANs: node IP, 127.0.0.1, ::1, hostname, FQDN, localhost${
            ctx.profile.vault.tls.extraSans.length > 0 ? `, ${ctx.profile.vault.tls.extraSans.join(', ')}` : ''
          }; ${ctx.profile.vault.tls.validityDays} days)`,
        },
      ];
    },

    async check(ctx): Promise<Check> {
      const now = clock();
      if (ctx.profile.vault.tls.mode === 'provided') {
        const provided = await loadProvided(ctx, now);
        const host = await inspectHost(ctx);
        return toCheck(await evaluate(ctx, host, { caPem: provided.caPem, certPem: provided.certPem }, now));
      }
      const custody = await custodyCaState(ctx.profileName);
      const host = await inspectHost(ctx);
      if (custody.certPem === undefined) {
        const anything = [host.cert, host.key, host.ca].some((file) => file.stat.exists);
        return {
          state: anything ? 'drift' : 'todo',
          detail: `no CA in custody yet (${custodyPath(ctx.profileName, CA_CERT_NAME)})${anything ? '; the files on the host were not made by it' : ''}`,
        };
      }
      // The detail of a done check carries the expiry and fingerprint.
      return toCheck(await evaluate(ctx, host, { caPem: custody.certPem, sans: expectedSans(ctx.profile, host.names) }, now));
    },

    async apply(ctx): Promise<void> {
      const now = clock();
      if (ctx.profile.vault.tls.mode === 'provided') await applyProvided(ctx, now);
      else await applyGenerate(ctx, ctx.profileName, now);
    },
  };
}

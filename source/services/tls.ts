/**
 * Certificates for the Vault listener, with no host involved (the step in steps/host/tls.ts does the
 * host side). Three jobs:
 *  - our own CA: ECDSA P-256, 10 years, basicConstraints CA:true (critical), keyUsage keyCertSign +
 *    cRLSign (critical), a random serial, subject and authority key identifiers;
 *  - a server certificate for a CSR made on the host (its private key never leaves the host): the
 *    subjectAltNames are decided here from the profile, never copied from the request, because Go
 *    clients (the Vault CLI, External Secrets Operator) ignore the Common Name and check SANs only;
 *  - inspecting and validating certificates: ours on the host, or a set the user provides.
 *
 * References: RFC 5280 (4.2.1.1 AKI, 4.2.1.2 SKI, 4.2.1.3 key usage, 4.2.1.6 SAN, 4.2.1.9 basic
 * constraints, 4.2.1.12 EKU), https://www.rfc-editor.org/rfc/rfc5280 ; the CA/Browser Forum
 * baseline requirements for serials (at least 64 random bits); Node's X509Certificate
 * https://nodejs.org/api/crypto.html#class-x509certificate ; @peculiar/x509
 * https://peculiarventures.github.io/x509/
 */
import { X509Certificate as NodeX509Certificate, createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { InputError, UserError } from '../core/errors.js';
import type { Profile } from '../profile/schema.js';

/** A CA in PEM: the certificate (public) and its PKCS#8 private key (custody only). */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

export interface SanSet {
  dns: string[];
  ips: string[];
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  sans: SanSet;
  notBefore: Date;
  notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  /** SHA-256 of the DER certificate as openssl prints it: `AA:BB:...`. */
  fingerprint256: string;
  isCa: boolean;
  /** Extended key usage OIDs (empty when the extension is absent). */
  extendedKeyUsage: string[];
  /** The certificate's public key (SubjectPublicKeyInfo, PEM), to compare with a private key's. */
  publicKeyPem: string;
  /** When a CA was given: whether it issued (and its key signed) this certificate. */
  issuedByCa?: boolean;
}

export const CA_VALIDITY_YEARS = 10;
/** notBefore is set this far in the past so a host whose clock runs a little behind accepts the cert. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
export const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

let x509Loading: Promise<typeof X509> | undefined;

/** Loaded on first use: only the TLS step needs it, and it costs startup time. */
async function loadX509(): Promise<typeof X509> {
  x509Loading ??= (async () => {
    // @peculiar/x509 uses tsyringe, which refuses to load without the Reflect metadata API.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Loading;
}

/** A positive serial of 16 random bytes (RFC 5280 4.1.2.2: positive, at most 20 octets). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Every certificate PEM block in a file, in order (a fullchain file holds the leaf first). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((block) => `${block}\n`) ?? [];
}

function caName(profileName: string): X509.JsonName {
  return [{ CN: [`picluster-vault-tui CA ${profileName}`] }];
}

async function caExtensions(x509: typeof X509, publicKey: webcrypto.CryptoKey | X509.PublicKey): Promise<X509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(publicKey),
  ];
}

function addYears(date: Date, years: number): Date {
  const result = new Date(date);
  result.setUTCFullYear(result.getUTCFullYear() + years);
  return result;
}

/** A new CA: ECDSA P-256, valid for 10 years. */
export async function createCertificateAuthority(options: { profileName: string; now?: Date }): Promise<CaMaterial> {
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caName(options.profileName),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: addYears(now, CA_VALIDITY_YEARS),
    signingAlgorithm: ECDSA_P256,
    keys,
    extensions: await caExtensions(x509, keys.publicKey),
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/**
 * Re-issues the self-signed CA certificate for an existing CA key (same key, same name), for when
 * the key reached custody but its certificate did not (a crash between the two writes). Certificates
 * signed by the key verify against either copy.
 */
export async function recreateCaCertificate(options: { keyPem: string; profileName: string; now?: Date }): Promise<string> {
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  const privateKey = await importCaKey(options.keyPem, 'CA key');
  const publicKeyObject = createPublicKey(createPrivateKey(options.keyPem));
  const spki = publicKeyObject.export({ format: 'der', type: 'spki' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caName(options.profileName),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: addYears(now, CA_VALIDITY_YEARS),
    signingAlgorithm: ECDSA_P256,
    keys: { privateKey, publicKey },
    extensions: await caExtensions(x509, publicKey),
  });
  return cert.toString('pem') + '\n';
}

async function importCaKey(keyPem: string, source: string): Promise<webcrypto.CryptoKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new UserError(`${source} is not a readable private key: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new UserError(`${source} is not an ECDSA P-256 key (found ${describeKey(key)})`);
  }
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `EC ${details?.namedCurve ?? 'unknown curve'}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details?.modulusLength ?? '?'} bits`;
  return key.asymmetricKeyType ?? 'unknown key type';
}

/** Why a server key is not acceptable, or undefined: EC P-256/P-384/P-521, RSA ≥ 2048, Ed25519. */
export function serverKeyProblem(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1' ? undefined : `EC curve ${curve ?? 'unknown'} is not P-256, P-384 or P-521`;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= 2048 ? undefined : `RSA key of ${bits} bits is too short (2048 at least)`;
  }
  if (key.asymmetricKeyType === 'ed25519') return undefined;
  return `${describeKey(key)} keys are not supported (use ECDSA P-256 or RSA 2048+)`;
}

/** Public key (SPKI DER) of a PEM public key, private key or certificate. */
export function spkiOf(pem: string): Buffer {
  if (pem.includes('-----BEGIN CERTIFICATE-----')) return createPublicKey(new NodeX509Certificate(pem).publicKey).export({ format: 'der', type: 'spki' });
  return createPublicKey(pem).export({ format: 'der', type: 'spki' });
}

/** Checks that a CA from custody is a usable pair: a CA certificate whose key is the given key. */
export function checkCaPair(ca: CaMaterial, files: { cert: string; key: string }): void {
  let cert: NodeX509Certificate;
  try {
    cert = new NodeX509Certificate(ca.certPem);
  } catch (error) {
    throw new UserError(`${files.cert} is not a readable certificate: ${(error as Error).message}`, { cause: error });
  }
  if (!cert.ca) throw new UserError(`${files.cert} is not a CA certificate (basicConstraints CA:true is missing)`);
  let key: KeyObject;
  try {
    key = createPrivateKey(ca.keyPem);
  } catch (error) {
    throw new UserError(`${files.key} is not a readable private key: ${(error as Error).message}`, { cause: error });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new UserError(`${files.key} does not belong to ${files.cert} (their public keys differ)`, {
      hint: 'restore the matching pair from a backup; a new CA would make every client that trusts the old one fail',
    });
  }
}

/** The names a server certificate for this profile must carry. */
export function expectedSans(profile: Profile, host: { hostname: string; fqdn?: string }): SanSet {
  const dns = new Set<string>();
  const ips = new Set<string>();
  const add = (value: string): void => {
    const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
    if (isIP(bare) !== 0) ips.add(normalizeIp(bare));
    else if (bare.length > 0) dns.add(bare.toLowerCase().replace(/\.$/, ''));
  };
  if (profile.vault.nodeIp) add(profile.vault.nodeIp);
  add('127.0.0.1');
  add('::1');
  add(host.hostname);
  if (host.fqdn) add(host.fqdn);
  add('localhost');
  for (const extra of profile.vault.tls.extraSans) add(extra);
  if (profile.vault.apiAddress) add(new URL(profile.vault.apiAddress).hostname);
  return { dns: [...dns], ips: [...ips] };
}

/** One spelling per address, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
export function normalizeIp(value: string): string {
  if (isIP(value) === 4) return value;
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

function sansExtension(x509: typeof X509, sans: SanSet): X509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension([
    ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
  ]);
}

/**
 * Signs a server certificate for a PKCS#10 request. The request's signature is checked (it proves the
 * host holds the key), its key must be acceptable, and everything else in it (subject, requested
 * extensions) is ignored: names and usages come from `sans` and this function.
 */
export async function signServerCertificate(options: {
  ca: CaMaterial;
  csrPem: string;
  sans: SanSet;
  commonName: string;
  validityDays: number;
  now?: Date;
}): Promise<string> {
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(options.csrPem);
  } catch (error) {
    throw new UserError(`the certificate request from the host is not a valid PKCS#10 request: ${(error as Error).message}`, { cause: error });
  }
  if (!(await csr.verify())) throw new UserError('the certificate request from the host has a bad signature');
  const requestKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const keyProblem = serverKeyProblem(requestKey);
  if (keyProblem) throw new UserError(`the host's server key is not acceptable: ${keyProblem}`);
  if (options.sans.dns.length + options.sans.ips.length === 0) throw new Error('a server certificate needs at least one subjectAltName');

  const caCert = new x509.X509Certificate(options.ca.certPem);
  const signingKey = await importCaKey(options.ca.keyPem, 'the CA key');
  let usages = x509.KeyUsageFlags.digitalSignature;
  // RSA key exchange (TLS 1.2 without ECDHE) encrypts with the server key; EC keys only sign.
  if (requestKey.asymmetricKeyType === 'rsa') usages |= x509.KeyUsageFlags.keyEncipherment;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [options.commonName] }],
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + options.validityDays * DAY_MS),
    signingAlgorithm: ECDSA_P256,
    publicKey: csr.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      sansExtension(x509, options.sans),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** Reads a certificate's facts; `source` names the file in error messages. */
export async function inspectCertificate(pem: string, options: { source: string; caPem?: string; now?: Date }): Promise<CertificateInfo> {
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  const first = splitPemCertificates(pem)[0];
  if (!first) throw new InputError(`${options.source} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`, { field: options.source });
  let cert: NodeX509Certificate;
  let parsed: X509.X509Certificate;
  try {
    cert = new NodeX509Certificate(first);
    parsed = new x509.X509Certificate(first);
  } catch (error) {
    throw new InputError(`${options.source} is not a readable certificate: ${(error as Error).message}`, { field: options.source, cause: error });
  }
  const sanExtension = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const sans: SanSet = { dns: [], ips: [] };
  for (const name of sanExtension?.names.items ?? []) {
    if (name.type === 'dns') sans.dns.push(name.value.toLowerCase());
    if (name.type === 'ip') sans.ips.push(normalizeIp(name.value));
  }
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  const notAfter = parsed.notAfter;
  const info: CertificateInfo = {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serialNumber: cert.serialNumber,
    sans,
    notBefore: parsed.notBefore,
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    fingerprint256: cert.fingerprint256,
    isCa: cert.ca,
    extendedKeyUsage: eku?.usages.map(String) ?? [],
    publicKeyPem: cert.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
  if (options.caPem !== undefined) info.issuedByCa = verifiesAgainst(pem, options.caPem);
  return info;
}

/**
 * Whether the first certificate of `pem` chains to `caPem`: directly, or through intermediates that
 * follow it in the same file (a fullchain file). Only names and signatures are checked here; dates
 * are checked separately so each problem gets its own message.
 */
export function verifiesAgainst(pem: string, caPem: string): boolean {
  const chain = splitPemCertificates(pem).map((block) => new NodeX509Certificate(block));
  const anchors = splitPemCertificates(caPem).map((block) => new NodeX509Certificate(block));
  let current = chain[0];
  for (let depth = 0; current && depth < 8; depth += 1) {
    const subject = current;
    if (anchors.some((anchor) => subject.checkIssued(anchor) && subject.verify(anchor.publicKey))) return true;
    current = chain.find((candidate) => candidate !== subject && candidate.ca && subject.checkIssued(candidate) && subject.verify(candidate.publicKey));
  }
  return false;
}

/** Names of `expected` the certificate does not carry, as `IP 10.0.0.11` / `DNS pi`. */
export function missingSans(info: CertificateInfo, expected: SanSet): string[] {
  const missing: string[] = [];
  for (const ip of expected.ips) if (!info.sans.ips.includes(normalizeIp(ip))) missing.push(`IP ${ip}`);
  for (const name of expected.dns) if (!coversDns(info.sans.dns, name)) missing.push(`DNS ${name}`);
  return missing;
}

/** RFC 6125 6.4.3: a wildcard matches exactly one whole left-most label. */
function coversDns(names: string[], wanted: string): boolean {
  const target = wanted.toLowerCase();
  return names.some((name) => {
    if (name === target) return true;
    if (!name.startsWith('*.')) return false;
    const dot = target.indexOf('.');
    return dot > 0 && target.slice(dot + 1) === name.slice(2);
  });
}

export interface ProvidedFile {
  /** Where the content came from, for messages (the user's path). */
  file: string;
  pem: string;
}

/**
 * Validates a certificate set the user provides (e.g. from certbot) before anything is uploaded:
 * the key is a supported private key and matches the certificate, the certificate is current and
 * covers the API address (SANs only, as Go clients check), and it chains to the CA when one is given.
 */
export async function validateProvidedSet(options: {
  cert: ProvidedFile;
  key: ProvidedFile;
  ca?: ProvidedFile;
  /** Host part of the API address: an IP or a DNS name. */
  address: string;
  now?: Date;
}): Promise<CertificateInfo> {
  const now = options.now ?? new Date();
  const { cert, key, ca } = options;
  const info = await inspectCertificate(cert.pem, { source: cert.file, now });
  const leaf = new NodeX509Certificate(splitPemCertificates(cert.pem)[0]!);

  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.pem);
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(key.pem);
    throw new InputError(
      encrypted ? `${key.file} is an encrypted private key` : `${key.file} is not a readable PEM private key: ${(error as Error).message}`,
      {
        field: 'vault.tls.keyFile',
        hint: encrypted ? 'Vault cannot read encrypted keys: provide the key without a passphrase (kept 0640 root:vault on the host)' : 'point vault.tls.keyFile at the PEM private key of the certificate',
      },
    );
  }
  const keyProblem = serverKeyProblem(privateKey);
  if (keyProblem) throw new InputError(`${key.file}: ${keyProblem}`, { field: 'vault.tls.keyFile' });
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new InputError(`${key.file} does not match ${cert.file} (the key is not the certificate's private key)`, {
      field: 'vault.tls.keyFile',
      hint: 'use the key file that was generated with this certificate (certbot: privkey.pem with fullchain.pem)',
    });
  }
  if (info.isCa) throw new InputError(`${cert.file} is a CA certificate, not a server certificate`, { field: 'vault.tls.certFile' });
  if (info.notAfter.getTime() <= now.getTime()) {
    throw new InputError(`${cert.file} expired on ${info.notAfter.toISOString()}`, { field: 'vault.tls.certFile', hint: 'renew the certificate, then run the step again' });
  }
  if (info.notBefore.getTime() > now.getTime()) {
    throw new InputError(`${cert.file} is not valid before ${info.notBefore.toISOString()}`, {
      field: 'vault.tls.certFile',
      hint: 'check the clock of this machine, or wait until the certificate becomes valid',
    });
  }
  if (info.extendedKeyUsage.length > 0 && !info.extendedKeyUsage.includes(SERVER_AUTH_OID)) {
    throw new InputError(`${cert.file} is not for servers (its extended key usage lacks serverAuth)`, { field: 'vault.tls.certFile' });
  }
  const bare = options.address.startsWith('[') ? options.address.slice(1, -1) : options.address;
  // subject: 'never' — like Go clients, accept the name only from subjectAltName, never from the CN.
  const covered = isIP(bare) !== 0 ? leaf.checkIP(bare) !== undefined : leaf.checkHost(bare, { subject: 'never' }) !== undefined;
  if (!covered) {
    const names = [...info.sans.ips.map((ip) => `IP ${ip}`), ...info.sans.dns.map((name) => `DNS ${name}`)].join(', ') || 'none';
    throw new InputError(`${cert.file} does not cover the API address ${bare} (its subjectAltNames: ${names})`, {
      field: 'vault.tls.certFile',
      hint: 'use a certificate that names this address, or change vault.nodeIp / vault.apiAddress to a name it covers',
    });
  }
  if (ca) {
    if (splitPemCertificates(ca.pem).length === 0) throw new InputError(`${ca.file} holds no PEM certificate`, { field: 'vault.tls.caFile' });
    if (!verifiesAgainst(cert.pem, ca.pem)) {
      throw new InputError(`${cert.file} was not issued by the CA in ${ca.file} (the chain does not verify)`, {
        field: 'vault.tls.caFile',
        hint: 'give the CA (or intermediate) that signed the certificate; certbot: chain.pem',
      });
    }
    info.issuedByCa = true;
  }
  return info;
}

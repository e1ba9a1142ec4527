/**
 * The TLS service, checked by the real openssl CLI: keys and requests are made by openssl as the host
 * does (`openssl genpkey`, `openssl req -new`), certificates are verified with `openssl verify
 * -CAfile` and read with `openssl x509 -text`. See openssl-verify(1), openssl-x509(1), openssl-req(1).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import {
  checkCaPair,
  createCertificateAuthority,
  expectedSans,
  inspectCertificate,
  missingSans,
  recreateCaCertificate,
  signServerCertificate,
  validateProvidedSet,
  verifiesAgainst,
  type CaMaterial,
  type SanSet,
} from '../../source/services/tls.js';

let scratch: string;
let ca: CaMaterial;
let otherCa: CaMaterial;
let serverKey: string;
let csr: string;

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { cwd: scratch, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

function file(name: string, content: string): string {
  const target = path.join(scratch, name);
  writeFileSync(target, content);
  return target;
}

function newEcKey(name: string): string {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
  return openssl(['pkey', '-in', name]);
}

function requestFor(keyFile: string, extra: string[] = []): string {
  return openssl(['req', '-new', '-key', keyFile, '-subj', '/CN=from-the-request', ...extra]);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

const SANS: SanSet = { ips: ['10.0.0.11', '127.0.0.1', '::1'], dns: ['pi-node', 'pi-node.lan', 'localhost', 'vault.example.test'] };

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'pvt-tls-'));
  ca = await createCertificateAuthority({ profileName: 'lab' });
  otherCa = await createCertificateAuthority({ profileName: 'other' });
  serverKey = newEcKey('server.key');
  csr = requestFor('server.key');
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('certificate authority', () => {
  it('is an ECDSA P-256 CA for 10 years with critical CA:true and keyCertSign/cRLSign, as openssl reads it', () => {
    const caFile = file('ca.crt', ca.certPem);
    const text = openssl(['x509', '-in', caFile, '-noout', '-text']);
    expect(text).toContain('Subject: CN = picluster-vault-tui CA lab');
    expect(text).toContain('Issuer: CN = picluster-vault-tui CA lab');
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('X509v3 Authority Key Identifier');
    const notAfter = new Date(openssl(['x509', '-in', caFile, '-noout', '-enddate']).trim().replace('notAfter=', ''));
    const years = (notAfter.getTime() - Date.now()) / (365.25 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(9.99);
    expect(years).toBeLessThan(10.01);
    // A self-signed root verifies against itself.
    expect(openssl(['verify', '-CAfile', caFile, caFile]).trim()).toBe(`${caFile}: OK`);
    // The key is PKCS#8 and belongs to the certificate.
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(() => checkCaPair(ca, { cert: 'ca.crt', key: 'ca.key' })).not.toThrow();
  });

  it('gets a random serial each time', async () => {
    const first = await inspectCertificate(ca.certPem, { source: 'ca.crt' });
    const second = await inspectCertificate(otherCa.certPem, { source: 'other.crt' });
    expect(first.serialNumber).not.toBe(second.serialNumber);
    expect(first.serialNumber.length).toBeGreaterThanOrEqual(30);
    expect(first.isCa).toBe(true);
  });

  it('a key that is not the certificate\'s is refused with both file names', () => {
    expect(() => checkCaPair({ certPem: ca.certPem, keyPem: otherCa.keyPem }, { cert: '/c/ca.crt', key: '/c/ca.key' })).toThrow(
      '/c/ca.key does not belong to /c/ca.crt (their public keys differ)',
    );
  });

  it('a re-issued CA certificate for the same key still verifies what the key signed', async () => {
    const cert = await signServerCertificate({ ca, csrPem: csr, sans: SANS, commonName: 'pi-node', validityDays: 30 });
    const again = await recreateCaCertificate({ keyPem: ca.keyPem, profileName: 'lab' });
    expect(() => checkCaPair({ certPem: again, keyPem: ca.keyPem }, { cert: 'ca.crt', key: 'ca.key' })).not.toThrow();
    const certFile = file('reissued-leaf.crt', cert);
    const caFile = file('reissued-ca.crt', again);
    expect(openssl(['verify', '-CAfile', caFile, certFile]).trim()).toBe(`${certFile}: OK`);
  });
});

describe('server certificate from a request made by openssl', () => {
  it('verifies with openssl against the CA, for TLS servers, with exactly the SANs asked for', async () => {
    const cert = await signServerCertificate({ ca, csrPem: csr, sans: SANS, commonName: 'pi-node', validityDays: 825 });
    const certFile = file('server.crt', cert);
    const caFile = file('ca.crt', ca.certPem);
    expect(openssl(['verify', '-CAfile', caFile, certFile]).trim()).toBe(`${certFile}: OK`);
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', caFile, certFile]).trim()).toBe(`${certFile}: OK`);
    expect(() => openssl(['verify', '-CAfile', file('other-ca.crt', otherCa.certPem), certFile])).toThrow(/unable to get local issuer certificate/);

    const text = openssl(['x509', '-in', certFile, '-noout', '-text']);
    expect(text).toContain('Subject: CN = pi-node');
    expect(text).toContain('Issuer: CN = picluster-vault-tui CA lab');
    expect(text).toMatch(
      /X509v3 Subject Alternative Name:\s*\n\s*IP Address:10\.0\.0\.11, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:pi-node, DNS:pi-node\.lan, DNS:localhost, DNS:vault\.example\.test\n/,
    );
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('X509v3 Authority Key Identifier');

    // The certificate's key is the host's key (openssl's view).
    const certKey = openssl(['x509', '-in', certFile, '-noout', '-pubkey']);
    expect(certKey).toBe(openssl(['pkey', '-in', 'server.key', '-pubout']));

    const info = await inspectCertificate(cert, { source: 'server.crt', caPem: ca.certPem });
    expect(info.sans).toEqual(SANS);
    expect(info.issuedByCa).toBe(true);
    expect(info.isCa).toBe(false);
    expect(info.daysLeft).toBe(824); // 825 days from now, minus the part of today already gone
    const fingerprint = openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256']).trim();
    expect(fingerprint.replace(/^sha256 Fingerprint=/i, '')).toBe(info.fingerprint256);
    expect(info.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect((await inspectCertificate(cert, { source: 'server.crt', caPem: otherCa.certPem })).issuedByCa).toBe(false);
    expect(missingSans(info, SANS)).toEqual([]);
    expect(missingSans(info, { ips: ['10.0.0.12'], dns: ['other.lan'] })).toEqual(['IP 10.0.0.12', 'DNS other.lan']);
  });

  it('ignores names the request asks for: only the given SANs are signed', async () => {
    file('greedy.key', newEcKey('greedy.key'));
    const greedy = requestFor('greedy.key', ['-addext', 'subjectAltName=DNS:bank.example,IP:203.0.113.9']);
    const cert = await signServerCertificate({ ca, csrPem: greedy, sans: { ips: ['127.0.0.1'], dns: ['localhost'] }, commonName: 'pi', validityDays: 10 });
    const info = await inspectCertificate(cert, { source: 'greedy.crt' });
    expect(info.sans).toEqual({ ips: ['127.0.0.1'], dns: ['localhost'] });
    expect(info.subject).toBe('CN=pi');
  });

  it('adds keyEncipherment for an RSA key and refuses a 1024-bit RSA key', async () => {
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key']);
    const cert = await signServerCertificate({ ca, csrPem: requestFor('rsa.key'), sans: SANS, commonName: 'pi', validityDays: 10 });
    expect(openssl(['x509', '-in', file('rsa.crt', cert), '-noout', '-text'])).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment\n/);

    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'weak.key']);
    const error = await rejection(signServerCertificate({ ca, csrPem: requestFor('weak.key'), sans: SANS, commonName: 'pi', validityDays: 10 }));
    expect(error.message).toBe("the host's server key is not acceptable: RSA key of 1024 bits is too short (2048 at least)");
  });

  it('refuses a request whose signature does not verify, and one that is not a request', async () => {
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const bad = await rejection(signServerCertificate({ ca, csrPem: tampered, sans: SANS, commonName: 'pi', validityDays: 10 }));
    expect(bad.message).toMatch(/bad signature|not a valid PKCS#10 request/);
    const garbage = await rejection(signServerCertificate({ ca, csrPem: 'hello', sans: SANS, commonName: 'pi', validityDays: 10 }));
    expect(garbage.message).toMatch(/^the certificate request from the host is not a valid PKCS#10 request/);
  });
});

describe('expected SANs', () => {
  it('node IP, loopback addresses, hostname, FQDN, localhost, extra names and the API address host, once each', () => {
    const profile = ProfileSchema.parse({
      vault: {
        nodeIp: '10.0.0.11',
        apiAddress: 'https://vault.home.arpa:8200',
        tls: { extraSans: ['vault.example.test', '192.168.1.50', 'localhost', '0:0:0:0:0:0:0:1', '*.vault.lan'] },
      },
    });
    expect(expectedSans(profile, { hostname: 'Pi-Node', fqdn: 'pi-node.lan.' })).toEqual({
      ips: ['10.0.0.11', '127.0.0.1', '::1', '192.168.1.50'],
      dns: ['pi-node', 'pi-node.lan', 'localhost', 'vault.example.test', '*.vault.lan', 'vault.home.arpa'],
    });
    // Without a node IP and with a FQDN equal to the hostname.
    expect(expectedSans(ProfileSchema.parse({}), { hostname: 'pi', fqdn: 'pi' })).toEqual({ ips: ['127.0.0.1', '::1'], dns: ['pi', 'localhost'] });
  });
});

describe('validating a provided set (as certbot gives: cert, key, CA)', () => {
  let goodCert: string;

  beforeAll(async () => {
    goodCert = await signServerCertificate({ ca, csrPem: csr, sans: SANS, commonName: 'pi-node', validityDays: 90 });
  });

  const set = (overrides: { cert?: string; key?: string; ca?: string | null; address?: string; now?: Date } = {}) => ({
    cert: { file: '/home/pi/fullchain.pem', pem: overrides.cert ?? goodCert },
    key: { file: '/home/pi/privkey.pem', pem: overrides.key ?? serverKey },
    ...(overrides.ca === null ? {} : { ca: { file: '/home/pi/chain.pem', pem: overrides.ca ?? ca.certPem } }),
    address: overrides.address ?? '10.0.0.11',
    ...(overrides.now ? { now: overrides.now } : {}),
  });

  it('accepts a matching, current set that covers the address, with or without a CA', async () => {
    const info = await validateProvidedSet(set());
    expect(info.issuedByCa).toBe(true);
    expect(info.daysLeft).toBe(89);
    await expect(validateProvidedSet(set({ ca: null, address: 'pi-node.lan' }))).resolves.toMatchObject({ subject: 'CN=pi-node' });
    await expect(validateProvidedSet(set({ address: '[::1]' }))).resolves.toBeDefined();
  });

  it('a key that does not match the certificate', async () => {
    const error = await rejection(validateProvidedSet(set({ key: newEcKey('stranger.key') })));
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe('vault.tls.keyFile');
    expect(error.message).toBe("/home/pi/privkey.pem does not match /home/pi/fullchain.pem (the key is not the certificate's private key)");
  });

  it('an expired certificate', async () => {
    const issued = new Date('2024-01-01T00:00:00Z');
    const old = await signServerCertificate({ ca, csrPem: csr, sans: SANS, commonName: 'pi-node', validityDays: 30, now: issued });
    const error = await rejection(validateProvidedSet(set({ cert: old })));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe('/home/pi/fullchain.pem expired on 2024-01-31T00:00:00.000Z');
  });

  it('a certificate that does not name the API address (the CN does not count)', async () => {
    const error = await rejection(validateProvidedSet(set({ address: '10.9.9.9' })));
    expect(error.message).toBe(
      '/home/pi/fullchain.pem does not cover the API address 10.9.9.9 (its subjectAltNames: IP 10.0.0.11, IP 127.0.0.1, IP ::1, DNS pi-node, DNS pi-node.lan, DNS localhost, DNS vault.example.test)',
    );
    const cnOnly = await signServerCertificate({ ca, csrPem: csr, sans: { ips: ['10.0.0.11'], dns: [] }, commonName: 'pi-node', validityDays: 30 });
    const byCn = await rejection(validateProvidedSet(set({ cert: cnOnly, address: 'pi-node' })));
    expect(byCn.message).toContain('does not cover the API address pi-node');
  });

  it('a certificate from another CA, a file with no certificate, an encrypted or missing key', async () => {
    const wrongCa = await rejection(validateProvidedSet(set({ ca: otherCa.certPem })));
    expect(wrongCa.message).toBe('/home/pi/fullchain.pem was not issued by the CA in /home/pi/chain.pem (the chain does not verify)');
    expect((wrongCa as InputError).field).toBe('vault.tls.caFile');

    const noCert = await rejection(validateProvidedSet(set({ cert: serverKey })));
    expect(noCert.message).toBe('/home/pi/fullchain.pem holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)');

    const encrypted = openssl(['pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret-pass']);
    const locked = await rejection(validateProvidedSet(set({ key: encrypted })));
    expect(locked.message).toBe('/home/pi/privkey.pem is an encrypted private key');

    const notAKey = await rejection(validateProvidedSet(set({ key: goodCert })));
    expect(notAKey.message).toMatch(/^\/home\/pi\/privkey\.pem is not a readable PEM private key/);
  });

  it('follows a fullchain file through its intermediate to the CA', async () => {
    // A leaf signed by an intermediate (made with openssl) that our CA signed.
    const caFile = file('chain-ca.crt', ca.certPem);
    file('chain-ca.key', ca.keyPem);
    newEcKey('intermediate.key');
    writeFileSync(path.join(scratch, 'intermediate.ext'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    const intermediateCsr = file('intermediate.csr', requestFor('intermediate.key'));
    // Our CA has pathlen:0 so openssl would refuse this chain; the check here is only about names and
    // signatures walking through the file, which is what verifiesAgainst does.
    openssl(['x509', '-req', '-in', intermediateCsr, '-CA', caFile, '-CAkey', 'chain-ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'intermediate.ext', '-out', 'intermediate.crt']);
    const leafCsr = file('leaf.csr', csr);
    writeFileSync(path.join(scratch, 'leaf.ext'), 'subjectAltName=IP:10.0.0.11\nextendedKeyUsage=serverAuth\n');
    openssl(['x509', '-req', '-in', leafCsr, '-CA', 'intermediate.crt', '-CAkey', 'intermediate.key', '-CAcreateserial', '-days', '30', '-extfile', 'leaf.ext', '-out', 'leaf.crt']);
    const leaf = openssl(['x509', '-in', 'leaf.crt']);
    const intermediate = openssl(['x509', '-in', 'intermediate.crt']);
    expect(verifiesAgainst(leaf + intermediate, ca.certPem)).toBe(true);
    expect(verifiesAgainst(leaf, ca.certPem)).toBe(false);
    expect(verifiesAgainst(leaf, intermediate)).toBe(true);
  });
});

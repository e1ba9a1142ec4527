/**
 * Two certificate authorities made with the openssl CLI for one test run: the one the client is told
 * to trust, and an impostor's. Each signs a certificate for 127.0.0.1, so a server presenting the
 * impostor's is exactly what a client given the trusted CA must refuse. Everything stays on loopback.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ServerCertificate {
  keyPem: string;
  certPem: string;
}

export interface TlsPair {
  /** The CA the client is given. */
  trustedCaPem: string;
  /** Signed by the trusted CA, for IP 127.0.0.1. */
  trusted: ServerCertificate;
  /** Signed by another CA, for the same IP: only verification tells the two apart. */
  impostor: ServerCertificate;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}-ca.key`, '-out', `${name}-ca.crt`, '-days', '2', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

async function makeServer(dir: string, name: string): Promise<ServerCertificate> {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1']);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.crt`, '-CAkey', `${name}-ca.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]);
  return { keyPem: await readFile(path.join(dir, `${name}.key`), 'utf8'), certPem: await readFile(path.join(dir, `${name}.crt`), 'utf8') };
}

export async function makeTlsPair(): Promise<TlsPair> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pvt-tls-pair-'));
  try {
    const extension = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n';
    for (const name of ['trusted', 'impostor']) {
      makeCa(dir, name);
      await writeFile(path.join(dir, `${name}.ext`), extension);
    }
    return {
      trustedCaPem: await readFile(path.join(dir, 'trusted-ca.crt'), 'utf8'),
      trusted: await makeServer(dir, 'trusted'),
      impostor: await makeServer(dir, 'impostor'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The mirror's own certificate authority and serving certificate (openssl CLI), so what the mirror
 * serves over HTTPS (the ESO chart repository) is verified against a CA the lab hands to the
 * product explicitly, as a user's private mirror would be. Reused across restarts of an instance.
 *   <dir>/ca.crt, <dir>/ca.key       the mirror CA
 *   <dir>/server.crt, <dir>/server.key   for 127.0.0.1 and localhost
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../host/process.js';

export interface MirrorTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function ensureMirrorTls(dir: string): Promise<MirrorTls> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => join(dir, name);
  const tls = { caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') };
  if (!(await exists(tls.caFile))) {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', tls.caFile, '-days', '3650', '-subj', '/CN=picluster-vault-tui lab mirror CA']);
  }
  if (!(await exists(tls.certFile))) {
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', tls.keyFile, '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', tls.caFile, '-CAkey', file('ca.key'), '-CAcreateserial', '-out', tls.certFile, '-days', '825', '-extfile', file('server.ext')]);
  }
  return tls;
}

export async function readMirrorTls(tls: MirrorTls): Promise<{ cert: string; key: string }> {
  return { cert: await readFile(tls.certFile, 'utf8'), key: await readFile(tls.keyFile, 'utf8') };
}

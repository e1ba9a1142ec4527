// The cluster's key material, made with the openssl CLI the way kubeadm/K3s lay it out: a cluster
// CA, an API server certificate with the kubernetes.default.svc names and the chosen addresses as
// SANs, an admin client certificate (CN=kubernetes-admin, O=system:masters), client certificates
// for the controller manager and the scheduler (the identities their default RBAC bindings name),
// and an RSA key that signs service account tokens. Existing files in `dir` are reused, so a
// restart keeps kubeconfigs valid.
// https://kubernetes.io/docs/setup/best-practices/certificates/
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClusterPki {
  caPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  /** RSA key that signs service account tokens (RS256), and its public half */
  serviceAccountKeyPem: string;
  serviceAccountPublicPem: string;
  files: {
    ca: string;
    caKey: string;
    serverCert: string;
    serverKey: string;
    adminCert: string;
    adminKey: string;
    controllerManagerCert: string;
    controllerManagerKey: string;
    schedulerCert: string;
    schedulerKey: string;
    serviceAccountKey: string;
    serviceAccountPublic: string;
    frontProxyCa: string;
    frontProxyClientCert: string;
    frontProxyClientKey: string;
  };
  frontProxyClientCertPem: string;
  frontProxyClientKeyPem: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The server certificate must name every address a client may use; otherwise it is remade. */
function coversNames(certPem: string, ips: string[], dns: string[]): boolean {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  const names = san.split(', ');
  return ips.every((ip) => names.includes(`IP Address:${ip}`)) && dns.every((name) => names.includes(`DNS:${name}`));
}

export async function ensureClusterPki(dir: string, addresses: string[]): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => join(dir, name);
  const files = {
    ca: file('ca.crt'),
    caKey: file('ca.key'),
    serverCert: file('apiserver.crt'),
    serverKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    controllerManagerCert: file('kube-controller-manager.crt'),
    controllerManagerKey: file('kube-controller-manager.key'),
    schedulerCert: file('kube-scheduler.crt'),
    schedulerKey: file('kube-scheduler.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublic: file('sa.pub'),
    frontProxyCa: file('front-proxy-ca.crt'),
    frontProxyClientCert: file('front-proxy-client.crt'),
    frontProxyClientKey: file('front-proxy-client.key'),
  };
  const ips = [...new Set(['127.0.0.1', '10.43.0.1', ...addresses.filter((a) => /^[\d.]+$|:/.test(a))])];
  const dns = [...new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...addresses.filter((a) => !/^[\d.]+$|:/.test(a))])];

  if (!(await exists(files.ca))) {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', files.ca, '-days', '3650', '-subj', '/CN=k3s-server-ca@1700000000']);
  }
  const signed = async (name: string, subject: string, ext: string): Promise<void> => {
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject]);
    await writeFile(file(`${name}.ext`), ext);
    await run('openssl', ['x509', '-req', '-in', file(`${name}.csr`), '-CA', files.ca, '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.crt`), '-days', '365', '-extfile', file(`${name}.ext`)]);
  };
  if (!(await exists(files.serverCert)) || !coversNames(await readFile(files.serverCert, 'utf8'), ips, dns)) {
    const san = [...ips.map((ip) => `IP:${ip}`), ...dns.map((name) => `DNS:${name}`)].join(',');
    await signed('apiserver', '/CN=kube-apiserver', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
  }
  if (!(await exists(files.adminCert))) {
    await signed('admin', '/O=system:masters/CN=kubernetes-admin', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  }
  const client = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n';
  // The users kube-apiserver's bootstrap RBAC binds to system:kube-controller-manager and
  // system:kube-scheduler (plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
  if (!(await exists(files.controllerManagerCert))) await signed('kube-controller-manager', '/CN=system:kube-controller-manager', client);
  if (!(await exists(files.schedulerCert))) await signed('kube-scheduler', '/CN=system:kube-scheduler', client);
  if (!(await exists(files.serviceAccountKey))) {
    await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', files.serviceAccountKey]);
  }
  const read = (path: string): Promise<string> => readFile(path, 'utf8');
  const serviceAccountKeyPem = await read(files.serviceAccountKey);
  const { stdout: serviceAccountPublicPem } = await run('openssl', ['pkey', '-in', files.serviceAccountKey, '-pubout']);
  await writeFile(files.serviceAccountPublic, serviceAccountPublicPem);
  // The front-proxy CA is separate from the client CA (as kubeadm and K3s keep it), so its
  // certificate authenticates only as a proxy that names the user in X-Remote-User.
  if (!(await exists(files.frontProxyCa))) {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('front-proxy-ca.key'), '-out', files.frontProxyCa, '-days', '3650', '-subj', '/CN=k3s-request-header-ca@1700000000']);
  }
  if (!(await exists(files.frontProxyClientCert))) {
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.frontProxyClientKey, '-out', file('front-proxy-client.csr'), '-subj', '/CN=front-proxy-client']);
    await writeFile(file('front-proxy-client.ext'), client);
    await run('openssl', ['x509', '-req', '-in', file('front-proxy-client.csr'), '-CA', files.frontProxyCa, '-CAkey', file('front-proxy-ca.key'), '-CAcreateserial', '-out', files.frontProxyClientCert, '-days', '365', '-extfile', file('front-proxy-client.ext')]);
  }
  return {
    caPem: await read(files.ca),
    caKeyPem: await read(file('ca.key')),
    serverCertPem: await read(files.serverCert),
    serverKeyPem: await read(files.serverKey),
    adminCertPem: await read(files.adminCert),
    adminKeyPem: await read(files.adminKey),
    serviceAccountKeyPem,
    serviceAccountPublicPem,
    frontProxyClientCertPem: await read(files.frontProxyClientCert),
    frontProxyClientKeyPem: await read(files.frontProxyClientKey),
    files,
  };
}

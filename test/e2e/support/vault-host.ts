/**
 * What Phase 1 leaves on a host, read back for assertions: the expected layout (the product's own
 * constants, so the tests and the steps name the same paths), a snapshot of every file it owns that
 * can be compared between hosts, and the API answer over TLS verified with a given CA.
 */
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { sh } from '../../../source/services/host/shell-quote.js';
import { VAULT, type ServerFlavor } from '../../../source/core/server.js';
import type { FileEntry, LabHostShell } from './host.js';

/** Where the host phase puts a server's files: the product's own table (core/server.ts), so tests and steps name the same paths. */
export interface ServerPaths {
  server: ServerFlavor;
  binary: string;
  unit: string;
  unitFile: string;
  configDir: string;
  configFile: string;
  tlsDir: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  dataDir: string;
  logDir: string;
  /** Every directory the directories step owns: <user>:<group> 0750. */
  directories: string[];
  /** What Phase 1 writes that no running server changes (it writes under its data and log directories). */
  writtenBySetup: string[];
  /** The service step's record of the inputs the running server was started with. */
  serviceInputsFile: string;
  /** The auto-unseal keys file. */
  keysFile: string;
}

export function serverPaths(server: ServerFlavor): ServerPaths {
  const configDir = server.defaultConfigDir;
  const tlsDir = `${configDir}/tls`;
  return {
    server,
    binary: server.binaryPath,
    unit: server.unit,
    unitFile: server.unitFile,
    configDir,
    configFile: `${configDir}/${server.configFileName}`,
    tlsDir,
    certFile: `${tlsDir}/${server.tlsFiles.cert}`,
    keyFile: `${tlsDir}/${server.tlsFiles.key}`,
    caFile: `${tlsDir}/${server.tlsFiles.ca}`,
    dataDir: server.defaultDataDir,
    logDir: server.logDir,
    directories: [configDir, tlsDir, `${configDir}/policy`, `${configDir}/plugin`, server.defaultDataDir, server.logDir],
    writtenBySetup: [configDir, server.unitFile, server.binaryPath],
    serviceInputsFile: `${configDir}/.${server.user}-service-inputs.json`,
    keysFile: `${configDir}/unseal.json`,
  };
}

const VAULT_PATHS = serverPaths(VAULT);
export const VAULT_BINARY = VAULT_PATHS.binary;
export const VAULT_UNIT = VAULT_PATHS.unit;
export const VAULT_UNIT_FILE = VAULT_PATHS.unitFile;
export const CONFIG_DIR = VAULT_PATHS.configDir;
export const CONFIG_FILE = VAULT_PATHS.configFile;
export const TLS_DIR = VAULT_PATHS.tlsDir;
export const CERT_FILE = VAULT_PATHS.certFile;
export const KEY_FILE = VAULT_PATHS.keyFile;
export const CA_FILE = VAULT_PATHS.caFile;
/** Every directory the directories step owns, 0750: the config tree root:vault, data and logs vault:vault. */
export const VAULT_DIRECTORIES = VAULT_PATHS.directories;
/** What Phase 1 writes that no running Vault changes (Vault writes under /var/lib/vault and /var/log/vault). */
export const WRITTEN_BY_SETUP = VAULT_PATHS.writtenBySetup;
/** The service step's record of the inputs the running Vault was started with. */
export const SERVICE_INPUTS_FILE = VAULT_PATHS.serviceInputsFile;

/** `path type owner:group mode size mtime inode` lines: any rewrite shows as a changed mtime or inode. */
export function writeStamps(entries: readonly FileEntry[]): string[] {
  return entries.map((entry) => `${entry.path} ${entry.type} ${entry.owner}:${entry.group} ${entry.mode} ${entry.size} ${entry.mtime} ${entry.inode}`);
}

export interface PhaseSnapshot {
  /** path, type, owner:group, mode of everything Phase 1 owns. */
  entries: string[];
  /** Content of the config and unit, with this instance's ports replaced by placeholders. */
  texts: Record<string, string>;
  binarySha256: string | undefined;
  unit: { active: string; enabled: string };
  account: string;
  /** The server certificate's subjectAltName extension as openssl prints it. */
  certificateSans: string;
}

/**
 * Everything that must be the same on two hosts that ran Phase 1 to the end, whatever the run's
 * history: the TLS material differs per CA (each user has their own), so it is compared by owner,
 * mode and SANs, not by bytes; the lab's ports differ per instance, so they are normalized.
 */
export async function phaseSnapshot(host: LabHostShell, ports: { apiPort: number; clusterPort: number }, paths: ServerPaths = VAULT_PATHS): Promise<PhaseSnapshot> {
  const { directories: VAULT_DIRECTORIES, unitFile: VAULT_UNIT_FILE, binary: VAULT_BINARY, writtenBySetup: WRITTEN_BY_SETUP, tlsDir: TLS_DIR, unit: VAULT_UNIT, configDir: CONFIG_DIR } = paths;
  const { serviceInputsFile: SERVICE_INPUTS_FILE, certFile: CERT_FILE } = paths;
  const listing = await host.list([...VAULT_DIRECTORIES, VAULT_UNIT_FILE, VAULT_BINARY]);
  const normalize = (text: string): string =>
    text.replaceAll(String(ports.apiPort), '<api-port>').replaceAll(String(ports.clusterPort), '<cluster-port>');
  const sums = await host.sha256([...WRITTEN_BY_SETUP, TLS_DIR]);
  const { InvocationID: invocationId = '' } = await host.unitProperties(VAULT_UNIT, ['InvocationID']);
  const texts: Record<string, string> = {};
  for (const entry of listing) {
    const isConfigText = entry.type === 'f' && entry.path.startsWith(`${CONFIG_DIR}/`) && !entry.path.startsWith(`${TLS_DIR}/`);
    if (!isConfigText && entry.path !== VAULT_UNIT_FILE) continue;
    const text = await host.readFile(entry.path);
    texts[entry.path] = entry.path === SERVICE_INPUTS_FILE ? describeServiceInputs(text, invocationId, sums) : normalize(text);
  }
  const account = (await host.exec(sh`getent passwd ${paths.server.user}`)).stdout.trim().split(':');
  return {
    // The server's own data (raft files under its data directory) is its business: only the directory is Phase 1's.
    entries: listing
      .filter((entry) => !entry.path.startsWith(`${paths.dataDir}/`) && !entry.path.startsWith(`${paths.logDir}/`))
      .map((entry) => `${entry.path} ${entry.type} ${entry.owner}:${entry.group} ${entry.mode}`),
    texts,
    binarySha256: sums.get(VAULT_BINARY),
    unit: await host.unitState(VAULT_UNIT),
    // name, home and shell (uid/gid are whatever the system allocates).
    account: [account[0], account[5], account[6]].join(':'),
    certificateSans: (await host.sudoExec(sh`openssl x509 -in ${CERT_FILE} -noout -ext subjectAltName`)).stdout.trim(),
  };
}

/**
 * The service step's record of what the running Vault was started with: an invocation id and
 * hashes, which differ per host and run. What must hold on every host is that it describes the
 * running invocation and the files as they are now.
 */
function describeServiceInputs(text: string, invocationId: string, sums: ReadonlyMap<string, string>): string {
  let record: { invocationId?: unknown; inputs?: Record<string, unknown> };
  try {
    record = JSON.parse(text) as typeof record;
  } catch {
    return `not JSON: ${text}`;
  }
  const inputs = Object.entries(record.inputs ?? {})
    .map(([path, hash]) => `${path} ${hash === sums.get(path) ? 'current' : `stale (${String(hash)} != ${sums.get(path) ?? 'missing'})`}`)
    .sort();
  return [`invocation ${record.invocationId === invocationId ? 'running' : `not the running one (${String(record.invocationId)} != ${invocationId})`}`, ...inputs].join('\n');
}

/** The PEM certificates in a local directory (custody), by file name. */
export async function certificatesIn(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
    if (text.includes('-----BEGIN CERTIFICATE-----')) found.set(name, text);
  }
  return found;
}

/**
 * GET /v1/sys/health from this machine (the lab shares its network) with TLS verified against `ca`
 * alone, for the name the certificate must cover. Resolves with the HTTP status.
 */
export function healthStatus(port: number, ca: string, address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path: '/v1/sys/health', method: 'GET', ca, timeout: 10_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from https://${address}:${port} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

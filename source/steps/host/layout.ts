/**
 * Where the server lives on the host. One place for every path and owner so steps, templates,
 * checks and tests agree (the guide mixes /etc/vault/tl, /vault/lib/vault and public.crt; see the
 * errata). Names follow the profile's server (core/server.ts): Vault's or OpenBao's.
 */
import { InputError } from '../../core/errors.js';
import { serverOf, type ServerFlavor } from '../../core/server.js';
import type { Profile } from '../../profile/schema.js';

export interface HostLayout {
  /** Which server these paths belong to, with its names (user, unit, binary). */
  server: ServerFlavor;
  configDir: string;
  tlsDir: string;
  policyDir: string;
  pluginDir: string;
  dataDir: string;
  logDir: string;
  configFile: string;
  /** Server certificate (PEM), 0644 root:<group> — public. */
  certFile: string;
  /** Server private key (PEM), 0640 root:<group> — never world-readable, never leaves the host when generated. */
  keyFile: string;
  /** CA certificate that signed certFile (PEM), for curl --cacert and the unseal script. */
  caFile: string;
  /**
   * Directories created by the directories step, all 0750: the config tree root:<group> (the server
   * only reads it, so its account can never plant a symlink where root maintains files), the ones in
   * `serverWritable` <user>:<group>.
   */
  directories: string[];
  /** The directories the server writes: its raft data and its log directory. */
  serverWritable: string[];
}

/** Who owns a directory of the layout: the server's account for the ones it writes, else root. */
export function directoryOwner(layout: HostLayout, path: string): string {
  return layout.serverWritable.includes(path) ? layout.server.user : 'root';
}

/** The config directory: the profile's, or the server's default (/etc/vault, /etc/openbao). */
export function configDirOf(profile: Profile): string {
  return profile.vault.configDir ?? serverOf(profile).defaultConfigDir;
}

/** The raft data directory: the profile's, or the server's default (/var/lib/vault, /var/lib/openbao). */
export function dataDirOf(profile: Profile): string {
  return profile.vault.dataDir ?? serverOf(profile).defaultDataDir;
}

/** The release site: the profile's, or the server's official one. */
export function releaseBaseUrlOf(profile: Profile): string {
  return profile.vault.releaseBaseUrl ?? serverOf(profile).release.defaultBaseUrl;
}

export function hostLayout(profile: Profile): HostLayout {
  const server = serverOf(profile);
  const configDir = configDirOf(profile);
  const dataDir = dataDirOf(profile);
  const tlsDir = `${configDir}/tls`;
  return {
    server,
    configDir,
    tlsDir,
    policyDir: `${configDir}/policy`,
    pluginDir: `${configDir}/plugin`,
    dataDir,
    logDir: server.logDir,
    configFile: `${configDir}/${server.configFileName}`,
    certFile: `${tlsDir}/${server.tlsFiles.cert}`,
    keyFile: `${tlsDir}/${server.tlsFiles.key}`,
    caFile: `${tlsDir}/${server.tlsFiles.ca}`,
    directories: [configDir, tlsDir, `${configDir}/policy`, `${configDir}/plugin`, dataDir, server.logDir],
    serverWritable: [dataDir, server.logDir],
  };
}

/** The address the product uses to reach the API: the profile's override, or https://<nodeIp>:<apiPort>. */
export function vaultApiAddress(profile: Profile): string | undefined {
  if (profile.vault.apiAddress) return profile.vault.apiAddress;
  if (!profile.vault.nodeIp) return undefined;
  const host = profile.vault.nodeIp.includes(':') ? `[${profile.vault.nodeIp}]` : profile.vault.nodeIp;
  return `https://${host}:${profile.vault.apiPort}`;
}

/** The API address, or a clear error saying which profile field to set. */
export function requireApiAddress(profile: Profile): string {
  const address = vaultApiAddress(profile);
  if (!address) {
    throw new InputError(`the profile names no address for the ${serverOf(profile).name} API`, {
      field: 'vault.nodeIp',
      hint: 'set vault.nodeIp (or vault.apiAddress) to the address this machine reaches the host at',
    });
  }
  return address;
}

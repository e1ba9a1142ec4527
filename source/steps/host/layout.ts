/**
 * Where Vault lives on the host. One place for every path and owner so steps, templates, checks
 * and tests agree (the guide mixes /etc/vault/tl, /vault/lib/vault and public.crt; see the errata).
 */
import { InputError } from '../../core/errors.js';
import type { Profile } from '../../profile/schema.js';

export const VAULT_USER = 'vault';
export const VAULT_GROUP = 'vault';
export const VAULT_BINARY = '/usr/local/bin/vault';
export const VAULT_UNIT = 'vault.service';
export const VAULT_UNIT_FILE = '/etc/systemd/system/vault.service';
export const VAULT_LOG_DIR = '/var/log/vault';

export interface HostLayout {
  configDir: string;
  tlsDir: string;
  policyDir: string;
  pluginDir: string;
  dataDir: string;
  logDir: string;
  configFile: string;
  /** Server certificate (PEM), 0644 root:vault — public. */
  certFile: string;
  /** Server private key (PEM), 0640 root:vault — never world-readable, never leaves the host when generated. */
  keyFile: string;
  /** CA certificate that signed certFile (PEM), for curl --cacert and the unseal script. */
  caFile: string;
  /** Directories created by the directories step, all vault:vault 0750. */
  directories: string[];
}

export function hostLayout(profile: Profile): HostLayout {
  const configDir = profile.vault.configDir;
  const tlsDir = `${configDir}/tls`;
  return {
    configDir,
    tlsDir,
    policyDir: `${configDir}/policy`,
    pluginDir: `${configDir}/plugin`,
    dataDir: profile.vault.dataDir,
    logDir: VAULT_LOG_DIR,
    configFile: `${configDir}/vault_main.hcl`,
    certFile: `${tlsDir}/vault.crt`,
    keyFile: `${tlsDir}/vault.key`,
    caFile: `${tlsDir}/vault-ca.crt`,
    directories: [configDir, tlsDir, `${configDir}/policy`, `${configDir}/plugin`, profile.vault.dataDir, VAULT_LOG_DIR],
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
    throw new InputError('the profile names no address for the Vault API', {
      field: 'vault.nodeIp',
      hint: 'set vault.nodeIp (or vault.apiAddress) to the address this machine reaches the host at',
    });
  }
  return address;
}

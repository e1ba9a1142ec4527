/**
 * Which secrets server the product sets up: HashiCorp Vault or OpenBao, its API-compatible fork.
 * One table of the facts that differ between them — names, paths, release layout, the CLI — so every
 * step, template, command and screen asks here instead of spelling "vault" itself.
 *
 * Names and paths follow each project's own Linux package:
 * - Vault: HashiCorp's .deb/.rpm (user `vault`, /etc/vault.d, /opt/vault/data, vault.service); this
 *   product has always used /etc/vault and /var/lib/vault (the guide's paths, see the errata), and keeps them.
 * - OpenBao: its nfpm package (openbao/openbao .release/nfpm.yaml, v2.6.2): user and group `openbao`,
 *   /etc/openbao/openbao.hcl, /var/lib/openbao, openbao.service; the binary is `bao`.
 * The API is the same on every path the product uses (OpenBao's migration guide: "existing clients
 * should not even register a difference"); where the servers differ, the code says so at the spot.
 */

export type ServerKind = 'vault' | 'openbao';
export const SERVER_KINDS: readonly ServerKind[] = ['vault', 'openbao'];

/** How a server's releases are published. */
export type ReleaseLayout =
  /** releases.hashicorp.com: <base>/vault/index.json, <base>/vault/<v>/vault_<v>_linux_<arch>.zip, vault_<v>_SHA256SUMS. */
  | 'hashicorp'
  /** GitHub releases: <base>/latest → <base>/tag/v<v>; <base>/download/v<v>/openbao_<v>_linux_<arch>.tar.gz, checksums.txt. */
  | 'github';

export interface ServerFlavor {
  readonly kind: ServerKind;
  /** The name users know it by, in sentences and titles: `Vault`, `OpenBao`. */
  readonly name: string;
  /** The project's full name, for unit descriptions. */
  readonly fullName: string;
  /** The executable's file name (and the CLI users type): `vault`, `bao`. */
  readonly binaryName: string;
  readonly binaryPath: string;
  readonly user: string;
  readonly group: string;
  /** The service account's home (never created: the account has no login). */
  readonly home: string;
  readonly unit: string;
  readonly unitFile: string;
  /** The auto-unseal oneshot unit, its file, its script and the journal identifier it logs under. */
  readonly unsealUnit: string;
  readonly unsealUnitFile: string;
  readonly unsealScriptFile: string;
  readonly unsealLogId: string;
  readonly logDir: string;
  readonly defaultConfigDir: string;
  readonly defaultDataDir: string;
  /** The server configuration's file name inside the config directory. */
  readonly configFileName: string;
  /** TLS file names inside <configDir>/tls: server certificate, key and the CA that signed it. */
  readonly tlsFiles: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly release: {
    readonly layout: ReleaseLayout;
    /** The official release site. */
    readonly defaultBaseUrl: string;
    /** The archive the executable comes in. */
    readonly archive: 'zip' | 'tar.gz';
  };
  /** Prefix of the CLI's environment variables: VAULT_ADDR / BAO_ADDR (bao falls back to VAULT_*). */
  readonly cliEnvPrefix: string;
  /** The documentation root, for hints and unit files. */
  readonly docsUrl: string;
  /**
   * Whether the config takes `disable_mlock`. OpenBao removed mlock: `disable_mlock = true` is
   * warned about as an unknown field and `false` is an error (openbao helper/configutil/config.go,
   * v2.6.2; seen from the real 2.7.2: "unknown or unsupported field disable_mlock found").
   */
  readonly hasMlock: boolean;
  /**
   * Where a root token is made from unseal key shares (the procedure that proves keys open a running
   * server without sealing it). Vault serves it unauthenticated on sys/generate-root
   * (https://developer.hashicorp.com/vault/api-docs/system/generate-root); OpenBao turned that off
   * by default in 2.5.3 and serves it behind a token on sys/generate-root-token since 2.6
   * (https://openbao.org/docs/deprecation/unauthed-generate-root/, https://openbao.org/api-docs/system/generate-root-token/).
   */
  readonly rootGeneration: { readonly path: 'sys/generate-root' | 'sys/generate-root-token'; readonly needsToken: boolean };
}

export const VAULT: ServerFlavor = {
  kind: 'vault',
  name: 'Vault',
  fullName: 'HashiCorp Vault',
  binaryName: 'vault',
  binaryPath: '/usr/local/bin/vault',
  user: 'vault',
  group: 'vault',
  home: '/var/lib/vault',
  unit: 'vault.service',
  unitFile: '/etc/systemd/system/vault.service',
  unsealUnit: 'vault-unseal.service',
  unsealUnitFile: '/etc/systemd/system/vault-unseal.service',
  unsealScriptFile: '/usr/local/sbin/vault-unseal.sh',
  unsealLogId: 'vault-unseal',
  logDir: '/var/log/vault',
  defaultConfigDir: '/etc/vault',
  defaultDataDir: '/var/lib/vault',
  configFileName: 'vault_main.hcl',
  tlsFiles: { cert: 'vault.crt', key: 'vault.key', ca: 'vault-ca.crt' },
  release: { layout: 'hashicorp', defaultBaseUrl: 'https://releases.hashicorp.com', archive: 'zip' },
  cliEnvPrefix: 'VAULT_',
  docsUrl: 'https://developer.hashicorp.com/vault/docs',
  hasMlock: true,
  rootGeneration: { path: 'sys/generate-root', needsToken: false },
};

export const OPENBAO: ServerFlavor = {
  kind: 'openbao',
  name: 'OpenBao',
  fullName: 'OpenBao',
  binaryName: 'bao',
  binaryPath: '/usr/local/bin/bao',
  user: 'openbao',
  group: 'openbao',
  home: '/var/lib/openbao',
  unit: 'openbao.service',
  unitFile: '/etc/systemd/system/openbao.service',
  unsealUnit: 'openbao-unseal.service',
  unsealUnitFile: '/etc/systemd/system/openbao-unseal.service',
  unsealScriptFile: '/usr/local/sbin/openbao-unseal.sh',
  unsealLogId: 'openbao-unseal',
  logDir: '/var/log/openbao',
  defaultConfigDir: '/etc/openbao',
  defaultDataDir: '/var/lib/openbao',
  configFileName: 'openbao.hcl',
  tlsFiles: { cert: 'openbao.crt', key: 'openbao.key', ca: 'openbao-ca.crt' },
  release: { layout: 'github', defaultBaseUrl: 'https://github.com/openbao/openbao/releases', archive: 'tar.gz' },
  cliEnvPrefix: 'BAO_',
  docsUrl: 'https://openbao.org/docs',
  hasMlock: false,
  rootGeneration: { path: 'sys/generate-root-token', needsToken: true },
};

export const SERVERS: Readonly<Record<ServerKind, ServerFlavor>> = { vault: VAULT, openbao: OPENBAO };

/** The flavor of a profile's server (`vault.server`, default Vault). */
export function serverOf(profile: { vault: { server?: ServerKind | undefined } }): ServerFlavor {
  return SERVERS[profile.vault.server ?? 'vault'];
}

/** The other server: the one a host must not already run when this one is set up. */
export function otherServer(server: ServerFlavor): ServerFlavor {
  return server.kind === 'vault' ? OPENBAO : VAULT;
}

// Vault and OpenBao side by side: names and paths from each project's own Linux package, the
// config and unit each gets, OpenBao's release layout, and switching a profile between them.
// OpenBao facts: openbao/openbao v2.6.2 .release/nfpm.yaml and goreleaser.linux.yaml,
// .release/linux/package/usr/lib/systemd/system/openbao.service; the real bao 2.7.2 for the
// version line and the refused disable_mlock key.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderAsset, serverConfigTemplate, serverUnitTemplate } from '../../source/core/assets.js';
import { UserError } from '../../source/core/errors.js';
import { OPENBAO, SERVERS, serverOf, VAULT } from '../../source/core/server.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { ProfileStore } from '../../source/profile/store.js';
import {
  latestReleaseUrl,
  openbaoArchOf,
  parseReleaseArchiveName,
  parseServerVersionOutput,
  releaseArchOf,
  releaseFiles,
  versionOfTagUrl,
} from '../../source/services/release.js';
import { renderVaultConfig } from '../../source/steps/host/config.js';
import { hostLayout, releaseBaseUrlOf } from '../../source/steps/host/layout.js';
import { refuseOtherServer, requiredTools } from '../../source/steps/host/preflight.js';
import { renderVaultUnit, serviceInputs } from '../../source/steps/host/service.js';
import { renderUnsealScript, renderUnsealUnit, unsealNames, unsealScriptSettings } from '../../source/steps/vault/autounseal.js';
import { buildPlan } from '../../source/steps/index.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

/** A unit file without its comment lines. */
function directives(unit: string): string {
  return unit
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n');
}

function profileFor(server: 'vault' | 'openbao', vault: Record<string, unknown> = {}): Profile {
  return ProfileSchema.parse({ vault: { server, nodeIp: '10.0.0.11', ...vault } });
}

describe('the server a profile sets up', () => {
  it('is Vault unless vault.server says openbao', () => {
    expect(serverOf(ProfileSchema.parse({}))).toBe(VAULT);
    expect(serverOf(profileFor('openbao'))).toBe(OPENBAO);
    expect(() => ProfileSchema.parse({ vault: { server: 'consul' } })).toThrow();
  });

  it('lays OpenBao out as its own package does: openbao user, /etc/openbao/openbao.hcl, /var/lib/openbao, openbao.service, bao', () => {
    const layout = hostLayout(profileFor('openbao'));
    expect(layout).toMatchObject({
      configDir: '/etc/openbao',
      configFile: '/etc/openbao/openbao.hcl',
      dataDir: '/var/lib/openbao',
      logDir: '/var/log/openbao',
      certFile: '/etc/openbao/tls/openbao.crt',
      keyFile: '/etc/openbao/tls/openbao.key',
      caFile: '/etc/openbao/tls/openbao-ca.crt',
    });
    expect(layout.directories).toEqual(['/etc/openbao', '/etc/openbao/tls', '/etc/openbao/policy', '/etc/openbao/plugin', '/var/lib/openbao', '/var/log/openbao']);
    expect([OPENBAO.user, OPENBAO.group, OPENBAO.unit, OPENBAO.binaryPath]).toEqual(['openbao', 'openbao', 'openbao.service', '/usr/local/bin/bao']);
    expect(serviceInputs(profileFor('openbao'))).toEqual([
      '/usr/local/bin/bao',
      '/etc/openbao/openbao.hcl',
      '/etc/openbao/tls/openbao.crt',
      '/etc/openbao/tls/openbao.key',
      '/etc/systemd/system/openbao.service',
    ]);
    const vault = hostLayout(profileFor('vault'));
    expect([vault.configFile, vault.dataDir, vault.certFile]).toEqual(['/etc/vault/vault_main.hcl', '/var/lib/vault', '/etc/vault/tls/vault.crt']);
  });

  it('keeps directories the profile names, whatever the server', () => {
    const layout = hostLayout(profileFor('openbao', { configDir: '/srv/bao', dataDir: '/mnt/ssd/bao' }));
    expect([layout.configFile, layout.dataDir]).toEqual(['/srv/bao/openbao.hcl', '/mnt/ssd/bao']);
  });

  it("writes OpenBao a config without disable_mlock (bao 2.7.2: 'unknown or unsupported field'), Vault one with it", () => {
    const bao = renderVaultConfig(profileFor('openbao'), 'pi-lab');
    expect(bao).not.toMatch(/^\s*disable_mlock/m);
    expect(bao).toContain('path    = "/var/lib/openbao"');
    expect(bao).toContain('tls_cert_file   = "/etc/openbao/tls/openbao.crt"');
    expect(bao).toContain('api_addr     = "https://10.0.0.11:8200"');
    expect(renderVaultConfig(profileFor('vault'), 'pi-lab')).toMatch(/^disable_mlock = true$/m);
    expect(serverConfigTemplate('openbao').name).toBe('openbao.hcl');
  });

  it("gives OpenBao a unit hardened like its own: no CAP_IPC_LOCK (no mlock), MemorySwapMax=0, runs bao as openbao", () => {
    const unit = renderVaultUnit(profileFor('openbao'));
    expect(unit).toContain('ExecStart=/usr/local/bin/bao server -config=/etc/openbao/openbao.hcl');
    expect(unit).toContain('User=openbao\nGroup=openbao');
    expect(unit).toContain('ConditionFileNotEmpty=/etc/openbao/openbao.hcl');
    expect(unit).toContain('CapabilityBoundingSet=CAP_SYSLOG\n');
    expect(unit).toContain('MemorySwapMax=0');
    expect(directives(unit)).not.toMatch(/IPC_LOCK|LimitMEMLOCK/);
    expect(serverUnitTemplate('vault').name).toBe('vault.service');
    expect(renderVaultUnit(profileFor('vault'))).toContain('AmbientCapabilities=CAP_IPC_LOCK');
  });

  it('names the auto-unseal unit, script and journal after the server', () => {
    const profile = profileFor('openbao');
    expect(unsealNames(profile)).toMatchObject({
      unit: 'openbao-unseal.service',
      unitFile: '/etc/systemd/system/openbao-unseal.service',
      scriptFile: '/usr/local/sbin/openbao-unseal.sh',
      logId: 'openbao-unseal',
    });
    const unit = renderUnsealUnit(profile);
    for (const line of ['After=openbao.service', 'Requires=openbao.service', 'PartOf=openbao.service', 'WantedBy=openbao.service', 'SyslogIdentifier=openbao-unseal', 'ExecStart=/usr/local/sbin/openbao-unseal.sh']) {
      expect(unit).toContain(`${line}\n`);
    }
    expect(unit).toContain('InaccessiblePaths=-/var/lib/openbao');
    expect(directives(unit)).not.toMatch(/vault\.service|vault-unseal/);
    const script = renderUnsealScript(unsealScriptSettings(profile));
    expect(script).toContain("SERVER='OpenBao'\n");
    expect(script).toContain("CA_FILE='/etc/openbao/tls/openbao-ca.crt'\n");
    expect(script).toContain("KEYS_FILE='/etc/openbao/unseal.json'\n");
    expect(renderUnsealUnit(profileFor('vault'))).toContain('WantedBy=vault.service\n');
  });

  it('titles the steps with the server name', () => {
    const titles = buildPlan(profileFor('openbao')).steps.map((step) => step.title);
    expect(titles).toContain('Install the OpenBao binary (SHA-256 verified)');
    expect(titles).toContain('Install and start the openbao.service unit');
    expect(titles).toContain('Create the openbao system user and group');
    expect(titles).toContain('Initialize OpenBao (keys to custody first, shown once)');
    expect(titles).toContain('Unseal OpenBao');
    expect(titles).toContain("Enable and configure OpenBao's kubernetes auth method");
    expect(titles.filter((title) => /\bVault\b/.test(title))).toEqual([]);
    expect(buildPlan(profileFor('vault')).steps.map((step) => step.title)).toContain('Unseal Vault');
  });

  it('needs tar and gzip for OpenBao (a tarball), unzip for Vault (a zip)', () => {
    expect(requiredTools(OPENBAO)).toEqual(['curl', 'openssl', 'jq', 'tar', 'gzip']);
    expect(requiredTools(VAULT)).toEqual(['curl', 'openssl', 'jq', 'unzip']);
  });
});

describe("OpenBao's releases (GitHub layout from 2.6.0 on)", () => {
  const base = 'https://github.com/openbao/openbao/releases';

  it('downloads openbao_<v>_linux_<arch>.tar.gz and checksums.txt from download/v<v>/', () => {
    expect(releaseBaseUrlOf(profileFor('openbao'))).toBe(base);
    expect(releaseBaseUrlOf(profileFor('vault'))).toBe('https://releases.hashicorp.com');
    expect(releaseFiles(OPENBAO, `${base}/`, '2.7.2', 'arm64')).toEqual({
      archive: `${base}/download/v2.7.2/openbao_2.7.2_linux_arm64.tar.gz`,
      sums: `${base}/download/v2.7.2/checksums.txt`,
      archiveName: 'openbao_2.7.2_linux_arm64.tar.gz',
      sumsName: 'checksums.txt',
    });
    expect(releaseFiles(VAULT, 'https://releases.hashicorp.com', '2.0.4', 'arm64')).toMatchObject({
      archive: 'https://releases.hashicorp.com/vault/2.0.4/vault_2.0.4_linux_arm64.zip',
      sumsName: 'vault_2.0.4_SHA256SUMS',
    });
  });

  it('resolves latest from the redirect of <base>/latest to .../tag/v<version>', () => {
    expect(latestReleaseUrl(OPENBAO, base)).toBe(`${base}/latest`);
    expect(versionOfTagUrl(`${base}/tag/v2.7.2`)).toBe('2.7.2');
    expect(versionOfTagUrl(`${base}/tag/v2.8.0-beta1\n`)).toBe('2.8.0-beta1');
    // curl printed where it ended: not a tag page when the redirect was missing or went elsewhere.
    expect(versionOfTagUrl(`${base}/latest`)).toBeUndefined();
    expect(versionOfTagUrl('https://github.com/login')).toBeUndefined();
    expect(versionOfTagUrl(`${base}/tag/2.7.2`)).toBeUndefined();
  });

  it("maps uname -m to OpenBao's arch names: armv6 for every 32-bit ARM", () => {
    expect(['aarch64', 'x86_64', 'armv6l', 'armv7l', 'armv8l'].map(openbaoArchOf)).toEqual(['arm64', 'amd64', 'armv6', 'armv6', 'armv6']);
    expect(releaseArchOf(VAULT, 'armv7l')).toBe('arm');
    expect(() => openbaoArchOf('riscv64')).toThrow(UserError);
  });

  it("reads each server's version line and refuses the other's", () => {
    const bao = 'OpenBao v2.7.2 (9e0a0d3c3504a0a00b45e61355afac5e35c78379), committed 2026-10-26T20:32:27Z';
    const vault = 'Vault v2.0.4 (abcdef), built 2026-01-01T00:00:00Z';
    expect(parseServerVersionOutput(OPENBAO, bao)).toBe('2.7.2');
    expect(parseServerVersionOutput(OPENBAO, vault)).toBeUndefined();
    expect(parseServerVersionOutput(VAULT, vault)).toBe('2.0.4');
    expect(parseServerVersionOutput(VAULT, bao)).toBeUndefined();
  });

  it('reads the version and arch of an offline tarball from its name', () => {
    expect(parseReleaseArchiveName(OPENBAO, 'openbao_2.7.2_linux_arm64.tar.gz')).toEqual({ version: '2.7.2', arch: 'arm64' });
    expect(parseReleaseArchiveName(OPENBAO, 'bao_2.5.5_Linux_arm64.tar.gz')).toBeUndefined();
    expect(parseReleaseArchiveName(OPENBAO, 'vault_2.0.4_linux_arm64.zip')).toBeUndefined();
    expect(parseReleaseArchiveName(VAULT, 'vault_2.0.4_linux_arm64.zip')).toEqual({ version: '2.0.4', arch: 'arm64' });
  });
});

describe('a host that runs the other server', () => {
  const quiet = { info: () => undefined };

  it('is refused, naming what was found and how to proceed, with nothing changed', () => {
    let error: unknown;
    try {
      refuseOtherServer(OPENBAO, { unitFile: true, active: true, binary: true }, quiet);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      'this host already runs Vault (/etc/systemd/system/vault.service; vault.service is running), but the profile sets up OpenBao (vault.server=openbao)',
    );
    expect((error as UserError).hint).toMatch(/^nothing was changed\. To manage the Vault that is there, set vault\.server=vault/);
    expect(() => refuseOtherServer(VAULT, { unitFile: true, active: false, binary: false }, quiet)).toThrow(/already runs OpenBao \(\/etc\/systemd\/system\/openbao\.service\)/);
  });

  it("only mentions the other server's CLI when no unit of it exists", () => {
    const lines: string[] = [];
    refuseOtherServer(VAULT, { unitFile: false, active: false, binary: true }, { info: (line: string) => lines.push(line) });
    expect(lines).toEqual(["/usr/local/bin/bao (OpenBao's CLI) is on the host but no openbao.service: left alone"]);
    expect(() => refuseOtherServer(VAULT, { unitFile: false, active: false, binary: false }, quiet)).not.toThrow();
  });
});

describe('switching a saved profile between servers', () => {
  let xdg: TempXdg;
  let store: ProfileStore;
  beforeEach(() => {
    xdg = useTempXdg();
    store = new ProfileStore();
  });
  afterEach(() => xdg.restore());

  it("drops paths and release site that only held Vault's defaults (as older versions saved them)", () => {
    store.setMany('default', [
      { key: 'vault.configDir', value: '/etc/vault' },
      { key: 'vault.dataDir', value: '/var/lib/vault' },
      { key: 'vault.releaseBaseUrl', value: 'https://releases.hashicorp.com' },
    ]);
    const { profile } = store.set('default', 'vault.server', 'openbao');
    expect(profile.vault).not.toHaveProperty('configDir');
    expect(profile.vault).not.toHaveProperty('releaseBaseUrl');
    expect(hostLayout(profile).configFile).toBe('/etc/openbao/openbao.hcl');
    expect(releaseBaseUrlOf(profile)).toBe(SERVERS.openbao.release.defaultBaseUrl);
  });

  it('keeps a path the user chose, and one assigned in the same command', () => {
    store.setMany('default', [
      { key: 'vault.dataDir', value: '/mnt/ssd/vault' },
      { key: 'vault.configDir', value: '/etc/vault' },
    ]);
    const { profile } = store.setMany('default', [
      { key: 'vault.server', value: 'openbao' },
      { key: 'vault.configDir', value: '/etc/vault' },
    ]);
    expect(profile.vault.dataDir).toBe('/mnt/ssd/vault');
    expect(profile.vault.configDir).toBe('/etc/vault');
  });

  it('does the same for a whole profile saved by the form', () => {
    store.setMany('default', [{ key: 'vault.configDir', value: '/etc/vault' }]);
    const loaded = store.load('default');
    const saved = store.save('default', { ...loaded, vault: { ...loaded.vault, server: 'openbao' } });
    expect(saved.vault.configDir).toBeUndefined();
    expect(store.load('default').vault.server).toBe('openbao');
  });
});

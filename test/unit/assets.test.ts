// The templates in assets/ and their renderer: both files render from a profile, the HCL parses
// (with the lab's HCL reader, written from https://github.com/hashicorp/hcl/blob/hcl1/README.md)
// to the values the profile names, and systemd accepts the unit (systemd-analyze verify).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { assetsDir, readAsset, renderTemplate, TemplateError } from '../../source/core/assets.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { renderVaultConfig } from '../../source/steps/host/config.js';
import { renderVaultUnit } from '../../source/steps/host/service.js';
import { renderUnsealUnit } from '../../source/steps/vault/autounseal.js';
import { parseServerConfig } from '../lab/vault-sim/config.js';
import { parseHcl } from '../lab/vault-sim/hcl.js';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

function profile(vault: Record<string, unknown> = {}): Profile {
  return ProfileSchema.parse({ vault: { nodeIp: '192.168.1.50', ...vault } });
}

describe('assets/vault_main.hcl', () => {
  it('renders to a config Vault reads as the profile says: addresses, TLS files, raft path and node_id, plugins, mlock off, ui', () => {
    const text = renderVaultConfig(profile({ apiPort: 8300, clusterPort: 8301 }), 'pi-vault');
    expect(text).toContain('api_addr     = "https://192.168.1.50:8300"');
    expect(text).toMatch(/^# .*mlock/m);
    const config = parseServerConfig(text);
    expect(config).toEqual({
      apiAddr: 'https://192.168.1.50:8300',
      clusterAddr: 'https://192.168.1.50:8301',
      disableMlock: true,
      ui: true,
      pluginDirectory: '/etc/vault/plugin',
      listeners: [
        {
          address: '0.0.0.0:8300',
          clusterAddress: '0.0.0.0:8301',
          tlsDisable: false,
          tlsDisableClientCerts: false,
          tlsCertFile: '/etc/vault/tls/vault.crt',
          tlsKeyFile: '/etc/vault/tls/vault.key',
        },
      ],
      storage: { type: 'raft', path: '/var/lib/vault', nodeId: 'pi-vault' },
    });
  });

  it('brackets an IPv6 node address in the URLs', () => {
    const config = parseServerConfig(renderVaultConfig(profile({ nodeIp: 'fd00::50' }), 'pi'));
    expect(config.apiAddr).toBe('https://[fd00::50]:8200');
    expect(config.clusterAddr).toBe('https://[fd00::50]:8201');
  });

  it('keeps quotes and backslashes in paths as data (HCL string escapes), never as syntax', () => {
    // The profile already refuses control characters; the renderer refuses them too (a newline would end the string).
    expect(() => renderTemplate('path = "{{p}}"', { p: '/srv" }\nstorage "file" {' }, 'hcl')).toThrow(TemplateError);
    const quoted = '/srv/va"ult\\da ta';
    const config = parseServerConfig(renderVaultConfig(profile({ dataDir: quoted, configDir: '/etc/my "vault"' }), 'node "1"'));
    expect(config.storage).toEqual({ type: 'raft', path: quoted, nodeId: 'node "1"' });
    expect(config.listeners[0]?.tlsKeyFile).toBe('/etc/my "vault"/tls/vault.key');
  });

  it('without vault.nodeIp says which field to set instead of writing an empty address', () => {
    expect(() => renderVaultConfig(ProfileSchema.parse({}), 'pi')).toThrow(/vault\.nodeIp/);
  });
});

describe('assets/vault.service', () => {
  it('has the hardening of HashiCorp\'s packaged unit and runs vault as vault:vault with our config', () => {
    const unit = renderVaultUnit(profile());
    const lines = new Set(unit.split('\n'));
    for (const line of [
      '[Unit]',
      'Requires=network-online.target',
      'After=network-online.target',
      'ConditionFileNotEmpty=/etc/vault/vault_main.hcl',
      'RequiresMountsFor="/var/lib/vault"',
      'StartLimitIntervalSec=60',
      'StartLimitBurst=3',
      '[Service]',
      'Type=simple',
      'User=vault',
      'Group=vault',
      'ProtectSystem=full',
      'ProtectHome=read-only',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'SecureBits=keep-caps',
      'AmbientCapabilities=CAP_IPC_LOCK',
      'CapabilityBoundingSet=CAP_SYSLOG CAP_IPC_LOCK',
      'NoNewPrivileges=yes',
      'ExecStart=/usr/local/bin/vault server -config=/etc/vault/vault_main.hcl',
      'ExecReload=/bin/kill --signal HUP $MAINPID',
      'KillMode=process',
      'KillSignal=SIGINT',
      'Restart=on-failure',
      'RestartSec=5',
      'TimeoutStopSec=30',
      'LimitNOFILE=65536',
      'LimitCORE=0',
      'LimitMEMLOCK=infinity',
      '[Install]',
      'WantedBy=multi-user.target',
    ]) {
      expect(lines.has(line), line).toBe(true);
    }
    // StartLimit* belong in [Unit] (systemd ignores them in [Service] since v230).
    expect(unit.indexOf('StartLimitBurst')).toBeLessThan(unit.indexOf('[Service]'));
  });

  it('escapes % (specifiers) everywhere and whitespace, quotes and $ on Exec lines', () => {
    const unit = renderVaultUnit(profile({ configDir: '/etc/my vault%h' }));
    expect(unit).toContain('ConditionFileNotEmpty=/etc/my vault%%h/vault_main.hcl');
    expect(unit).toContain('ExecStart=/usr/local/bin/vault server -config=/etc/my\\svault%%h/vault_main.hcl');
  });

  it('orders the server after the mount of its data directory, whatever the directory is called', () => {
    const unit = renderVaultUnit(profile({ dataDir: '/mnt/usb ssd/va"u\\lt%h' }));
    // Quoted (one word of a path list), `"` and `\` backslash-escaped, `%` doubled.
    expect(unit).toContain('RequiresMountsFor="/mnt/usb ssd/va\\"u\\\\lt%%h"\n');
    expect(unit.indexOf('RequiresMountsFor=')).toBeLessThan(unit.indexOf('[Service]'));
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((file) => existsSync(file));
  it.skipIf(!analyze).each(['vault.service', 'openbao.service'])('%s passes systemd-analyze verify (https://www.freedesktop.org/software/systemd/man/latest/systemd-analyze.html)', async (name) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'unit-verify-'));
    scratch.push(dir);
    // The real ExecStart binary does not exist here: point it at one that does, keep the rest.
    const unit = renderTemplate(
      readAsset(name),
      { configFile: '/etc/vault dir/vault_main.hcl', dataDir: '"/srv/vault data"', user: 'vault', group: 'vault', binary: '/bin/true' },
      'systemd',
    );
    const file = path.join(dir, name);
    await writeFile(file, unit);
    const result = await run(analyze!, ['verify', file]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(result).toEqual({ code: 0, stderr: '' });
  });
});

describe('core dumps and the data mount in every unit', () => {
  it.each(['vault', 'openbao'] as const)('the %s server unit: LimitCORE=0 in [Service], RequiresMountsFor= its data directory in [Unit]', (server) => {
    const unit = renderVaultUnit(profile({ server }));
    const service = unit.slice(unit.indexOf('[Service]'));
    expect(service).toMatch(/^LimitCORE=0$/m);
    expect(unit.slice(0, unit.indexOf('[Service]'))).toContain(`RequiresMountsFor="/var/lib/${server}"\n`);
  });

  it.each(['vault', 'openbao'] as const)('the %s unseal unit: LimitCORE=0 in [Service] (its processes hold the unseal keys)', (server) => {
    const unit = renderUnsealUnit(profile({ server }));
    expect(unit.slice(unit.indexOf('[Service]'))).toMatch(/^LimitCORE=0$/m);
  });
});

describe('the template renderer', () => {
  it('refuses a placeholder without a value instead of rendering an empty string', () => {
    expect(() => renderTemplate('a = "{{x}}"\nb = "{{y}}"', { x: '1' }, 'hcl', 't.hcl')).toThrow('t.hcl:2: no value for {{y}}');
  });

  it('refuses a value the template does not use (a renamed placeholder would otherwise go unnoticed)', () => {
    expect(() => renderTemplate('a = "{{x}}"', { x: '1', z: '2' }, 'hcl')).toThrow(/not used by the template: z/);
  });

  it('refuses HCL placeholders outside a quoted string and malformed ones', () => {
    expect(() => renderTemplate('port = {{port}}', { port: 8200 }, 'hcl')).toThrow(/inside a double-quoted string/);
    expect(() => renderTemplate('# "{{x}}" in a comment\nv = 1 # "{{x}}"', { x: 'a' }, 'hcl')).toThrow(/inside a double-quoted string/);
    expect(() => renderTemplate('a = "{{ 1x }}"', {}, 'hcl')).toThrow(/malformed placeholder/);
  });

  it('escapes HCL values so the parser reads them back exactly', () => {
    for (const value of ['plain', 'with "quotes"', 'back\\slash', 'dollar ${x} and %{y}', 'ünïcode']) {
      const body = parseHcl(renderTemplate('v = "pre {{value}} post"\n', { value }, 'hcl'));
      expect(body.attributes['v']).toBe(`pre ${value} post`);
    }
  });
});

describe('finding assets/', () => {
  it('from the sources: the repository\'s assets directory', () => {
    expect(assetsDir()).toBe(path.join(REPO, 'assets'));
  });

  it('from a built bundle in dist/: the assets directory beside dist', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'assets-dist-'));
    scratch.push(dir);
    await symlink(path.join(REPO, 'assets'), path.join(dir, 'assets'));
    const entry = path.join(dir, 'entry.ts');
    await writeFile(entry, `import { assetsDir } from ${JSON.stringify(path.join(REPO, 'source', 'core', 'assets.ts'))};\nconsole.log(assetsDir());\n`);
    await build({ entryPoints: [entry], outdir: path.join(dir, 'dist'), bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
    const { stdout } = await run(process.execPath, [path.join(dir, 'dist', 'entry.js')]);
    expect(stdout.trim()).toBe(path.join(dir, 'assets'));
  });
});

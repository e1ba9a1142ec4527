// Release files as laid out on https://releases.hashicorp.com/vault/ (index.json, per-version
// vault_<v>_linux_<arch>.zip and vault_<v>_SHA256SUMS).
import { describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import {
  compareVersions,
  expectedSha256,
  isStableCommunityVersion,
  newestStableVersion,
  parseReleaseIndex,
  parseReleaseZipName,
  parseSha256Sums,
  parseVaultVersionOutput,
  releaseIndexUrl,
  releaseUrls,
  vaultArchOf,
} from '../../source/services/release.js';

const sum = (digit: string) => digit.repeat(64);

function indexWith(versions: Record<string, string[]>): string {
  const entries = Object.fromEntries(
    Object.entries(versions).map(([version, arches]) => [
      version,
      {
        name: 'vault',
        version,
        shasums: `vault_${version}_SHA256SUMS`,
        shasums_signature: `vault_${version}_SHA256SUMS.sig`,
        builds: arches.map((arch) => {
          const [os, cpu] = arch.split('/') as [string, string];
          const filename = `vault_${version}_${os}_${cpu}.zip`;
          return { name: 'vault', version, os, arch: cpu, filename, url: `https://releases.hashicorp.com/vault/${version}/${filename}` };
        }),
      },
    ]),
  );
  return JSON.stringify({ name: 'vault', versions: entries });
}

describe('architecture names (uname -m -> release arch)', () => {
  it('maps the Raspberry Pi and PC machine names', () => {
    expect(vaultArchOf('aarch64')).toBe('arm64');
    expect(vaultArchOf('armv7l')).toBe('arm');
    expect(vaultArchOf('armv6l')).toBe('arm');
    expect(vaultArchOf('armv8l')).toBe('arm');
    expect(vaultArchOf('x86_64\n')).toBe('amd64');
  });

  it('refuses anything else with a hint naming the supported ones', () => {
    for (const machine of ['riscv64', 'i686', 'mips', 'ppc64le']) {
      let error: unknown;
      try {
        vaultArchOf(machine);
      } catch (caught) {
        error = caught;
      }
      expect(error, machine).toBeInstanceOf(UserError);
      expect((error as UserError).message).toContain(machine);
      expect((error as UserError).hint).toMatch(/arm64.*arm.*amd64/);
    }
  });
});

describe('choosing a version from index.json', () => {
  it('orders by semver numbers, not as text, with a prerelease before its release', () => {
    const sorted = ['1.9.10', '1.10.0', '2.0.4', '1.21.4', '2.0.4-rc1', '2.0.10', '1.9.9'].sort(compareVersions);
    expect(sorted).toEqual(['1.9.9', '1.9.10', '1.10.0', '1.21.4', '2.0.4-rc1', '2.0.4', '2.0.10']);
  });

  it('takes the newest stable community build for the host arch: no -rc, no +ent, only versions built for that arch', () => {
    const index = parseReleaseIndex(
      indexWith({
        '1.21.4': ['linux/amd64', 'linux/arm64', 'linux/arm'],
        '2.0.4': ['linux/amd64', 'linux/arm64'],
        '2.0.5-rc1': ['linux/amd64', 'linux/arm64', 'linux/arm'],
        '2.0.5+ent': ['linux/amd64', 'linux/arm64', 'linux/arm'],
        '2.0.6+ent.hsm.fips1402': ['linux/amd64'],
        '2.0.7': ['darwin/arm64', 'windows/amd64'],
      }),
    );
    expect(newestStableVersion(index, 'arm64')).toBe('2.0.4');
    expect(newestStableVersion(index, 'amd64')).toBe('2.0.4');
    expect(newestStableVersion(index, 'arm')).toBe('1.21.4');
    expect(isStableCommunityVersion('2.0.5+ent')).toBe(false);
    expect(isStableCommunityVersion('2.0.5-beta1')).toBe(false);
    expect(isStableCommunityVersion('2.0.5')).toBe(true);
  });

  it('explains an index without a usable release, and one that is not an index at all', () => {
    expect(() => newestStableVersion(parseReleaseIndex(indexWith({ '2.1.0-rc1': ['linux/arm64'] })), 'arm64')).toThrow(/no stable Vault release for linux\/arm64/);
    expect(() => parseReleaseIndex('<html>captive portal</html>')).toThrow(UserError);
    expect(() => parseReleaseIndex('{"name":"vault"}')).toThrow(/no "versions" object/);
  });

  it('builds the release URLs, tolerating a trailing slash on the base URL', () => {
    expect(releaseIndexUrl('https://releases.hashicorp.com/')).toBe('https://releases.hashicorp.com/vault/index.json');
    expect(releaseUrls('http://127.0.0.1:8080', '2.0.4', 'arm64')).toEqual({
      zip: 'http://127.0.0.1:8080/vault/2.0.4/vault_2.0.4_linux_arm64.zip',
      sums: 'http://127.0.0.1:8080/vault/2.0.4/vault_2.0.4_SHA256SUMS',
      zipName: 'vault_2.0.4_linux_arm64.zip',
      sumsName: 'vault_2.0.4_SHA256SUMS',
    });
  });
});

describe('SHA256SUMS', () => {
  const sums = [
    `${sum('a')}  vault_2.0.4_darwin_arm64.zip`,
    `${sum('b')}  vault_2.0.4_linux_arm.zip`,
    `${sum('c')}  vault_2.0.4_linux_arm64.zip`,
    `${sum('D')} *vault_2.0.4_linux_amd64.zip`,
    'not a checksum line',
    '',
  ].join('\n');

  it('matches the exact file name: linux_arm is not linux_arm64 (nor the other way round)', () => {
    expect(expectedSha256(sums, 'vault_2.0.4_linux_arm.zip', 'vault_2.0.4_SHA256SUMS')).toBe(sum('b'));
    expect(expectedSha256(sums, 'vault_2.0.4_linux_arm64.zip', 'vault_2.0.4_SHA256SUMS')).toBe(sum('c'));
  });

  it('reads binary-mode lines (`*file`) and lower-cases the digest', () => {
    expect(parseSha256Sums(sums).get('vault_2.0.4_linux_amd64.zip')).toBe(sum('d'));
  });

  it('says which file is missing from the list', () => {
    expect(() => expectedSha256(sums, 'vault_2.0.4_linux_riscv64.zip', 'vault_2.0.4_SHA256SUMS')).toThrow(
      'vault_2.0.4_SHA256SUMS lists no checksum for vault_2.0.4_linux_riscv64.zip',
    );
  });

  it('refuses a list that names one file twice with different checksums', () => {
    expect(() => parseSha256Sums(`${sum('1')}  vault.zip\n${sum('2')}  vault.zip\n`)).toThrow(/twice/);
  });
});

describe('vault version output and local zip names', () => {
  it('reads the version `vault version` prints (https://developer.hashicorp.com/vault/docs/commands/version)', () => {
    expect(parseVaultVersionOutput('Vault v2.0.4 (e30ec10b2dd1040046a2c3830afc2ffcf63715ac), built 2026-01-01T00:00:00Z\n')).toBe('2.0.4');
    expect(parseVaultVersionOutput('Vault v1.15.2+ent (abc), built 2023-11-06T11:33:28Z')).toBe('1.15.2+ent');
    expect(parseVaultVersionOutput('bash: vault: command not found')).toBeUndefined();
  });

  it('reads version and arch from an official zip name only', () => {
    expect(parseReleaseZipName('vault_2.0.4_linux_arm64.zip')).toEqual({ version: '2.0.4', arch: 'arm64' });
    expect(parseReleaseZipName('vault-latest.zip')).toBeUndefined();
    expect(parseReleaseZipName('vault_2.0.4_darwin_arm64.zip')).toBeUndefined();
  });
});

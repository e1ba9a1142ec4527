/**
 * Vault releases as published on the release site (https://releases.hashicorp.com/vault/):
 *   <base>/vault/index.json                        every version with its builds
 *   <base>/vault/<v>/vault_<v>_linux_<arch>.zip    the archive holding the `vault` executable
 *   <base>/vault/<v>/vault_<v>_SHA256SUMS          `<sha256>  <file name>` lines
 * Pure functions only: choosing a version, naming files, reading checksums. Downloading happens on
 * the host (see steps/host/binary.ts).
 */
import { UserError } from '../core/errors.js';

export type VaultArch = 'amd64' | 'arm64' | 'arm';

/**
 * Vault's architecture name for `uname -m`. 32-bit ARM kernels report armv6l (Pi 1/Zero),
 * armv7l (Pi 2/3/4 with a 32-bit OS) or armv8l (64-bit CPU in 32-bit mode); all take the `arm` build.
 */
export function vaultArchOf(machine: string): VaultArch {
  const name = machine.trim();
  if (name === 'aarch64' || name === 'arm64') return 'arm64';
  if (name === 'x86_64' || name === 'amd64') return 'amd64';
  if (/^armv[678]/.test(name)) return 'arm';
  throw new UserError(`the host's architecture "${name}" has no Vault build`, {
    hint: 'Vault is published for Linux on arm64 (aarch64), arm (armv6l/armv7l) and amd64 (x86_64); use a 64-bit Raspberry Pi OS on a Pi 3, 4 or 5',
  });
}

export function releaseZipName(version: string, arch: VaultArch): string {
  return `vault_${version}_linux_${arch}.zip`;
}

export function releaseSumsName(version: string): string {
  return `vault_${version}_SHA256SUMS`;
}

function trimSlash(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

export function releaseIndexUrl(baseUrl: string): string {
  return `${trimSlash(baseUrl)}/vault/index.json`;
}

export function releaseUrls(baseUrl: string, version: string, arch: VaultArch): { zip: string; sums: string; zipName: string; sumsName: string } {
  const zipName = releaseZipName(version, arch);
  const sumsName = releaseSumsName(version);
  const dir = `${trimSlash(baseUrl)}/vault/${encodeURIComponent(version)}`;
  return { zip: `${dir}/${zipName}`, sums: `${dir}/${sumsName}`, zipName, sumsName };
}

interface Semver {
  major: number;
  minor: number;
  patch: number;
  /** `-rc1`, `-beta2`...: empty for a release. */
  prerelease: string;
  /** `+ent`, `+ent.hsm.fips1402`...: empty for the community edition. */
  build: string;
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

export function parseSemver(version: string): Semver | undefined {
  const match = SEMVER.exec(version);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] ?? '', build: match[5] ?? '' };
}

/** Orders versions by major.minor.patch; a prerelease sorts before its release (semver 2.0 §11). */
export function compareVersions(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) throw new Error(`not a version: ${x ? b : a}`);
  const byNumber = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (byNumber !== 0) return byNumber;
  if (x.prerelease === y.prerelease) return 0;
  if (x.prerelease === '') return 1;
  if (y.prerelease === '') return -1;
  return x.prerelease < y.prerelease ? -1 : 1;
}

export function isStableCommunityVersion(version: string): boolean {
  const parsed = parseSemver(version);
  return parsed !== undefined && parsed.prerelease === '' && parsed.build === '';
}

export interface ReleaseBuild {
  os: string;
  arch: string;
  filename: string;
}

/** index.json: `{name, versions: {<v>: {version, shasums, builds: [{os, arch, filename, url}]}}}`. */
export interface ReleaseIndex {
  versions: Map<string, ReleaseBuild[]>;
}

export function parseReleaseIndex(text: string, source = 'index.json'): ReleaseIndex {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UserError(`the release index ${source} is not JSON`, {
      hint: 'check vault.releaseBaseUrl: it must point at a site laid out like https://releases.hashicorp.com',
    });
  }
  const versions = (data as { versions?: unknown } | null)?.versions;
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) {
    throw new UserError(`the release index ${source} has no "versions" object`, {
      hint: 'check vault.releaseBaseUrl: it must point at a site laid out like https://releases.hashicorp.com',
    });
  }
  const result = new Map<string, ReleaseBuild[]>();
  for (const [key, entry] of Object.entries(versions as Record<string, unknown>)) {
    const builds = (entry as { builds?: unknown } | null)?.builds;
    const list: ReleaseBuild[] = [];
    if (Array.isArray(builds)) {
      for (const build of builds) {
        const { os, arch, filename } = (build ?? {}) as Record<string, unknown>;
        if (typeof os === 'string' && typeof arch === 'string' && typeof filename === 'string') list.push({ os, arch, filename });
      }
    }
    result.set(key, list);
  }
  return { versions: result };
}

/**
 * The newest stable community release with a Linux build for `arch`: prereleases (`-rc1`) and
 * enterprise builds (`+ent`) are skipped.
 */
export function newestStableVersion(index: ReleaseIndex, arch: VaultArch): string {
  const candidates = [...index.versions.entries()]
    .filter(([version, builds]) => isStableCommunityVersion(version) && builds.some((b) => b.os === 'linux' && b.arch === arch))
    .map(([version]) => version)
    .sort(compareVersions);
  const newest = candidates.at(-1);
  if (!newest) {
    throw new UserError(`the release index lists no stable Vault release for linux/${arch}`, {
      hint: 'set vault.version to an exact version, or check vault.releaseBaseUrl',
    });
  }
  return newest;
}

/** `<64 hex>  <file>` (text mode) or `<64 hex> *<file>` (binary mode) lines, by file name. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim());
    if (!match) continue;
    const file = match[2]!;
    const sum = match[1]!.toLowerCase();
    const previous = sums.get(file);
    if (previous !== undefined && previous !== sum) {
      throw new UserError(`the checksum list names ${file} twice with different checksums`, {
        hint: 'the release files look tampered with or corrupted; download them again from the official site',
      });
    }
    sums.set(file, sum);
  }
  return sums;
}

/** The checksum listed for exactly `fileName` (no prefix or suffix match). */
export function expectedSha256(sumsText: string, fileName: string, sumsName: string): string {
  const sum = parseSha256Sums(sumsText).get(fileName);
  if (sum === undefined) {
    throw new UserError(`${sumsName} lists no checksum for ${fileName}`, {
      hint: 'this release may not be published for the host\'s architecture; choose another vault.version',
    });
  }
  return sum;
}

/** The version in `vault version` output: `Vault v2.0.4 (<revision>), built <date>`. */
export function parseVaultVersionOutput(output: string): string | undefined {
  const match = /^Vault v(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)/m.exec(output.trim());
  return match?.[1];
}

/** `vault_<v>_linux_<arch>.zip` → its version and arch, for a zip the user supplies. */
export function parseReleaseZipName(fileName: string): { version: string; arch: string } | undefined {
  const match = /^vault_(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)_linux_([a-z0-9]+)\.zip$/.exec(fileName);
  return match ? { version: match[1]!, arch: match[2]! } : undefined;
}

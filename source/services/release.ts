/**
 * Server releases as their projects publish them.
 * Vault, on the release site (https://releases.hashicorp.com/vault/):
 *   <base>/vault/index.json                        every version with its builds
 *   <base>/vault/<v>/vault_<v>_linux_<arch>.zip    the archive holding the `vault` executable
 *   <base>/vault/<v>/vault_<v>_SHA256SUMS          `<sha256>  <file name>` lines
 * OpenBao, as GitHub releases (https://github.com/openbao/openbao/releases), the layout of 2.6.0 and
 * later (openbao goreleaser.linux.yaml and scripts/release/checksums.sh at v2.6.2; CHANGELOG 2.6.0):
 *   <base>/latest                                          redirects to <base>/tag/v<newest>
 *   <base>/download/v<v>/openbao_<v>_linux_<arch>.tar.gz   `bao`, LICENSE, README.md, CHANGELOG.md
 *   <base>/download/v<v>/checksums.txt                     `<sha256>  <file name>` lines
 * Pure functions only: choosing a version, naming files, reading checksums. Downloading happens on
 * the host (see steps/host/binary.ts).
 */
import { UserError } from '../core/errors.js';
import type { ServerFlavor } from '../core/server.js';

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

/**
 * OpenBao's architecture name for `uname -m` (goreleaser `{{.Arch}}{{if .Arm}}v{{.Arm}}{{end}}`):
 * amd64, arm64, and armv6 for every 32-bit ARM kernel (ARMv7 and ARMv8 in 32-bit mode run ARMv6 code).
 */
export function openbaoArchOf(machine: string): string {
  const name = machine.trim();
  if (name === 'aarch64' || name === 'arm64') return 'arm64';
  if (name === 'x86_64' || name === 'amd64') return 'amd64';
  if (/^armv[678]/.test(name)) return 'armv6';
  throw new UserError(`the host's architecture "${name}" has no OpenBao build`, {
    hint: 'OpenBao is published for Linux on arm64 (aarch64), armv6 (32-bit ARM) and amd64 (x86_64); use a 64-bit Raspberry Pi OS on a Pi 3, 4 or 5',
  });
}

/** The release architecture name of `server` for `uname -m`. */
export function releaseArchOf(server: ServerFlavor, machine: string): string {
  return server.release.layout === 'github' ? openbaoArchOf(machine) : vaultArchOf(machine);
}

/** The files of one release of `server` for one architecture. */
export interface ReleaseFiles {
  archive: string;
  sums: string;
  archiveName: string;
  sumsName: string;
}

/** OpenBao's archive name: `openbao_2.7.2_linux_arm64.tar.gz`. */
export function openbaoArchiveName(version: string, arch: string): string {
  return `openbao_${version}_linux_${arch}.tar.gz`;
}

/** The name of `server`'s release archive for one version and architecture. */
export function releaseArchiveName(server: ServerFlavor, version: string, arch: string): string {
  return server.release.layout === 'hashicorp' ? releaseZipName(version, arch as VaultArch) : openbaoArchiveName(version, arch);
}

export function releaseFiles(server: ServerFlavor, baseUrl: string, version: string, arch: string): ReleaseFiles {
  if (server.release.layout === 'hashicorp') {
    const { zip, sums, zipName, sumsName } = releaseUrls(baseUrl, version, arch as VaultArch);
    return { archive: zip, sums, archiveName: zipName, sumsName };
  }
  const dir = `${trimSlash(baseUrl)}/download/v${encodeURIComponent(version)}`;
  const archiveName = releaseArchiveName(server, version, arch);
  return { archive: `${dir}/${archiveName}`, sums: `${dir}/checksums.txt`, archiveName, sumsName: 'checksums.txt' };
}

/** Where `latest` is resolved: Vault's index.json, or the GitHub-style `<base>/latest` redirect. */
export function latestReleaseUrl(server: ServerFlavor, baseUrl: string): string {
  return server.release.layout === 'hashicorp' ? releaseIndexUrl(baseUrl) : `${trimSlash(baseUrl)}/latest`;
}

/**
 * The version in the URL `<base>/latest` redirects to (`.../releases/tag/v2.7.2`), or undefined when
 * the final URL is not a release tag (the redirect was not followed, or the site is laid out otherwise).
 */
export function versionOfTagUrl(url: string): string | undefined {
  const match = /\/tag\/v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\/?$/.exec(url.trim());
  return match?.[1];
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

/**
 * The version in `<binary> version` output of `server`: `Vault v2.0.4 (<revision>), built <date>`
 * or `OpenBao v2.7.2 (<revision>), committed <date>` (the real bao 2.7.2 prints the latter). A
 * binary of the other server gives undefined: it is not the one wanted.
 */
export function parseServerVersionOutput(server: ServerFlavor, output: string): string | undefined {
  if (server.kind === 'vault') return parseVaultVersionOutput(output);
  const match = /^OpenBao v(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)/m.exec(output.trim());
  return match?.[1];
}

/** The release archive name of `server` → its version and arch, for an archive the user supplies. */
export function parseReleaseArchiveName(server: ServerFlavor, fileName: string): { version: string; arch: string } | undefined {
  if (server.release.layout === 'hashicorp') return parseReleaseZipName(fileName);
  const match = /^openbao_(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)_linux_([a-z0-9]+)\.tar\.gz$/.exec(fileName);
  return match ? { version: match[1]!, arch: match[2]! } : undefined;
}

/** `vault_<v>_linux_<arch>.zip` → its version and arch, for a zip the user supplies. */
export function parseReleaseZipName(fileName: string): { version: string; arch: string } | undefined {
  const match = /^vault_(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)_linux_([a-z0-9]+)\.zip$/.exec(fileName);
  return match ? { version: match[1]!, arch: match[2]! } : undefined;
}

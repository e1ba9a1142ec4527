/**
 * host.binary: the server's executable (/usr/local/bin/vault or /usr/local/bin/bao) at the wanted
 * version, from a release whose SHA-256 was checked against the release's checksum list
 * (vault_<v>_SHA256SUMS, or OpenBao's checksums.txt) before anything was unpacked.
 *
 * The download happens on the host (it is the machine with the network path to the release site,
 * possibly through vault.httpProxy), into a root-only temp directory, so nothing can change the
 * archive between its verification and its installation. Hosts without internet can use an archive
 * the user downloaded (vault.localZip, with the checksum list beside it): it is verified here,
 * uploaded, and verified again on the host.
 *
 * The new binary replaces the old one with a rename (a running vault keeps its old inode), so a
 * crash leaves either the old or the new binary, never half of one. The service step notices that
 * the binary differs from the one vault was started with and restarts it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import {
  compareVersions,
  expectedSha256,
  latestReleaseUrl,
  newestStableVersion,
  parseReleaseArchiveName,
  parseReleaseIndex,
  parseServerVersionOutput,
  releaseArchiveName,
  releaseArchOf,
  releaseFiles,
  versionOfTagUrl,
  type VaultArch,
} from '../../services/release.js';
import type { ServerFlavor } from '../../core/server.js';
import { sh } from '../../services/host/shell-quote.js';
import type { FileStat } from '../../services/host/transport.js';
import { firstLine, hostExec, hostFacts, hostRun } from './facts.js';
import { hostLayout, releaseBaseUrlOf } from './layout.js';

export const BINARY_MODE = 0o755;
/** Temp directories of this step on the host; leftovers of an interrupted run are removed by the next one. */
export const RELEASE_TEMP_PREFIX = '/tmp/picluster-vault-release.';

/** The user's own release zip (`vault.localZip`), with `~` expanded. */
export function localZipOf(profile: Profile): string | undefined {
  const value = profile.vault.localZip;
  if (!value) return undefined;
  return value === '~' || value.startsWith('~/') ? join(homedir(), value.slice(1)) : value;
}

/** curl as every download of this step uses it: fail on HTTP errors, quiet but with errors, bounded. */
export function curlCommand(profile: Profile, url: string, output?: string, writeOut?: string): string {
  const https = releaseBaseUrlOf(profile).startsWith('https:');
  const options = [
    '--fail',
    '--silent',
    '--show-error',
    '--location',
    // Never let a redirect downgrade an https release site to plain http (or another scheme).
    '--proto',
    https ? '=https' : '=http,https',
    '--proto-redir',
    https ? '=https' : '=http,https',
    '--connect-timeout',
    '20',
    '--retry',
    '2',
  ];
  if (profile.vault.httpProxy) options.push('--proxy', profile.vault.httpProxy);
  if (output !== undefined) options.push('--output', output);
  if (writeOut !== undefined) options.push('--write-out', writeOut);
  return sh`curl ${options} -- ${url}`;
}

interface Installed {
  stat: FileStat;
  /** Parsed from `<binary> version`; undefined when the file does not run or prints something else (the other server's binary included). */
  version: string | undefined;
  versionOutput: string;
}

async function installedBinary(ctx: StepContext, server: ServerFlavor): Promise<Installed> {
  const transport = await ctx.services.host();
  const stat = await transport.stat(server.binaryPath, { signal: ctx.signal });
  if (!stat.exists) return { stat, version: undefined, versionOutput: '' };
  const result = await hostExec(ctx, sh`${server.binaryPath} version`, { echo: 'none', timeoutMs: 30_000 });
  const output = `${result.stdout}\n${result.stderr}`.trim();
  return { stat, version: result.code === 0 ? parseServerVersionOutput(server, result.stdout) : undefined, versionOutput: output };
}

interface Wanted {
  version: string;
  /** The release's architecture name (Vault: amd64/arm64/arm; OpenBao: amd64/arm64/armv6). */
  arch: string;
  /** Set when the release comes from the user's zip rather than the release site. */
  localZip?: string;
}

const SITE_HINT = 'the host must reach the release site: check its network, vault.releaseBaseUrl and vault.httpProxy (or use a local release archive, vault.localZip)';

async function wantedRelease(ctx: StepContext, server: ServerFlavor): Promise<Wanted> {
  const { vault } = ctx.profile;
  const arch = releaseArchOf(server, (await hostFacts(ctx)).machine);
  const localZip = localZipOf(ctx.profile);
  if (localZip) {
    const parsed = parseReleaseArchiveName(server, basename(localZip));
    if (!parsed) {
      throw new UserError(`${localZip} is not named like a ${server.name} release (${releaseArchiveName(server, '<version>', '<arch>')})`, {
        hint: `keep the file name of the download from ${server.release.defaultBaseUrl}; the version and architecture are read from it`,
      });
    }
    if (parsed.arch !== arch) {
      throw new UserError(`${basename(localZip)} is built for linux/${parsed.arch}, but the host needs linux/${arch}`, {
        hint: `download ${releaseArchiveName(server, parsed.version, arch)} instead`,
      });
    }
    if (vault.version !== 'latest' && vault.version !== parsed.version) {
      throw new UserError(`vault.version is ${vault.version} but the local release archive is version ${parsed.version}`, {
        hint: `set vault.version to ${parsed.version} (or latest), or use the archive of ${vault.version}`,
      });
    }
    return { version: parsed.version, arch, localZip };
  }
  if (vault.version !== 'latest') return { version: vault.version, arch };
  const url = latestReleaseUrl(server, releaseBaseUrlOf(ctx.profile));
  if (server.release.layout === 'github') {
    // GitHub answers <base>/latest with a redirect to the newest release's tag page; curl follows it
    // and prints where it ended (never a prerelease: GitHub's "latest" skips those).
    const finalUrl = await hostRun(ctx, `resolving ${url}`, curlCommand(ctx.profile, url, '/dev/null', '%{url_effective}'), { echo: 'none', timeoutMs: 120_000, hint: SITE_HINT });
    const version = versionOfTagUrl(finalUrl);
    if (!version) {
      throw new UserError(`${url} did not lead to a release tag (it ended at ${firstLine(finalUrl) || 'nothing'})`, {
        hint: 'set vault.version to an exact version, or check vault.releaseBaseUrl: it must be laid out like https://github.com/openbao/openbao/releases',
      });
    }
    ctx.log.debug(`newest release: ${version}`);
    return { version, arch };
  }
  const index = await hostRun(ctx, `fetching ${url}`, curlCommand(ctx.profile, url), { echo: 'none', timeoutMs: 120_000, hint: SITE_HINT });
  const version = newestStableVersion(parseReleaseIndex(index, url), arch as VaultArch);
  ctx.log.debug(`newest stable release for linux/${arch}: ${version}`);
  return { version, arch };
}

function modeProblem(stat: FileStat, binary: string): string | undefined {
  if (stat.type !== 'file') return `${binary} is a ${stat.type ?? 'special file'}`;
  if (stat.mode !== BINARY_MODE || stat.uid !== 0 || stat.gid !== 0) {
    return `${binary} is ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid} 0${(stat.mode ?? 0).toString(8)}, want root:root 0755`;
  }
  return undefined;
}

function judge(installed: Installed, wanted: Wanted, server: ServerFlavor): Check {
  const name = server.binaryName;
  const binary = server.binaryPath;
  if (!installed.stat.exists) return { state: 'todo', detail: `not installed; want ${name} ${wanted.version} (linux/${wanted.arch})` };
  if (installed.version === undefined) {
    return { state: 'drift', detail: `${binary} does not report a ${server.name} version (${firstLine(installed.versionOutput)}); want ${wanted.version}` };
  }
  if (installed.version !== wanted.version) return { state: 'drift', detail: `${name} ${installed.version} installed, want ${wanted.version}` };
  const problem = modeProblem(installed.stat, binary);
  if (problem) return { state: 'drift', detail: problem };
  return { state: 'done', detail: `${name} ${installed.version} at ${binary}` };
}

/** The release files on the host, in a fresh root-only temp dir: site download or upload of the local zip. */
async function stageRelease(ctx: StepContext, server: ServerFlavor, wanted: Wanted, tmp: string): Promise<{ zipPath: string; zipName: string; sha256: string }> {
  const { archive: zip, sums, archiveName: zipName, sumsName } = releaseFiles(server, releaseBaseUrlOf(ctx.profile), wanted.version, wanted.arch);
  const zipPath = `${tmp}/${zipName}`;
  if (wanted.localZip) {
    const sumsPath = join(dirname(wanted.localZip), sumsName);
    const [zipBytes, sumsText] = await Promise.all([
      readLocal(wanted.localZip, `the ${server.name} release archive`),
      readLocal(sumsPath, `the checksum list ${sumsName} (it must sit beside the zip)`).then((b) => b.toString('utf8')),
    ]);
    const sha256 = expectedSha256(sumsText, zipName, sumsName);
    const actual = createHash('sha256').update(zipBytes).digest('hex');
    if (actual !== sha256) throw checksumMismatch(zipName, sumsName, sha256, actual, 'here, before uploading it');
    ctx.log.info(`${zipName}: checksum OK here; uploading ${(zipBytes.length / 1024 ** 2).toFixed(1)} MB to the host`);
    const transport = await ctx.services.host();
    await transport.writeFile(zipPath, zipBytes, { mode: 0o600, sudo: true });
    return { zipPath, zipName, sha256 };
  }
  const hint = SITE_HINT;
  const sumsText = await hostRun(ctx, `downloading ${sums}`, curlCommand(ctx.profile, sums), { echo: 'none', timeoutMs: 120_000, hint });
  const sha256 = expectedSha256(sumsText, zipName, sumsName);
  ctx.log.info(`downloading ${zip}`);
  const started = Date.now();
  await hostRun(ctx, `downloading ${zip}`, curlCommand(ctx.profile, zip, zipPath), { sudo: true, echo: 'info', timeoutMs: 30 * 60_000, hint });
  ctx.log.info(`downloaded ${zipName} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { zipPath, zipName, sha256 };
}

async function readLocal(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UserError(`cannot read ${what} at ${path}: ${(error as Error).message}`, {
      hint: 'check vault.localZip in the profile: the release archive and its checksum list (vault_<version>_SHA256SUMS, or OpenBao\'s checksums.txt) from the release site, in one directory',
    });
  }
}

function checksumMismatch(zipName: string, sumsName: string, expected: string, actual: string, where: string): UserError {
  return new UserError(`checksum mismatch for ${zipName} (checked ${where}): ${sumsName} lists ${expected}, the file has ${actual}`, {
    hint: 'nothing was installed. The download is corrupted or was tampered with: run the setup again, and if it fails again check vault.releaseBaseUrl and vault.httpProxy',
  });
}

async function verifyOnHost(ctx: StepContext, staged: { zipPath: string; zipName: string; sha256: string }, tmp: string, sumsName: string): Promise<void> {
  // sha256sum -c with exactly one line: our file and the checksum the release lists for it.
  const result = await hostExec(ctx, sh`cd -- ${tmp} && sha256sum -c -`, { sudo: true, stdin: `${staged.sha256}  ${staged.zipName}\n`, echo: 'info', timeoutMs: 300_000 });
  if (result.code === 0) return;
  const actual = await hostExec(ctx, sh`sha256sum -- ${staged.zipPath}`, { sudo: true, echo: 'none', timeoutMs: 300_000 });
  throw checksumMismatch(staged.zipName, sumsName, staged.sha256, actual.stdout.split(/\s/)[0] || 'unknown', 'on the host');
}

/** Unpacks only the executable from the verified archive into `dir` (unzip for Vault's zip, tar for OpenBao's tarball). */
function unpackCommand(server: ServerFlavor, archive: string, dir: string): string {
  if (server.release.archive === 'zip') return sh`unzip -q -o ${archive} ${server.binaryName} -d ${dir}`;
  // --no-same-owner: root would otherwise keep the archive's uid/gid; only the one member is taken.
  return sh`mkdir -p -- ${dir} && tar -xzf ${archive} -C ${dir} --no-same-owner --no-same-permissions -- ${server.binaryName}`;
}

async function install(ctx: StepContext, server: ServerFlavor, wanted: Wanted, installed: Installed): Promise<void> {
  const binary = server.binaryPath;
  const hostTimeout = { timeoutMs: 120_000 };
  // A run killed mid-download cannot clean up after itself: its temp dir (up to a few hundred MB
  // on an SD card) is removed by the next run. Two setups of one host at the same time are not
  // supported (they would also race on the binary and the unit), so every leftover is stale.
  await hostExec(ctx, sh`find /tmp -maxdepth 1 -type d -name ${`${basename(RELEASE_TEMP_PREFIX)}*`} -exec rm -rf -- {} + 2>/dev/null; :`, {
    sudo: true,
    echo: 'none',
    ...hostTimeout,
  });
  const tmp = (await hostRun(ctx, 'creating a temp directory', sh`mktemp -d ${`${RELEASE_TEMP_PREFIX}XXXXXXXX`}`, { sudo: true, echo: 'none', ...hostTimeout })).trim();
  if (!tmp.startsWith(RELEASE_TEMP_PREFIX)) throw new Error(`unexpected mktemp answer: ${tmp}`);
  try {
    const staged = await stageRelease(ctx, server, wanted, tmp);
    await verifyOnHost(ctx, staged, tmp, releaseFiles(server, releaseBaseUrlOf(ctx.profile), wanted.version, wanted.arch).sumsName);
    const unpacked = `${tmp}/unpacked`;
    await hostRun(ctx, `unpacking ${staged.zipName}`, unpackCommand(server, staged.zipPath, unpacked), { sudo: true, echo: 'info', ...hostTimeout });
    const newBinary = `${unpacked}/${server.binaryName}`;
    const versionResult = await hostExec(ctx, sh`${newBinary} version`, { sudo: true, echo: 'info', timeoutMs: 60_000 });
    const newVersion = versionResult.code === 0 ? parseServerVersionOutput(server, versionResult.stdout) : undefined;
    if (newVersion !== wanted.version) {
      throw new UserError(
        `the downloaded ${server.binaryName} does not run as ${server.name} ${wanted.version} on the host: ${firstLine(`${versionResult.stderr}\n${versionResult.stdout}`)}`,
        { hint: 'nothing was installed; check that the host architecture matches the release (uname -m) and that the release is not damaged' },
      );
    }
    const staging = `${dirname(binary)}/.${basename(binary)}.new`;
    await hostRun(
      ctx,
      `installing ${binary}`,
      sh`set -e; install -o root -g root -m 0755 -- ${newBinary} ${staging}; mv -f -- ${staging} ${binary}`,
      { sudo: true, echo: 'info', ...hostTimeout },
    );
    ctx.log.info(`installed ${server.binaryName} ${wanted.version} at ${binary}${installed.version ? ` (was ${installed.version})` : ''}`);
  } finally {
    await hostExec(ctx, sh`rm -rf -- ${tmp}`, { sudo: true, echo: 'none', ...hostTimeout }).catch((error: unknown) => {
      ctx.log.warn(`could not remove ${tmp} on the host: ${(error as Error).message}`);
    });
  }
}

export function binaryStep(server: ServerFlavor): Step {
  const binary = server.binaryPath;
  return {
  id: 'host.binary',
  phase: 'host',
  title: `Install the ${server.name} binary (SHA-256 verified)`,
  describe(ctx): Planned[] {
    const { vault } = ctx.profile;
    const localZip = localZipOf(ctx.profile);
    const version = vault.version === 'latest' ? '<newest>' : vault.version;
    const base = releaseBaseUrlOf(ctx.profile);
    const files = releaseFiles(server, base, version, '<arch>');
    const planned: Planned[] = [];
    if (localZip) {
      planned.push({ kind: 'local', summary: `check ${localZip} against the ${files.sumsName} beside it, upload it to the host` });
    } else {
      if (vault.version === 'latest') planned.push({ kind: 'command', summary: `curl ${latestReleaseUrl(server, base)} (newest stable release)` });
      // Shown as typed: the URLs escape the version, which here may be the <newest> placeholder.
      const shown = (url: string): string => url.replaceAll(encodeURIComponent(version), version);
      planned.push({ kind: 'command', summary: `curl ${shown(files.sums)} and ${shown(files.archive)}${vault.httpProxy ? ` via ${vault.httpProxy}` : ''}` });
    }
    planned.push(
      { kind: 'command', summary: `sha256sum -c (before unpacking)` },
      { kind: 'command', summary: `${server.release.archive === 'zip' ? 'unzip' : 'tar -xzf'} ${server.binaryName}; ${server.binaryName} version; install -m 0755 -o root -g root ${binary}` },
    );
    return planned;
  },
  async check(ctx) {
    const installed = await installedBinary(ctx, server);
    return judge(installed, await wantedRelease(ctx, server), server);
  },
  async apply(ctx) {
    const installed = await installedBinary(ctx, server);
    const wanted = await wantedRelease(ctx, server);
    if (installed.version === wanted.version) {
      // The right version with the wrong owner or mode: fix those, no download.
      ctx.log.info(`${server.binaryName} ${wanted.version} is installed; setting root:root 0755`);
      await hostRun(ctx, `chmod ${binary}`, sh`chown root:root -- ${binary} && chmod 0755 -- ${binary}`, { sudo: true, echo: 'info', timeoutMs: 30_000 });
      return;
    }
    if (installed.version !== undefined && compareVersions(wanted.version, installed.version) < 0) {
      const proceed = await ctx.prompt.confirm(`Downgrade ${server.name} from ${installed.version} to ${wanted.version}?`, {
        defaultValue: false,
        detail: `${server.name} does not support downgrades: data written by the newer version may not be readable by the older one.`,
      });
      if (!proceed) {
        throw new UserError(`${server.binaryName} ${installed.version} is installed; not downgrading to ${wanted.version}`, {
          hint: `set vault.version to ${installed.version} or newer (or latest)`,
        });
      }
    }
    await install(ctx, server, wanted, installed);
  },
  };
}

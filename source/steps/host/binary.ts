/**
 * host.binary: /usr/local/bin/vault at the wanted version, from a release whose SHA-256 was checked
 * against the release's SHA256SUMS before anything was unpacked.
 *
 * The download happens on the host (it is the machine with the network path to the release site,
 * possibly through vault.httpProxy), into a root-only temp directory, so nothing can change the
 * archive between its verification and its installation. Hosts without internet can use a zip
 * the user downloaded (vault.localZip, with vault_<v>_SHA256SUMS beside it): it is verified here,
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
  newestStableVersion,
  parseReleaseIndex,
  parseReleaseZipName,
  parseVaultVersionOutput,
  releaseIndexUrl,
  releaseSumsName,
  releaseUrls,
  vaultArchOf,
  type VaultArch,
} from '../../services/release.js';
import { sh } from '../../services/host/shell-quote.js';
import type { FileStat } from '../../services/host/transport.js';
import { firstLine, hostExec, hostFacts, hostRun } from './facts.js';
import { VAULT_BINARY } from './layout.js';

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
export function curlCommand(profile: Profile, url: string, output?: string): string {
  const https = profile.vault.releaseBaseUrl.startsWith('https:');
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
  return sh`curl ${options} -- ${url}`;
}

interface Installed {
  stat: FileStat;
  /** Parsed from `vault version`; undefined when the file does not run or prints something else. */
  version: string | undefined;
  versionOutput: string;
}

async function installedBinary(ctx: StepContext): Promise<Installed> {
  const transport = await ctx.services.host();
  const stat = await transport.stat(VAULT_BINARY, { signal: ctx.signal });
  if (!stat.exists) return { stat, version: undefined, versionOutput: '' };
  const result = await hostExec(ctx, sh`${VAULT_BINARY} version`, { echo: 'none', timeoutMs: 30_000 });
  const output = `${result.stdout}\n${result.stderr}`.trim();
  return { stat, version: result.code === 0 ? parseVaultVersionOutput(result.stdout) : undefined, versionOutput: output };
}

interface Wanted {
  version: string;
  arch: VaultArch;
  /** Set when the release comes from the user's zip rather than the release site. */
  localZip?: string;
}

async function wantedRelease(ctx: StepContext): Promise<Wanted> {
  const { vault } = ctx.profile;
  const arch = vaultArchOf((await hostFacts(ctx)).machine);
  const localZip = localZipOf(ctx.profile);
  if (localZip) {
    const parsed = parseReleaseZipName(basename(localZip));
    if (!parsed) {
      throw new UserError(`${localZip} is not named like a Vault release (vault_<version>_linux_<arch>.zip)`, {
        hint: 'keep the file name of the download from releases.hashicorp.com; the version and architecture are read from it',
      });
    }
    if (parsed.arch !== arch) {
      throw new UserError(`${basename(localZip)} is built for linux/${parsed.arch}, but the host needs linux/${arch}`, {
        hint: `download vault_${parsed.version}_linux_${arch}.zip instead`,
      });
    }
    if (vault.version !== 'latest' && vault.version !== parsed.version) {
      throw new UserError(`vault.version is ${vault.version} but the local zip is version ${parsed.version}`, {
        hint: `set vault.version to ${parsed.version} (or latest), or use the zip of ${vault.version}`,
      });
    }
    return { version: parsed.version, arch, localZip };
  }
  if (vault.version !== 'latest') return { version: vault.version, arch };
  const url = releaseIndexUrl(vault.releaseBaseUrl);
  const index = await hostRun(ctx, `fetching ${url}`, curlCommand(ctx.profile, url), {
    echo: 'none',
    timeoutMs: 120_000,
    hint: 'the host must reach the release site: check its network, vault.releaseBaseUrl and vault.httpProxy (or use a local zip)',
  });
  const version = newestStableVersion(parseReleaseIndex(index, url), arch);
  ctx.log.debug(`newest stable release for linux/${arch}: ${version}`);
  return { version, arch };
}

function modeProblem(stat: FileStat): string | undefined {
  if (stat.type !== 'file') return `${VAULT_BINARY} is a ${stat.type ?? 'special file'}`;
  if (stat.mode !== BINARY_MODE || stat.uid !== 0 || stat.gid !== 0) {
    return `${VAULT_BINARY} is ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid} 0${(stat.mode ?? 0).toString(8)}, want root:root 0755`;
  }
  return undefined;
}

function judge(installed: Installed, wanted: Wanted): Check {
  if (!installed.stat.exists) return { state: 'todo', detail: `not installed; want vault ${wanted.version} (linux/${wanted.arch})` };
  if (installed.version === undefined) {
    return { state: 'drift', detail: `${VAULT_BINARY} does not report a version (${firstLine(installed.versionOutput)}); want ${wanted.version}` };
  }
  if (installed.version !== wanted.version) return { state: 'drift', detail: `vault ${installed.version} installed, want ${wanted.version}` };
  const problem = modeProblem(installed.stat);
  if (problem) return { state: 'drift', detail: problem };
  return { state: 'done', detail: `vault ${installed.version} at ${VAULT_BINARY}` };
}

/** The release files on the host, in a fresh root-only temp dir: site download or upload of the local zip. */
async function stageRelease(ctx: StepContext, wanted: Wanted, tmp: string): Promise<{ zipPath: string; zipName: string; sha256: string }> {
  const { zip, sums, zipName, sumsName } = releaseUrls(ctx.profile.vault.releaseBaseUrl, wanted.version, wanted.arch);
  const zipPath = `${tmp}/${zipName}`;
  if (wanted.localZip) {
    const sumsPath = join(dirname(wanted.localZip), sumsName);
    const [zipBytes, sumsText] = await Promise.all([
      readLocal(wanted.localZip, 'the Vault zip'),
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
  const hint = 'the host must reach the release site: check its network, vault.releaseBaseUrl and vault.httpProxy (or use a local zip)';
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
      hint: 'check vault.localZip in the profile: the zip and vault_<version>_SHA256SUMS from the release site, in one directory',
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

async function install(ctx: StepContext, wanted: Wanted, installed: Installed): Promise<void> {
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
    const staged = await stageRelease(ctx, wanted, tmp);
    await verifyOnHost(ctx, staged, tmp, releaseSumsName(wanted.version));
    const unpacked = `${tmp}/unpacked`;
    await hostRun(ctx, `unzipping ${staged.zipName}`, sh`unzip -q -o ${staged.zipPath} vault -d ${unpacked}`, { sudo: true, echo: 'info', ...hostTimeout });
    const newBinary = `${unpacked}/vault`;
    const versionResult = await hostExec(ctx, sh`${newBinary} version`, { sudo: true, echo: 'info', timeoutMs: 60_000 });
    const newVersion = versionResult.code === 0 ? parseVaultVersionOutput(versionResult.stdout) : undefined;
    if (newVersion !== wanted.version) {
      throw new UserError(
        `the downloaded vault does not run as version ${wanted.version} on the host: ${firstLine(`${versionResult.stderr}\n${versionResult.stdout}`)}`,
        { hint: 'nothing was installed; check that the host architecture matches the release (uname -m) and that the release is not damaged' },
      );
    }
    const staging = `${dirname(VAULT_BINARY)}/.${basename(VAULT_BINARY)}.new`;
    await hostRun(
      ctx,
      `installing ${VAULT_BINARY}`,
      sh`set -e; install -o root -g root -m 0755 -- ${newBinary} ${staging}; mv -f -- ${staging} ${VAULT_BINARY}`,
      { sudo: true, echo: 'info', ...hostTimeout },
    );
    ctx.log.info(`installed vault ${wanted.version} at ${VAULT_BINARY}${installed.version ? ` (was ${installed.version})` : ''}`);
  } finally {
    await hostExec(ctx, sh`rm -rf -- ${tmp}`, { sudo: true, echo: 'none', ...hostTimeout }).catch((error: unknown) => {
      ctx.log.warn(`could not remove ${tmp} on the host: ${(error as Error).message}`);
    });
  }
}

export const binaryStep: Step = {
  id: 'host.binary',
  phase: 'host',
  title: 'Install the Vault binary (SHA-256 verified)',
  describe(ctx): Planned[] {
    const { vault } = ctx.profile;
    const localZip = localZipOf(ctx.profile);
    const version = vault.version === 'latest' ? '<newest>' : vault.version;
    const planned: Planned[] = [];
    if (localZip) {
      planned.push({ kind: 'local', summary: `check ${localZip} against the SHA256SUMS beside it, upload it to the host` });
    } else {
      if (vault.version === 'latest') planned.push({ kind: 'command', summary: `curl ${releaseIndexUrl(vault.releaseBaseUrl)} (newest stable release)` });
      const base = `${vault.releaseBaseUrl.replace(/\/+$/, '')}/vault/${version}`;
      planned.push({ kind: 'command', summary: `curl ${base}/${releaseSumsName(version)} and ${base}/vault_${version}_linux_<arch>.zip${vault.httpProxy ? ` via ${vault.httpProxy}` : ''}` });
    }
    planned.push(
      { kind: 'command', summary: 'sha256sum -c (before unzipping)' },
      { kind: 'command', summary: `unzip vault; vault version; install -m 0755 -o root -g root ${VAULT_BINARY}` },
    );
    return planned;
  },
  async check(ctx) {
    const installed = await installedBinary(ctx);
    return judge(installed, await wantedRelease(ctx));
  },
  async apply(ctx) {
    const installed = await installedBinary(ctx);
    const wanted = await wantedRelease(ctx);
    if (installed.version === wanted.version) {
      // The right version with the wrong owner or mode: fix those, no download.
      ctx.log.info(`vault ${wanted.version} is installed; setting root:root 0755`);
      await hostRun(ctx, `chmod ${VAULT_BINARY}`, sh`chown root:root -- ${VAULT_BINARY} && chmod 0755 -- ${VAULT_BINARY}`, { sudo: true, echo: 'info', timeoutMs: 30_000 });
      return;
    }
    if (installed.version !== undefined && compareVersions(wanted.version, installed.version) < 0) {
      const proceed = await ctx.prompt.confirm(`Downgrade Vault from ${installed.version} to ${wanted.version}?`, {
        defaultValue: false,
        detail: 'Vault does not support downgrades: data written by the newer version may not be readable by the older one.',
      });
      if (!proceed) {
        throw new UserError(`vault ${installed.version} is installed; not downgrading to ${wanted.version}`, {
          hint: `set vault.version to ${installed.version} or newer (or latest)`,
        });
      }
    }
    await install(ctx, wanted, installed);
  },
};

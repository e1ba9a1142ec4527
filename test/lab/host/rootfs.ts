/**
 * The lab host's root filesystem: a Debian bookworm made with debootstrap, built once per machine
 * into a cached tar, and extracted afresh for every lab instance.
 *
 * The cache file name carries a stamp of the recipe, so changing the recipe builds a new one; a build
 * happens in a temporary directory next to the cache and is renamed into place only when complete,
 * so an interrupted build never leaves a cache that looks usable.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from './lock.js';
import type { LabLog } from './log.js';
import { mountsUnder, run } from './process.js';

export const ROOTFS_RECIPE = {
  /** Raised whenever the way the tar is made changes without the fields below changing. */
  revision: 1,
  suite: 'bookworm',
  variant: 'minbase',
  include: ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'sudo', 'curl', 'jq', 'unzip', 'openssl', 'ca-certificates', 'iproute2', 'procps'],
} as const;

export function defaultCacheDir(): string {
  return process.env['LAB_CACHE_DIR'] ?? '/var/cache/picluster-vault-tui-lab';
}

export function recipeStamp(): string {
  return createHash('sha256').update(JSON.stringify(ROOTFS_RECIPE)).digest('hex').slice(0, 12);
}

export function rootfsTarPath(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `${ROOTFS_RECIPE.suite}-rootfs-${recipeStamp()}.tar`);
}

// tar options that keep what a root filesystem needs: numeric owners (the host's user names differ),
// permissions, and extended attributes such as file capabilities (security.capability).
const TAR_KEEP = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

/**
 * The Debian mirror apt uses on this machine (the only one reachable here): the first `deb` source for
 * the recipe's suite in /etc/apt/sources.list or /etc/apt/sources.list.d (one-line and deb822 formats).
 * LAB_DEBIAN_MIRROR overrides it.
 */
export async function debianMirror(): Promise<string> {
  const override = process.env['LAB_DEBIAN_MIRROR'];
  if (override) return override;
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join(dir, name));
  }
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const found = file.endsWith('.sources') ? mirrorFromDeb822(text) : mirrorFromOneLine(text);
    if (found) return found;
  }
  throw new Error(`no apt source for "${ROOTFS_RECIPE.suite}" found in /etc/apt/sources.list(.d); set LAB_DEBIAN_MIRROR to a Debian mirror URL`);
}

function mirrorFromOneLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    // deb [options] URI suite components...
    const words = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    if (words[0] === 'deb' && words[2] === ROOTFS_RECIPE.suite && words[1]) return words[1];
  }
  return undefined;
}

/** deb822 stanzas (man 5 sources.list, "DEB822-STYLE FORMAT"). */
function mirrorFromDeb822(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1].toLowerCase(), match[2].trim());
    }
    if (fields.get('enabled') === 'no') continue;
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (!(fields.get('suites') ?? '').split(/\s+/).includes(ROOTFS_RECIPE.suite)) continue;
    const uri = (fields.get('uris') ?? '').split(/\s+/)[0];
    if (uri) return uri;
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Removes a directory tree that must not hold mounts (refuses if it does; never crosses into one). */
export async function removeTree(dir: string): Promise<void> {
  const mounts = await mountsUnder(dir);
  if (mounts.length > 0) throw new Error(`refusing to delete ${dir}: still mounted: ${mounts.join(', ')}`);
  await run('rm', ['-rf', '--one-file-system', '--', dir]);
}

/** debootstrap mounts /proc and /sys inside its target; an interrupted build can leave them mounted. */
async function unmountLeftovers(dir: string): Promise<void> {
  for (const target of (await mountsUnder(dir)).sort((a, b) => b.length - a.length)) {
    await run('umount', ['--lazy', target]);
  }
}

/** Returns the cached rootfs tar, building it first if the cache has none for this recipe. */
export async function ensureRootfsCache(log: LabLog, cacheDir = defaultCacheDir()): Promise<{ tarPath: string; builtNow: boolean; buildMs?: number }> {
  const tarPath = rootfsTarPath(cacheDir);
  if (await exists(tarPath)) return { tarPath, builtNow: false };
  await mkdir(cacheDir, { recursive: true });
  const lock = await acquireLock(join(cacheDir, 'build.lock'), 'rootfs cache build', 20 * 60_000, (owner) =>
    log.line(`waiting for process ${owner}, which is building the rootfs cache`),
  );
  try {
    if (await exists(tarPath)) return { tarPath, builtNow: false };
    // Builds left by an interrupted run (we hold the lock, so none of them is still running).
    for (const name of await readdir(cacheDir)) {
      if (name.startsWith('build-')) {
        await unmountLeftovers(join(cacheDir, name));
        await removeTree(join(cacheDir, name));
      }
    }
    const buildDir = join(cacheDir, `build-${process.pid}`);
    const root = join(buildDir, 'root');
    await mkdir(root, { recursive: true });
    await mkdir(join(cacheDir, 'debs'), { recursive: true }); // debootstrap requires --cache-dir to exist
    const mirror = await debianMirror();
    const begin = Date.now();
    try {
      await log.timed(`debootstrap ${ROOTFS_RECIPE.variant} ${ROOTFS_RECIPE.suite} from ${mirror} (first time on this machine)`, () =>
        run(
          'debootstrap',
          [
            `--variant=${ROOTFS_RECIPE.variant}`,
            `--include=${ROOTFS_RECIPE.include.join(',')}`,
            // Downloaded .debs are kept, so a recipe change rebuilds without downloading them again.
            `--cache-dir=${join(cacheDir, 'debs')}`,
            ROOTFS_RECIPE.suite,
            root,
            mirror,
          ],
          { timeoutMs: 30 * 60_000 },
        ),
      );
      const buildMs = Date.now() - begin;
      const partial = join(buildDir, 'rootfs.tar');
      await log.timed('pack rootfs cache', () => run('tar', [...TAR_KEEP, '--create', '--file', partial, '--directory', root, '.']));
      await rename(partial, tarPath);
      log.line(`rootfs cached at ${tarPath}`);
      // Caches of older recipes are dead weight.
      for (const name of await readdir(cacheDir)) {
        if (name.startsWith(`${ROOTFS_RECIPE.suite}-rootfs-`) && join(cacheDir, name) !== tarPath) await rm(join(cacheDir, name), { force: true });
      }
      return { tarPath, builtNow: true, buildMs };
    } finally {
      await unmountLeftovers(buildDir);
      await removeTree(buildDir);
    }
  } finally {
    await lock.release();
  }
}

/** Extracts the cached rootfs into `root` (created; must not exist yet). */
export async function extractRootfs(tarPath: string, root: string): Promise<void> {
  await mkdir(root, { recursive: false, mode: 0o755 });
  await run('tar', [...TAR_KEEP, '--extract', '--preserve-permissions', '--same-owner', '--file', tarPath, '--directory', root]);
}

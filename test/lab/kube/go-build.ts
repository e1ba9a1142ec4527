/**
 * Builds the lab's real cluster programs from their Go modules and caches them per machine, like
 * the root filesystem:
 *   <cache>/go/<name>-<version>-<stamp>/<binary>...   the executables
 *   <cache>/go/<name>-<version>-<stamp>/build.json    {name, version, go, buildMs, binaries}
 * The stamp hashes the recipe (module lines, flags) and the Go version, so a changed recipe or
 * toolchain builds a new entry. A build runs in a temporary directory beside the entry and is
 * renamed into place when complete: an interrupted build leaves no cache entry. Modules come from
 * the Go module proxy (GOPROXY as this machine has it); nothing is committed.
 *
 * `go install pkg@version` refuses modules whose go.mod has replace directives (etcd,
 * k8s.io/kubernetes, ESO), so those are built through a small wrapper module that requires them
 * and carries the replaces they need (real-lab.md §2).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from '../host/lock.js';
import { run } from '../host/process.js';
import { defaultCacheDir } from '../host/rootfs.js';

export interface GoProgram {
  /** Cache key and display name: `kubernetes`, `etcd`, `helm3`, … */
  name: string;
  version: string;
  /** What the build leaves in the output directory. */
  binaries: string[];
  /** What goes into the stamp besides name and version (module lines, flags, main.go). */
  recipe: unknown;
  /** Builds into `out` with `go` (which runs the go command in `work`). */
  build(context: GoBuildContext): Promise<void>;
}

export interface GoBuildContext {
  /** A fresh directory for the wrapper module. */
  work: string;
  /** Where the binaries must end up. */
  out: string;
  go(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<string>;
}

export interface BuiltProgram {
  name: string;
  version: string;
  dir: string;
  /** binary name → absolute path */
  paths: Record<string, string>;
  builtNow: boolean;
  buildMs: number;
}

const BUILD_TIMEOUT_MS = 60 * 60_000;

/** The environment every build runs in: no cgo (static binaries), this machine's own Go. */
function buildEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '', ...extra };
}

let goVersionCache: Promise<string> | undefined;
export function goVersion(): Promise<string> {
  goVersionCache ??= run('go', ['env', 'GOVERSION'], { env: buildEnv() }).then((result) => result.stdout.trim());
  return goVersionCache;
}

/** Where the Go module cache holds `module@version` (downloaded from the proxy first if needed). */
export async function moduleFiles(module: string, version: string): Promise<{ dir: string; goMod: string }> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { env: buildEnv(), timeoutMs: BUILD_TIMEOUT_MS });
  const info = JSON.parse(stdout) as { Dir: string; GoMod: string };
  return { dir: info.Dir, goMod: info.GoMod };
}

export function goCacheDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, 'go');
}

async function stampOf(program: GoProgram): Promise<string> {
  const text = JSON.stringify({ name: program.name, version: program.version, binaries: program.binaries, recipe: program.recipe, go: await goVersion() });
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    return info.isFile() && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

async function cachedEntry(dir: string, program: GoProgram): Promise<BuiltProgram | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as { buildMs: number };
    const paths = Object.fromEntries(program.binaries.map((binary) => [binary, join(dir, binary)]));
    for (const path of Object.values(paths)) if (!(await isExecutable(path))) return undefined;
    return { name: program.name, version: program.version, dir, paths, builtNow: false, buildMs: meta.buildMs };
  } catch {
    return undefined;
  }
}

/**
 * The cached build of `program`, built first when the cache lacks it. Safe to call from several
 * processes at once: one builds, the others wait for its lock and then take its result.
 */
export async function ensureGoProgram(program: GoProgram, options: { cacheDir?: string; onBuild?: (program: GoProgram) => void } = {}): Promise<BuiltProgram> {
  const root = goCacheDir(options.cacheDir);
  await mkdir(root, { recursive: true, mode: 0o755 });
  const dir = join(root, `${program.name}-${program.version}-${await stampOf(program)}`);
  const hit = await cachedEntry(dir, program);
  if (hit) return hit;
  const lock = await acquireLock(`${dir}.lock`, `build ${program.name} ${program.version}`, BUILD_TIMEOUT_MS);
  try {
    const built = await cachedEntry(dir, program);
    if (built) return built;
    options.onBuild?.(program);
    const begin = Date.now();
    const temp = await mkdtemp(`${dir}.tmp-`);
    try {
      const work = join(temp, 'work');
      const out = join(temp, 'out');
      await mkdir(work);
      await mkdir(out);
      await program.build({
        work,
        out,
        go: async (args, goOptions = {}) => (await run('go', args, { cwd: goOptions.cwd ?? work, env: buildEnv(goOptions.env), timeoutMs: BUILD_TIMEOUT_MS })).stdout,
      });
      for (const binary of program.binaries) {
        if (!(await isExecutable(join(out, binary)))) throw new Error(`building ${program.name} ${program.version} left no executable ${binary}`);
      }
      const buildMs = Date.now() - begin;
      await writeFile(join(out, 'build.json'), `${JSON.stringify({ name: program.name, version: program.version, go: await goVersion(), buildMs, binaries: program.binaries }, null, 2)}\n`);
      await rename(out, dir);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    const entry = await cachedEntry(dir, program);
    if (!entry) throw new Error(`${dir}: the build finished but its cache entry is unreadable`);
    return { ...entry, builtNow: true };
  } finally {
    await lock.release();
  }
}

/** A wrapper module: go.mod text plus other files, tidied, then `go build -o out/<binary> <package>`. */
export async function buildWrapper(
  context: GoBuildContext,
  module: { goMod: string; files?: Record<string, string>; builds: { package: string; binary: string; ldflags?: string; tags?: string }[]; tidyOnly?: Record<string, string> },
): Promise<void> {
  await writeFile(join(context.work, 'go.mod'), module.goMod);
  for (const [name, text] of Object.entries(module.files ?? {})) await writeFile(join(context.work, name), text);
  // A main package of a dependency cannot be imported, so `go mod tidy` would drop its module: a
  // file that imports its library packages keeps the requirements while tidy runs.
  for (const [name, text] of Object.entries(module.tidyOnly ?? {})) await writeFile(join(context.work, name), text);
  await context.go(['mod', 'tidy']);
  for (const name of Object.keys(module.tidyOnly ?? {})) await rm(join(context.work, name));
  for (const build of module.builds) {
    const args = ['build', '-trimpath', '-ldflags', `-s -w ${build.ldflags ?? ''}`.trim(), ...(build.tags ? ['-tags', build.tags] : []), '-o', join(context.out, build.binary), build.package];
    await context.go(args);
  }
}

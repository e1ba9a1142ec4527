// Packages the simulator like a HashiCorp release: one executable `vault` (a node script, since
// the lab host has node bind-mounted at /usr/local/bin/node) inside vault_<v>_linux_<arch>.zip,
// listed in vault_<v>_SHA256SUMS (`<sha256>  <file>` lines, as on releases.hashicorp.com).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { writeZip } from './zip.js';

export interface VaultReleaseOptions {
  version: string;
  arch: string;
  outDir: string;
  /** defaults to a fixed date so the same version always builds byte-identical files */
  buildDate?: string;
}

export interface VaultRelease {
  zipPath: string;
  sumsPath: string;
  sha256: string;
}

const ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));
const DEFAULT_BUILD_DATE = '2026-01-01T00:00:00Z';
const bundles = new Map<string, Promise<Buffer>>();

// The executable is a sh/JavaScript polyglot. To sh, line 2 is a command; to JavaScript it is a
// string followed by a comment. Without systemd it simply execs node on this same file. Started
// by systemd with Type=notify (as HashiCorp's packaged vault.service is), the service manager only
// accepts READY=1 from the main PID, and Node cannot send unix datagrams. So sh (the main PID)
// starts node, waits on a FIFO until node has its listeners up, then execs systemd-notify, which
// therefore still has the main PID, with READY=1 and MAINPID=<node> - handing the service over to
// node exactly when Vault itself would report readiness. (--pid=$$ makes systemd-notify send with
// its own credentials whatever its parent is; the later MAINPID= argument overrides the one --pid adds.)
// https://www.freedesktop.org/software/systemd/man/latest/systemd-notify.html
// https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html (Type=notify, NotifyAccess)
const LAUNCHER = [
  '#!/bin/sh',
  `':' //; if [ "$1" = server ] && [ -n "$NOTIFY_SOCKET" ] && command -v systemd-notify >/dev/null 2>&1 && d=$(mktemp -d 2>/dev/null) && mkfifo -m 600 "$d/ready"; then ` +
    `VAULT_SIM_READY_FIFO="$d/ready" node "$0" "$@" & p=$!; trap 'kill -TERM $p' TERM; trap 'kill -INT $p' INT; trap 'kill -HUP $p' HUP; ` +
    `r=; read -r r < "$d/ready"; rm -rf "$d"; if [ "$r" = READY ]; then exec systemd-notify --ready --pid=$$ "MAINPID=$p"; fi; wait $p; exit $?; fi; exec node "$0" "$@"`,
].join('\n');

/** The commit-like revision `vault version` prints, stable per version. */
export function fakeRevision(version: string): string {
  return createHash('sha1').update(`vault-sim ${version}`).digest('hex');
}

/** Bundles the simulator into one CommonJS script with the version baked in. */
export function bundleVaultExecutable(version: string, buildDate = DEFAULT_BUILD_DATE): Promise<Buffer> {
  const key = `${version}@${buildDate}`;
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = build({
      entryPoints: [ENTRY],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      write: false,
      minify: false,
      legalComments: 'none',
      banner: { js: LAUNCHER },
      define: { VAULT_SIM_BUILD: JSON.stringify({ version, revision: fakeRevision(version), buildDate }) },
      logLevel: 'warning',
    }).then((result) => Buffer.from(result.outputFiles[0]!.contents));
    bundles.set(key, bundle);
  }
  return bundle;
}

export function releaseZipName(version: string, arch: string): string {
  return `vault_${version}_linux_${arch}.zip`;
}

export function releaseSumsName(version: string): string {
  return `vault_${version}_SHA256SUMS`;
}

export async function buildVaultRelease(options: VaultReleaseOptions): Promise<VaultRelease> {
  const { version, arch, outDir } = options;
  const buildDate = options.buildDate ?? DEFAULT_BUILD_DATE;
  await mkdir(outDir, { recursive: true });
  const executable = await bundleVaultExecutable(version, buildDate);
  const zip = writeZip([{ name: 'vault', content: executable, mode: 0o755, modified: new Date(buildDate) }]);
  const zipName = releaseZipName(version, arch);
  const zipPath = join(outDir, zipName);
  await writeFile(zipPath, zip, { mode: 0o644 });
  const sha256 = createHash('sha256').update(zip).digest('hex');

  // One SUMS file per version covering every arch built into this directory.
  const sumsPath = join(outDir, releaseSumsName(version));
  const lines = new Map<string, string>();
  const previous = await readFile(sumsPath, 'utf8').catch(() => '');
  for (const line of previous.split('\n')) {
    const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim());
    if (match) lines.set(match[2]!, match[1]!);
  }
  lines.set(zipName, sha256);
  const content = [...lines.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, sum]) => `${sum}  ${file}\n`)
    .join('');
  await writeFile(sumsPath, content, { mode: 0o644 });
  return { zipPath, sumsPath, sha256 };
}

/**
 * Which npm packages a command of the built CLI actually parses. The bin runs under a loader hook
 * that records every module URL (record-loads.mjs); the chunks of dist/ it loaded are mapped to the
 * packages inlined in them through dist/meta.json (esbuild's metafile, written by scripts/build.mjs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RECORDER = fileURLToPath(new URL('./record-loads.mjs', import.meta.url));

/** Packages whose start-up cost is felt (each ≥ ~80 ms unbundled); a command must load only those it needs. */
export const HEAVY_PACKAGES = [
  'ink',
  'react',
  'react-reconciler',
  'yoga-layout',
  'ssh2',
  'node-vault',
  'axios',
  '@kubernetes/client-node',
  '@peculiar/x509',
  'conf',
  'ajv',
  'zod',
  'commander',
] as const;

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

export interface LoadedModules {
  /** Chunks of dist/ the command loaded (file names). */
  chunks: string[];
  /** Kilobytes of dist/ JavaScript parsed. */
  kib: number;
  /** Every npm package with code in those chunks. */
  packages: string[];
  /** The HEAVY_PACKAGES among them. */
  heavy: string[];
  exitCode: number | null;
}

function packageOf(input: string): string | undefined {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Runs `node bin/picluster-vault-tui.js ...args` from `root` (default: this repo) and reports what it loaded. */
export function loadedModules(args: readonly string[], env: NodeJS.ProcessEnv, root = REPO_ROOT): LoadedModules {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvt-loads-'));
  const record = path.join(dir, 'loads.txt');
  try {
    const result = spawnSync(process.execPath, ['--import', RECORDER, path.join(root, 'bin', 'picluster-vault-tui.js'), ...args], {
      env: { ...env, PVT_RECORD_LOADS: record },
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let urls: string[] = [];
    try {
      urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
    } catch {
      // Nothing recorded: the command loaded no ES module beyond the recorder.
    }
    const metafile = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist', 'meta.json'), 'utf8')) as Metafile;
    const distDir = path.join(root, 'dist');
    const chunks = [...new Set(urls.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url)).filter((file) => path.dirname(file) === distDir).map((file) => path.basename(file)))];
    const packages = new Set<string>();
    let bytes = 0;
    for (const chunk of chunks) {
      const output = metafile.outputs[`dist/${chunk}`];
      if (!output) throw new Error(`dist/${chunk} is not in dist/meta.json: rebuild (npm run build)`);
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        bytes += bytesInOutput;
        const name = packageOf(input);
        if (name) packages.add(name);
      }
    }
    const sorted = [...packages].sort();
    return {
      chunks: chunks.sort(),
      kib: Math.round(bytes / 1024),
      packages: sorted,
      heavy: sorted.filter((name) => (HEAVY_PACKAGES as readonly string[]).includes(name)),
      exitCode: result.status,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

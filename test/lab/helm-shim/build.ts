// Writes the lab's `helm` into a bin directory: one CommonJS file with a node shebang, bundled with
// esbuild from main.ts (Node built-ins only at run time), mode 0755 — put the directory first on PATH.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));

export async function writeHelmShim(binDir: string): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    write: false,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    define: { HELM_SHIM_BUNDLE: 'true' },
    logLevel: 'warning',
  });
  await mkdir(binDir, { recursive: true });
  const path = join(binDir, 'helm');
  await writeFile(path, result.outputFiles[0]!.contents, { mode: 0o755 });
  return path;
}

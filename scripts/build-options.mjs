// The esbuild options of the published bundle (scripts/build.mjs), shared with the benchmarks so
// that what they measure is built exactly like the product. Why each option is there: build.mjs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Optional native or optional-peer modules that are required inside try/catch by their users. */
export const OPTIONAL_EXTERNALS = ['cpu-features', 'bufferutil', 'utf-8-validate', 'encoding', '*.node'];

// The names are unlikely to collide with a bundled module's own top-level bindings (esbuild does
// not see the banner), and `require`/`__filename`/`__dirname` are what CommonJS code reads.
const BANNER = [
  "import { createRequire as __pvtCreateRequire } from 'node:module';",
  "import { fileURLToPath as __pvtFileURLToPath } from 'node:url';",
  "import { dirname as __pvtDirname } from 'node:path';",
  'const require = __pvtCreateRequire(import.meta.url);',
  'const __filename = __pvtFileURLToPath(import.meta.url);',
  'const __dirname = __pvtDirname(__filename);',
].join(' ');

/** esbuild options for `entryPoints` into `outdir` (both relative to the repository root or absolute). */
export function bundleOptions({ entryPoints, outdir }) {
  return {
    absWorkingDir: ROOT,
    entryPoints,
    outdir: path.resolve(ROOT, outdir),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // "module" first picks the ESM build of dual packages.
    mainFields: ['module', 'main'],
    external: OPTIONAL_EXTERNALS,
    alias: { 'react-devtools-core': './scripts/react-devtools-stub.mjs' },
    define: { 'process.env.NODE_ENV': '"production"' },
    banner: { js: BANNER },
    jsx: 'automatic',
    minify: true,
    // Licence comments are collected into one file by build.mjs instead of being scattered through chunks.
    legalComments: 'none',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  };
}

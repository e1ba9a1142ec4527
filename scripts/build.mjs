// Builds source/ into dist/ with esbuild. Dependencies stay external here (node_modules);
// heavy modules are imported dynamically by the CLI so each command loads only what it needs,
// and code splitting keeps those dynamic imports as separate chunks.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['source/cli.tsx'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  jsx: 'automatic',
  sourcemap: 'linked',
  logLevel: 'warning',
});

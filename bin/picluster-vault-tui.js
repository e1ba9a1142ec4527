#!/usr/bin/env node
// Thin launcher: the CLI is built into dist/ by `npm run build` (run automatically by `npm ci`
// through the `prepare` script), so the bin works from a fresh checkout without a manual step.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('picluster-vault-tui: dist/cli.js is missing. Run `npm run build` (or `npm ci`) first.\n');
  process.exit(1);
}
await import(entry.href);

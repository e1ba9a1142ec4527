#!/usr/bin/env node
// Thin launcher: the CLI is built into dist/ by `npm run build` (run automatically by `npm ci`
// through the `prepare` script), so the bin works from a fresh checkout without a manual step.
//
// `--version` (or `-V`) on its own is answered here from package.json, without loading dist/:
// scripts and `npx picluster-vault-tui --version` call it most, and parsing the CLI and commander
// for one line would cost more than Node's own start-up. It prints exactly what the CLI prints
// (the version and a newline); any other argument list, --version among others included, goes to
// the CLI.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  const entry = new URL('../dist/cli.js', import.meta.url);
  if (!existsSync(fileURLToPath(entry))) {
    process.stderr.write('picluster-vault-tui: dist/cli.js is missing. Run `npm run build` (or `npm ci`) first.\n');
    process.exit(1);
  }
  await import(entry.href);
}

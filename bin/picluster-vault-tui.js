#!/usr/bin/env node
// Thin launcher: the CLI is built into dist/ by `npm run build` (run automatically by `npm ci`
// through the `prepare` script), so the bin works from a fresh checkout without a manual step.
//
// This file is CommonJS (bin/package.json says so): Node starts its ES module loader only when the
// CLI itself is imported, which `--version` never does. Starting that loader costs about a third of
// Node's own start-up here, more than everything else `--version` does.
//
// `--version` (or `-V`) on its own is answered here from package.json, without loading dist/:
// scripts and `npx picluster-vault-tui --version` call it most, and parsing the CLI and commander
// for one line would cost more than Node's own start-up. It prints exactly what the CLI prints
// (the version and a newline); any other argument list, --version among others included, goes to
// the CLI.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  const entry = path.join(root, 'dist', 'cli.js');
  if (!existsSync(entry)) {
    process.stderr.write('picluster-vault-tui: dist/cli.js is missing. Run `npm run build` (or `npm ci`) first.\n');
    process.exit(1);
  }
  // A failure to load the CLI rejects this promise; Node reports it and exits with status 1.
  import(pathToFileURL(entry).href);
}

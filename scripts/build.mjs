// Builds source/ into dist/: one ESM bundle with the runtime dependencies inlined, so the published
// package installs as a single tarball with no dependency tree (`npx` on a Raspberry Pi downloads
// one small file and Node parses only what a command needs).
//
// - Code splitting keeps every `await import()` of the CLI a chunk of its own: Ink/React, ssh2,
//   node-vault, @peculiar/x509 and conf load only in the commands that use them.
// - Optional native add-ons stay outside and optional: ssh2 requires cpu-features and its own
//   sshcrypto.node inside try/catch and falls back to pure-JS crypto; ws does the same for
//   bufferutil/utf-8-validate, node-fetch for encoding. None of them is shipped.
// - Ink imports react-devtools-core only when DEV=true; it is aliased to a stub that says so.
// - CommonJS dependencies call require()/__dirname, which ESM output lacks: a banner defines them
//   from import.meta.url in every chunk.
// - `process.env.NODE_ENV` is "production" so React and others drop their development builds.
// - The licence texts of every inlined package are written to dist/THIRD-PARTY-LICENSES.txt
//   (MIT/ISC/BSD/Apache ask for the notice to travel with the code); a licence not on the
//   allow-list stops the build instead of being inlined silently.
//
// The options themselves are in build-options.mjs (shared with the benchmarks).
// esbuild options: https://esbuild.github.io/api/ (splitting, external, alias, banner, define,
// metafile, legalComments).
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleOptions, ROOT as root } from './build-options.mjs';

const outdir = path.join(root, 'dist');

/** Licences whose terms allow inlining with the notice kept beside the code. */
const ALLOWED_LICENSES = new Set(['MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD', 'BlueOak-1.0.0', 'Unlicense', 'CC0-1.0']);

const started = performance.now();
rmSync(outdir, { recursive: true, force: true });
const result = await build(bundleOptions({ entryPoints: ['source/cli.tsx'], outdir }));

const notices = thirdPartyNotices(result.metafile);
writeFileSync(path.join(outdir, 'THIRD-PARTY-LICENSES.txt'), notices.text);
// Which package landed in which chunk: read by the benchmarks and the package test to check that a
// command loads no heavy module it does not need. Not published (package.json "files").
writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const bytes = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
const entry = outputs.find(([, output]) => output.entryPoint === 'source/cli.tsx');
process.stderr.write(
  `built dist/ in ${Math.round(performance.now() - started)} ms: ${outputs.length} chunks, ${(bytes / 1024).toFixed(0)} KiB of JS ` +
    `(entry ${((entry?.[1].bytes ?? 0) / 1024).toFixed(1)} KiB), ${notices.packages} packages inlined\n`,
);

/**
 * The licence of every package with a file in the bundle, from its package.json and its LICENSE
 * (plus NOTICE, which Apache-2.0 asks to be kept). Throws on a licence outside ALLOWED_LICENSES.
 */
function thirdPartyNotices(metafile) {
  const packageDirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf('node_modules/');
    if (at < 0) continue;
    const rest = input.slice(at + 'node_modules/'.length).split('/');
    const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    packageDirs.add(path.join(root, input.slice(0, at), 'node_modules', name));
  }
  const refused = [];
  const sections = [];
  for (const dir of [...packageDirs].sort()) {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const license = licenseOf(manifest);
    const terms = license.replace(/[()]/g, '').split(/\s+OR\s+/);
    if (!terms.some((term) => ALLOWED_LICENSES.has(term))) refused.push(`${manifest.name}@${manifest.version}: ${license}`);
    const files = existsSync(dir) ? readdirSync(dir).filter((file) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(file)) : [];
    const texts = files.map((file) => readFileSync(path.join(dir, file), 'utf8').trim());
    sections.push(
      [`${manifest.name}@${manifest.version} — ${license}`, texts.length ? texts.join('\n\n') : `(no licence file in the package; licence: ${license})`].join('\n\n'),
    );
  }
  if (refused.length > 0) throw new Error(`these packages would be inlined but their licence is not on the allow-list:\n${refused.join('\n')}`);
  const header = 'picluster-vault-tui bundles the following packages. Their licences and notices follow.\n';
  return { packages: sections.length, text: [header, ...sections].join(`\n\n${'-'.repeat(72)}\n\n`) + '\n' };
}

/** The SPDX expression of a package; an old-style array of `{type}` (in `license` or `licenses`) is read as a choice (OR). */
function licenseOf(manifest) {
  if (typeof manifest.license === 'string') return manifest.license;
  if (typeof manifest.license?.type === 'string') return manifest.license.type;
  const list = Array.isArray(manifest.license) ? manifest.license : manifest.licenses;
  if (Array.isArray(list)) return list.map((entry) => entry.type).join(' OR ');
  return 'UNKNOWN';
}

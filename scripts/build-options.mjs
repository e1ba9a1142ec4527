// The esbuild options of the published bundle (scripts/build.mjs), shared with the benchmarks so
// that what they measure is built exactly like the product. Why each option is there: build.mjs.
import { readFile } from 'node:fs/promises';
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

/**
 * Yoga (Ink's layout engine) ships its WebAssembly as a base64 `data:` URL inside an Emscripten
 * loader that fetches the binary with `fetch()` whenever `typeof fetch` says it can. In Node 20 the
 * first read of the global `fetch` compiles undici, Node's HTTP client (~30 ms on an idle machine,
 * measured as 2-5x that under load), only for undici to decode a string that is already in memory.
 * The loader's own fallback decodes the base64 synchronously (its `wasmBinaryFile` is a data: URL,
 * which it recognizes); this makes the loader take that fallback. It does not touch `fetch` for
 * anything else: the global stays as Node defines it.
 * https://esbuild.github.io/plugins/#on-load
 */
const YOGA_INLINE_WASM = {
  name: 'yoga-inline-wasm-without-fetch',
  setup(build) {
    build.onLoad({ filter: /[\\/]yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const check = '"function"!=typeof fetch';
      // A yoga-layout release that changes its loader must be looked at again, not patched blindly.
      if (!text.includes(check)) throw new Error(`${args.path}: the loader no longer checks \`${check}\`; review YOGA_INLINE_WASM in scripts/build-options.mjs`);
      return { contents: text.replaceAll(check, '!0'), loader: 'js' };
    });
  },
};

/**
 * string-width (Ink measures every character and line with it) tests each non-ASCII grapheme
 * against /^\p{RGI_Emoji}$/v. V8 compiles that pattern (every RGI emoji sequence) on its first use:
 * 30-40 ms here, inside the TUI's first frame, whose box borders and glyphs are not ASCII. Every RGI
 * emoji contains at least one code point with the Emoji property (UTS #51: keycap bases, regional
 * indicators, tag bases, modifier bases and ZWJ parts all have it; checked for all 1,193 single
 * code points), so a grapheme without one cannot match: testing /\p{Emoji}/u first (0.2 ms to
 * compile) gives the same widths and leaves the big pattern to graphemes that may be emoji.
 * https://www.unicode.org/reports/tr51/#Definitions
 */
const STRING_WIDTH_EMOJI_GUARD = {
  name: 'string-width-emoji-guard',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]string-width[\\/]index\.js$/ }, async (args) => {
      // wrap-ansi's own older string-width (7.x) matches emoji with the emoji-regex package instead.
      if (/[\\/]wrap-ansi[\\/]node_modules[\\/]/.test(args.path)) return undefined;
      const text = await readFile(args.path, 'utf8');
      const test = 'if (rgiEmojiRegex.test(segment) || isDoubleWidthNonRgiEmojiSequence(segment)) {';
      const declaration = 'const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;';
      // A string-width release that changes these lines must be looked at again, not patched blindly.
      if (!text.includes(test) || !text.includes(declaration)) throw new Error(`${args.path}: the RGI emoji test changed; review STRING_WIDTH_EMOJI_GUARD in scripts/build-options.mjs`);
      const contents = text
        .replace(declaration, `${declaration}\nconst emojiCodePointRegex = /\\p{Emoji}/u;`)
        .replace(test, 'if ((emojiCodePointRegex.test(segment) && rgiEmojiRegex.test(segment)) || isDoubleWidthNonRgiEmojiSequence(segment)) {');
      return { contents, loader: 'js' };
    });
  },
};

/**
 * conf imports ajv, ajv-formats and semver for its `schema` and `migrations` options, which the
 * profile store does not use (see conf-unused-stubs.mjs); for conf alone they resolve to a stub
 * that throws if ever called. Any other importer of these packages gets the real ones.
 * https://esbuild.github.io/plugins/#on-resolve
 */
const CONF_UNUSED_OPTIONS = {
  name: 'conf-without-schema-and-migrations',
  setup(build) {
    const stub = path.join(ROOT, 'scripts', 'conf-unused-stubs.mjs');
    build.onResolve({ filter: /^(ajv\/dist\/2020\.js|ajv-formats|semver)$/ }, (args) =>
      /[\\/]node_modules[\\/]conf[\\/]/.test(args.importer) ? { path: stub } : undefined,
    );
  },
};

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
    plugins: [YOGA_INLINE_WASM, CONF_UNUSED_OPTIONS, STRING_WIDTH_EMOJI_GUARD],
  };
}

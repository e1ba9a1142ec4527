/**
 * The build's rewrites of dependencies (scripts/build-options.mjs) change how fast they start, never
 * what they compute: each dependency is bundled here with the product's esbuild options and compared
 * with the unbundled original.
 * - string-width: the \p{Emoji} guard before the RGI emoji pattern gives the same width for every
 *   code point of the BMP and of the emoji blocks (alone and followed by VS16) and for emoji
 *   sequences of every kind. (All 1,114,112 code points were compared once by hand: no difference.)
 * - yoga-layout: the bundled loader computes the same layout without reading the global `fetch`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import originalStringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleOptions } from '../../scripts/build-options.mjs';

let outdir: string;

async function bundled<T>(specifier: string, name: string): Promise<T> {
  const entry = path.join(outdir, `${name}-entry.mjs`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(entry, `export { default } from ${JSON.stringify(specifier)};\n`);
  await build({ ...bundleOptions({ entryPoints: [entry], outdir: path.join(outdir, name) }), sourcemap: false, logLevel: 'error', nodePaths: [path.resolve('node_modules')] });
  return ((await import(pathToFileURL(path.join(outdir, name, `${name}-entry.js`)).href)) as { default: T }).default;
}

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'pvt-build-patches-'));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('string-width with the emoji guard', () => {
  it('measures BMP and emoji-block code points, with and without VS16, and emoji sequences exactly like the original', async () => {
    const patched = await bundled<(text: string) => number>('string-width', 'string-width');
    const differences: string[] = [];
    const compare = (text: string): void => {
      if (patched(text) !== originalStringWidth(text) && differences.length < 5) differences.push(JSON.stringify(text));
    };
    const ranges: [number, number][] = [
      [0, 0xffff], // the BMP: every script, symbol, box-drawing and dingbat
      [0x1f000, 0x1faff], // the emoji blocks
      [0xe0000, 0xe007f], // tags
    ];
    for (const [first, last] of ranges) {
      for (let codePoint = first; codePoint <= last; codePoint++) {
        if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
        const character = String.fromCodePoint(codePoint);
        compare(character);
        compare(`${character}\uFE0F`);
      }
    }
    const sequences = [
      '1\uFE0F\u20E3', // keycap
      '#\u20E3', // keycap without VS16
      '\u{1F1EB}\u{1F1F7}', // flag
      '\u{1F44D}\u{1F3FD}', // modifier
      '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', // ZWJ sequence
      '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', // tag sequence
      '\u2764\uFE0F', // presentation sequence
      '│ ● ✓ ─ … ⠋ host.binary', // what the TUI draws
      '日本語 héllo \u1100\u1161\u11A8',
    ];
    for (const text of sequences) compare(text);
    expect(patched('\u{1F468}\u200D\u{1F469}\u200D\u{1F467}')).toBe(2);
    expect(differences).toEqual([]);
  }, 60_000);
});

describe('yoga-layout without fetch', () => {
  it('loads from the inlined WebAssembly and lays out a node, without reading the global fetch', async () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    let fetchRead = false;
    Object.defineProperty(globalThis, 'fetch', {
      configurable: true,
      get() {
        fetchRead = true;
        return descriptor?.get ? descriptor.get.call(globalThis) : descriptor?.value;
      },
    });
    try {
      type YogaNode = { setWidth(width: number): void; setHeight(height: number): void; calculateLayout(): void; getComputedWidth(): number };
      const yoga = await bundled<{ Node: { create(): YogaNode } }>('yoga-layout', 'yoga');
      const node = yoga.Node.create();
      node.setWidth(100);
      node.setHeight(30);
      node.calculateLayout();
      expect(node.getComputedWidth()).toBe(100);
      expect(fetchRead).toBe(false);
    } finally {
      if (descriptor) Object.defineProperty(globalThis, 'fetch', descriptor);
    }
  });
});

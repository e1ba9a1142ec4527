// Types of build-options.mjs for the TypeScript benchmarks that bundle with the product's options.
import type { BuildOptions } from 'esbuild';

export declare const ROOT: string;
export declare const OPTIONAL_EXTERNALS: string[];
export declare function bundleOptions(options: { entryPoints: string[]; outdir: string }): BuildOptions & { metafile: true };

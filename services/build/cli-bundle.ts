// The one set of esbuild options for what production runs: `npm run build:cli` (bin/build-cli.ts)
// bundles the CLI into dist/, the benchmark bundles its probe the same way, and the tests build both
// into scratch folders. Runs as `node <BUNDLE_NODE_FLAGS> <outDir>/<name>.mjs` with BUNDLE_ENV (below).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { repoRoot } from '../core/paths.js';

/** The CLI's TypeScript entry point and where `npm run build:cli` puts its bundle. */
export const CLI_ENTRY = path.join(repoRoot, 'bin/blipline.ts');
export const CLI_OUT_DIR = path.join(repoRoot, 'dist');

/**
 * Node flags a bundle runs with (the worker image's CMD and build steps use the same).
 * `--max-semi-space-size=2` (MiB): V8 lets its young generation grow to 2 x 16 MiB, which the worker's
 * short-lived objects never need. Capped, the worker's peak RSS under `npm run load` (int8 BLIP-base,
 * 8 decoder rows) fell from 675-710 MiB (median 691, 7 runs) to 637-692 (median 656, 5 runs) and its
 * ready RSS from 435-445 to 418-424 MiB; garbage collection took 0.5% more of the run (588 vs 469 ms in
 * 23 s, 146 scavenges instead of 55). 4 MiB saved about half as much.
 */
export const BUNDLE_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--max-semi-space-size=2'];

/**
 * Environment a bundle runs with (the worker image sets the same with ENV).
 * `MALLOC_ARENA_MAX=2`: glibc gives every thread that allocates (onnxruntime's, libvips', libuv's) an
 * arena of its own, up to 8 per core, each holding freed memory it does not return. Two arenas lowered
 * the worker's peak RSS under `npm run load` (int8 BLIP-base, 8 decoder rows, with the flags above) from
 * 654-690 MiB (4 runs) to 623-645 (6 runs), images/s within the runs' noise; one arena saved ~15 MiB
 * more and serialises every allocation on one lock.
 */
export const BUNDLE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export interface BundleRequest {
  /** the TypeScript entry point */
  entry: string;
  /**
   * Output folder. Packages stay external (imported from node_modules at run time), so it must lie
   * inside the repository (or the image's /app), below its node_modules and package.json.
   */
  outDir: string;
  /** the entry's output is `<outDir>/<name>.mjs` */
  name: string;
}

export interface BundleResult {
  /** `<outDir>/<name>.mjs` */
  file: string;
  /** esbuild's metafile; its paths are relative to the repository root */
  metafile: Metafile;
}

export function bundleOptions({ entry, outDir, name }: BundleRequest): BuildOptions {
  return {
    absWorkingDir: repoRoot,
    entryPoints: [{ in: entry, out: name }],
    outdir: outDir,
    bundle: true,
    // Every `await import()` (the CLI's subcommands, the ONNX serializer used only when compiling)
    // stays a chunk of its own, loaded when reached. In one file esbuild would hoist the external
    // imports of all of them to the top, so `worker` would load `dev`'s emulators (dev dependencies,
    // absent from the image) and every package at start.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    sourcemap: true,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  };
}

/** Bundles `entry` into `outDir` (its previous chunks removed first) and returns the entry's output file. */
export async function bundle(request: BundleRequest): Promise<BundleResult> {
  await rm(path.join(request.outDir, 'chunks'), { recursive: true, force: true });
  const result = await build({ ...bundleOptions(request), metafile: true });
  return { file: path.join(request.outDir, `${request.name}.mjs`), metafile: result.metafile };
}

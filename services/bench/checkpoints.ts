// Random-weight checkpoints at the published BLIP-base shapes, written once into the cache folder
// (never committed) and reused by later benchmark runs.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { CheckpointKind } from '../blip/tools/checkpoint-layout.js';
import { writeRandomCheckpoint, type RandomCheckpointResult } from '../blip/tools/random-checkpoint.js';
import { fixturesDir } from '../core/config.js';
import { repoRoot } from '../core/paths.js';

/** `.cache/blipline` under the repository unless BLIPLINE_CACHE_DIR says otherwise. */
export function cacheRoot(): string {
  return process.env.BLIPLINE_CACHE_DIR ? path.resolve(process.env.BLIPLINE_CACHE_DIR) : path.join(repoRoot, '.cache', 'blipline');
}

export function ensureBaseCheckpoint(kind: CheckpointKind, seed = 1): RandomCheckpointResult {
  return writeRandomCheckpoint({
    kind,
    shapes: 'base',
    seed,
    outDir: path.join(cacheRoot(), 'random-checkpoints', `${kind}-base-seed${seed}`),
    // the tiny fixture checkpoints lend their tokenizer and preprocessor files
    assetsDir: path.join(fixturesDir(), `blip-tiny-${kind}`),
  });
}

/** The fixture images' preprocessed pixel values (`[1, 3, 384, 384]` float32 files), the benchmark's inputs. */
export function fixturePixelFiles(): string[] {
  const pixelsDir = path.resolve(fixturesDir(), 'pixel_values');
  return readdirSync(pixelsDir).filter((name) => name.endsWith('.f32')).sort().map((name) => path.join(pixelsDir, name));
}

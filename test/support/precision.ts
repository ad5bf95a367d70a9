import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll } from 'vitest';
import { compareLogits, DECISIVE_MARGIN } from '../../services/bench/fidelity.js';
import type { LoadedBlipModel, Precision } from '../../services/blip/index.js';
import type { BlipRuntime } from '../../services/blip/runtime/index.js';
import { fixturePath, scratchDir } from './fixtures.js';

/**
 * int8 against float32 through the product path: both precisions loaded with `loadBlip` (graph cache in
 * a scratch folder per test file), and the measures the README's fidelity table uses, taken on the
 * sessions those models run.
 */

export interface PrecisionPair {
  readonly fp32: LoadedBlipModel;
  readonly int8: LoadedBlipModel;
}

/** Loads `modelDir` at float32 and at int8 with `loadBlip` before the file's tests; disposes of both after them. */
export function loadPrecisionPair(modelDir: string, scratchPrefix: string): { readonly pair: PrecisionPair } {
  let scratch: string | undefined;
  const loaded = new Map<Precision, LoadedBlipModel>();
  beforeAll(async () => {
    const { loadBlip } = await import('../../services/blip/index.js');
    const cacheDir = await scratchDir(scratchPrefix);
    scratch = cacheDir;
    for (const precision of ['fp32', 'int8'] as const) loaded.set(precision, await loadBlip({ model: modelDir, cacheDir, precision, threads: 2 }));
  }, 180_000);
  afterAll(async () => {
    await Promise.all([...loaded.values()].map((model) => model.dispose()));
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });
  const get = (precision: Precision): LoadedBlipModel => {
    const model = loaded.get(precision);
    if (!model) throw new Error(`${modelDir} is not loaded at ${precision} yet`);
    return model;
  };
  return {
    get pair() {
      return { fp32: get('fp32'), int8: get('int8') };
    },
  };
}

/**
 * Next-token logits `[ids.length - 1, vocab]` along `ids` (starting with the decoder's first token),
 * stepped one token at a time through the model's own decoder over `states` (image states for
 * captioning, question states for VQA): position t predicts `ids[t + 1]`.
 */
export async function pathLogits(runtime: BlipRuntime, states: ort.Tensor, ids: readonly number[]): Promise<Float32Array> {
  const { openDecoder } = await import('../../services/blip/runtime/captioning.js');
  const [first] = ids;
  if (first === undefined) throw new Error('an empty token path');
  const { decoder, release } = await openDecoder(runtime, states, { prompt: [first], beams: 1, maxNewTokens: ids.length, minNewTokens: 0, repetitionPenalty: 1 });
  try {
    const vocab = decoder.vocabSize;
    const logits = new Float32Array((ids.length - 1) * vocab);
    for (let t = 0; t + 1 < ids.length; t += 1) logits.set(await decoder.step([[ids[t] as number]]), t * vocab);
    return logits;
  } finally {
    release();
  }
}

/** Top-1 minus top-2 of the `vocab` logits at `position`. */
export function topMargin(logits: Float32Array, position: number, vocab: number): number {
  const row = logits.subarray(position * vocab, (position + 1) * vocab);
  let best = -Infinity;
  let second = -Infinity;
  for (const value of row) {
    if (value > best) {
      second = best;
      best = value;
    } else if (value > second) second = value;
  }
  return best - second;
}

export interface Departure {
  /** Generated positions where both paths still agreed and float32 led by more than DECISIVE_MARGIN. */
  readonly decisiveAgreed: number;
  /** The first generated position where int8 chose another token, or undefined when the paths are equal. */
  readonly position: number | undefined;
  /** float32's top-1 lead there (logits). */
  readonly margin: number | undefined;
}

/**
 * Where int8's generated ids first leave float32's, given float32's logits along its own path
 * (`pathLogits` of `fp32Ids`): greedy int8 may only leave float32 at a near-tie.
 */
export function firstDeparture(fp32Ids: readonly number[], int8Ids: readonly number[], fp32Logits: Float32Array, vocab: number): Departure {
  let decisiveAgreed = 0;
  for (let t = 0; t + 1 < fp32Ids.length; t += 1) {
    const margin = topMargin(fp32Logits, t, vocab);
    if (int8Ids[t + 1] !== fp32Ids[t + 1]) return { decisiveAgreed, position: t + 1, margin };
    if (margin > DECISIVE_MARGIN) decisiveAgreed += 1;
  }
  return { decisiveAgreed, position: undefined, margin: undefined };
}

export { compareLogits, DECISIVE_MARGIN };

/** Every preprocessed fixture image (`pixel_values/*.f32`), by file name; never empty. */
export function fixtureImages(): string[] {
  const images = readdirSync(fixturePath('pixel_values'))
    .filter((file) => file.endsWith('.f32'))
    .map((file) => file.slice(0, -'.f32'.length))
    .sort();
  if (images.length === 0) throw new Error(`no preprocessed images in ${fixturePath('pixel_values')}`);
  return images;
}

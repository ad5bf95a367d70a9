import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, expect } from 'vitest';
import { z } from 'zod';
import type { BlipCheckpoint, CheckpointWeights } from '../../services/blip/checkpoint/index.js';
import type { BlipUsageError, LoadedBlipModel } from '../../services/blip/index.js';
import type { GraphBuilder } from '../../services/blip/onnx/index.js';
import { fixturesDir as coreFixturesDir } from '../../services/core/config.js';

/** Locates the shared blip-tiny fixtures and reads their reference tensors and outputs. */

export { repoRoot } from '../../services/core/paths.js';

export const fixturesDir = coreFixturesDir();

export const fixturePath = (...parts: string[]): string => path.join(fixturesDir, ...parts);

export const captioningModelDir = fixturePath('blip-tiny-captioning');

/** Reads a raw little-endian float32 file of the fixtures. */
export function readF32(relativePath: string): Float32Array {
  const bytes = readFileSync(fixturePath(relativePath));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Reference pixel values `[1, 3, 384, 384]` of one fixture image (by its file name). */
export function referencePixels(image: string): { pixelValues: Float32Array; height: number; width: number } {
  return { pixelValues: readF32(`pixel_values/${image}.f32`), height: 384, width: 384 };
}

const idsSchema = z.array(z.number().int());
const captioningCaseSchema = z.object({
  image: z.string(),
  vision_last_hidden_state: z.string(),
  greedy: z.object({ args: z.object({ max_new_tokens: z.number() }), output_ids: idsSchema, text: z.string() }),
  beam3: z.object({ args: z.object({ max_new_tokens: z.number(), num_beams: z.number() }), output_ids: idsSchema }),
  prompt: z.object({ text: z.string(), processor_input_ids: idsSchema, args: z.object({ max_new_tokens: z.number() }), output_ids: idsSchema }),
  repetition_penalty_1_5: z.object({
    args: z.object({ max_new_tokens: z.number(), repetition_penalty: z.number() }),
    output_ids: idsSchema,
  }),
  teacher_forced: z.object({ input_ids: idsSchema, logits: z.string() }),
});
const captioningReferenceSchema = z.object({
  cases: z.array(captioningCaseSchema).min(1),
  batch: z.object({ images: z.array(z.string()).min(1), output_ids: z.array(idsSchema).min(1) }),
});
export type CaptioningCase = z.infer<typeof captioningCaseSchema>;

export function captioningReference(): z.infer<typeof captioningReferenceSchema> {
  return captioningReferenceSchema.parse(JSON.parse(readFileSync(fixturePath('blip-tiny-captioning/reference.json'), 'utf8')));
}

/** Largest absolute element-wise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

// Model and graph set-up shared by the runtime tests. The BLIP runtime and ONNX Runtime are imported
// when first used, so tests that only need fixture paths and references do not load them.

/** A scratch folder `<prefix>XXXXXX` in the system temp folder. */
export function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Loads a fixture checkpoint with `loadBlip` (one thread, graph cache in a scratch folder) before the
 * file's tests, and disposes of it and removes the folder after them. Read `.model` inside tests.
 */
export function fixtureModel(modelDir: string, scratchPrefix: string): { readonly model: LoadedBlipModel } {
  let scratch: string | undefined;
  let loaded: LoadedBlipModel | undefined;
  beforeAll(async () => {
    const { loadBlip } = await import('../../services/blip/index.js');
    scratch = await scratchDir(scratchPrefix);
    loaded = await loadBlip({ model: modelDir, cacheDir: scratch, threads: 1 });
  });
  afterAll(async () => {
    await loaded?.dispose();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });
  return {
    get model(): LoadedBlipModel {
      if (!loaded) throw new Error(`${modelDir} is not loaded yet`);
      return loaded;
    },
  };
}

/** Expects `run` to reject with a `BlipUsageError` and returns it. */
export async function usageError(run: () => Promise<unknown>): Promise<BlipUsageError> {
  const { BlipUsageError } = await import('../../services/blip/index.js');
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BlipUsageError);
  return error as BlipUsageError;
}

export interface GraphSessions {
  readonly checkpoint: BlipCheckpoint;
  /** The checkpoint's weights at float32 precision: the context the graph builders take. */
  fp32Context(): Promise<{ weights: CheckpointWeights; precision: 'fp32' }>;
  /** Writes `graph` into the scratch folder and opens an ONNX Runtime session on it (released after the file's tests). */
  session(graph: GraphBuilder): Promise<InferenceSession>;
}

/**
 * Opens a fixture checkpoint for graph-level tests, with a scratch folder for its cache and graph
 * files; after the file's tests every session opened through it is released and the folder removed.
 */
export async function graphSessions(modelDir: string, scratchPrefix: string): Promise<GraphSessions> {
  const { openCheckpoint } = await import('../../services/blip/checkpoint/index.js');
  const scratch = await scratchDir(scratchPrefix);
  const checkpoint = await openCheckpoint(modelDir, { cacheDir: scratch });
  const opened: InferenceSession[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.release()));
    await rm(scratch, { recursive: true, force: true });
  });
  return {
    checkpoint,
    fp32Context: async () => ({ weights: await checkpoint.loadWeights(), precision: 'fp32' }),
    async session(graph) {
      const [{ writeModel }, ort] = await Promise.all([import('../../services/blip/onnx/index.js'), import('onnxruntime-node')]);
      // one file per session: two graphs may share a name (the decoder step over states or keys/values)
      const file = path.join(scratch, `${graph.name}-${opened.length}.onnx`);
      await writeModel(graph, file);
      const session = await ort.InferenceSession.create(file);
      opened.push(session);
      return session;
    },
  };
}

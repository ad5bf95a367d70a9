import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Locates the shared blip-tiny fixtures and reads their reference tensors and outputs. */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const fixturesDir = process.env.BLIPLINE_FIXTURES ?? path.resolve(repoRoot, '../shared/fixtures/blip-tiny');

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
  cases: z.array(captioningCaseSchema),
  batch: z.object({ images: z.array(z.string()), output_ids: z.array(idsSchema) }),
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

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../services/blip/checkpoint/index.js';
import { BlipRuntime } from '../../services/blip/runtime/index.js';
import { type CaptionRequest, encodeImages, generateCaptions, openDecoder } from '../../services/blip/runtime/captioning.js';
import { captioningModelDir, captioningReference, maxAbsDiff, referencePixels } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-generation-'));
let runtime: BlipRuntime;
const reference = captioningReference();
const DEC = 30522;

beforeAll(async () => {
  const checkpoint = await openCheckpoint(captioningModelDir, { cacheDir: scratch });
  runtime = await BlipRuntime.load(checkpoint, { cacheDir: scratch, precision: 'fp32', threads: 1 });
});
afterAll(async () => {
  await runtime.dispose();
  await rm(scratch, { recursive: true, force: true });
});

const request = (overrides: Partial<CaptionRequest>): CaptionRequest => ({
  prompt: [DEC],
  beams: 1,
  maxNewTokens: 20,
  minNewTokens: 0,
  repetitionPenalty: 1,
  ...overrides,
});

async function caption(image: string, overrides: Partial<CaptionRequest>): Promise<number[]> {
  const { tokenIds } = await generateCaptions(runtime, [referencePixels(image).pixelValues], request(overrides));
  return tokenIds[0] ?? [];
}

describe('generation matches Hugging Face generate token for token', () => {
  for (const testCase of reference.cases) {
    describe(testCase.image, () => {
      it('greedy', async () => {
        expect(await caption(testCase.image, { maxNewTokens: testCase.greedy.args.max_new_tokens })).toEqual(testCase.greedy.output_ids);
      });

      it('3-beam search', async () => {
        const { num_beams: beams, max_new_tokens: maxNewTokens } = testCase.beam3.args;
        expect(await caption(testCase.image, { beams, maxNewTokens })).toEqual(testCase.beam3.output_ids);
      });

      it('prompt: [CLS] replaced by [DEC], final [SEP] dropped', async () => {
        const prompt = [DEC, ...testCase.prompt.processor_input_ids.slice(1, -1)];
        expect(await caption(testCase.image, { prompt, maxNewTokens: testCase.prompt.args.max_new_tokens })).toEqual(testCase.prompt.output_ids);
      });

      it('repetition penalty 1.5', async () => {
        const { max_new_tokens: maxNewTokens, repetition_penalty: repetitionPenalty } = testCase.repetition_penalty_1_5.args;
        expect(await caption(testCase.image, { maxNewTokens, repetitionPenalty })).toEqual(testCase.repetition_penalty_1_5.output_ids);
      });
    });
  }

  it('a two-image batch gives the single-image results', async () => {
    const images = reference.batch.images.map((image) => referencePixels(image).pixelValues);
    const { tokenIds } = await generateCaptions(runtime, images, request({}));
    expect(tokenIds).toEqual(reference.batch.output_ids);
    const beams = await generateCaptions(runtime, images, request({ beams: 3, maxNewTokens: 12 }));
    expect(beams.tokenIds).toEqual(reference.batch.images.map((image) => reference.cases.find((c) => c.image === image)?.beam3.output_ids));
  });

  it('splits requests larger than one decoder batch without changing any result', async () => {
    const count = Math.floor(runtime.decoderRows / 3) + 2;
    const cases = Array.from({ length: count }, (_, i) => reference.cases[i % reference.cases.length] as (typeof reference.cases)[number]);
    const { tokenIds } = await generateCaptions(
      runtime,
      cases.map((c) => referencePixels(c.image).pixelValues),
      request({ beams: 3, maxNewTokens: 12 }),
    );
    expect(tokenIds).toEqual(cases.map((c) => c.beam3.output_ids));
  });
});

describe('decoder state', () => {
  const images = reference.cases.map((c) => referencePixels(c.image).pixelValues);
  const greedyPath = (index: number): number[] => reference.cases[index]?.greedy.output_ids ?? [];

  /** Logits of each row after feeding `steps` tokens of its reference greedy path, with `reorder` applied after the first few. */
  async function logitsAfter(rows: number[], sources: number[] | undefined, steps: number): Promise<Float32Array> {
    const states = await encodeImages(runtime, rows.map((row) => images[row] as Float32Array));
    const { decoder } = await openDecoder(runtime, states, request({}));
    let current = rows;
    let logits: Float32Array = new Float32Array(0);
    for (let step = 0; step < steps; step += 1) {
      if (step === 3 && sources) {
        decoder.reorder(sources);
        current = sources.map((source) => current[source] as number);
      }
      logits = await decoder.step(current.map((row) => [greedyPath(row)[step] as number]));
    }
    return logits;
  }

  it('drops rows and reorders them in place without changing any remaining row', async () => {
    const vocab = runtime.config.text_config.vocab_size;
    const alone = await Promise.all([0, 1, 2].map((row) => logitsAfter([row], undefined, 6)));
    const dropped = await logitsAfter([0, 1, 2], [0, 2], 6);
    expect(maxAbsDiff(dropped.subarray(0, vocab), alone[0] as Float32Array)).toBeLessThan(1e-4);
    expect(maxAbsDiff(dropped.subarray(vocab), alone[2] as Float32Array)).toBeLessThan(1e-4);
    // A beam-search style reorder: rows change image, one row is duplicated.
    const shuffled = await logitsAfter([0, 1, 2], [2, 2, 0], 6);
    expect(maxAbsDiff(shuffled.subarray(0, vocab), alone[2] as Float32Array)).toBeLessThan(1e-4);
    expect(maxAbsDiff(shuffled.subarray(vocab, 2 * vocab), alone[2] as Float32Array)).toBeLessThan(1e-4);
    expect(maxAbsDiff(shuffled.subarray(2 * vocab), alone[0] as Float32Array)).toBeLessThan(1e-4);
  });
});

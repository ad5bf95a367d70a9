import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../services/blip/checkpoint/index.js';
import { BlipRuntime } from '../../services/blip/runtime/index.js';
import { type CaptionRequest, generateCaptions, MAX_DECODER_ROWS } from '../../services/blip/runtime/captioning.js';
import { captioningModelDir, captioningReference, referencePixels } from '../support/fixtures.js';

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
    const count = Math.floor(MAX_DECODER_ROWS / 3) + 2;
    const cases = Array.from({ length: count }, (_, i) => reference.cases[i % reference.cases.length] as (typeof reference.cases)[number]);
    const { tokenIds } = await generateCaptions(
      runtime,
      cases.map((c) => referencePixels(c.image).pixelValues),
      request({ beams: 3, maxNewTokens: 12 }),
    );
    expect(tokenIds).toEqual(cases.map((c) => c.beam3.output_ids));
  });
});

import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedBlipModel, loadBlip } from '../../services/blip/index.js';
import { captioningModelDir, captioningReference, fixturePath, referencePixels } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-model-'));
const reference = captioningReference();
let model: LoadedBlipModel;

beforeAll(async () => {
  model = await loadBlip({ model: captioningModelDir, cacheDir: scratch, threads: 1 });
});
afterAll(async () => {
  await model.dispose();
  await rm(scratch, { recursive: true, force: true });
});

describe('loadBlip on the captioning fixture', () => {
  it('describes the checkpoint', () => {
    expect(model.kind).toBe('captioning');
    expect(model.name).toBe(captioningModelDir);
    expect(model.checkpointSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(model.startup.cacheHit).toBe(false);
  });

  it('captions reference pixel values exactly as the reference, with text and timings', async () => {
    const [testCase] = reference.cases;
    if (!testCase) throw new Error('no case');
    const [result] = await model.caption([referencePixels(testCase.image)], { maxNewTokens: 20 });
    expect(result?.tokenIds).toEqual(testCase.greedy.output_ids);
    expect(result?.text).toBe(testCase.greedy.text);
    expect(Object.keys(result?.timingsMs ?? {})).toEqual(expect.arrayContaining(['preprocess', 'vision', 'decode', 'total']));
  });

  it('tokenizes a text prompt: [DEC] + prompt ids without [CLS]/[SEP]', async () => {
    const testCase = reference.cases[1];
    if (!testCase) throw new Error('no case');
    const [result] = await model.caption([referencePixels(testCase.image)], { prompt: testCase.prompt.text, maxNewTokens: 15 });
    expect(result?.tokenIds).toEqual(testCase.prompt.output_ids);
    expect(result?.text.startsWith('a picture of')).toBe(true);
  });

  it('captions encoded image files, and a batch equals the single results', async () => {
    const bytes = await Promise.all(reference.batch.images.map((image) => readFile(fixturePath('images', image))));
    const batch = await model.caption(bytes.map((b) => new Uint8Array(b)), { maxNewTokens: 20 });
    expect(batch.map((r) => r.tokenIds)).toEqual(reference.batch.output_ids);
    const single = await model.caption([new Uint8Array(bytes[1] as Buffer)], { maxNewTokens: 20 });
    expect(single[0]?.tokenIds).toEqual(reference.batch.output_ids[1]);
  });

  it('rejects what it cannot do with coded errors', async () => {
    const pixels = referencePixels('photo_chelsea.jpg');
    await expect(model.ask([pixels], 'what?')).rejects.toMatchObject({ code: 'wrong_model_kind' });
    await expect(model.score(pixels, ['a cat'])).rejects.toMatchObject({ code: 'wrong_model_kind' });
    await expect(model.caption([pixels], { beams: 0 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(model.caption([pixels], { maxNewTokens: 600 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(model.caption([{ pixelValues: new Float32Array(12), height: 2, width: 2 }])).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(model.caption([new TextEncoder().encode('not an image at all')])).rejects.toMatchObject({ code: 'not_an_image' });
    expect(await model.caption([])).toEqual([]);
  });

  it('reuses the compiled graphs on the next load', async () => {
    const again = await loadBlip({ model: captioningModelDir, cacheDir: scratch, threads: 1 });
    expect(again.startup).toMatchObject({ cacheHit: true, graphDir: model.startup.graphDir });
    await again.dispose();
  });

  it('refuses a folder that is not a BLIP checkpoint', async () => {
    await expect(loadBlip({ model: scratch, cacheDir: scratch })).rejects.toMatchObject({ code: 'not_a_checkpoint' });
    await expect(loadBlip({ model: path.join(scratch, 'missing'), cacheDir: scratch })).rejects.toMatchObject({ code: 'invalid_model' });
  });
});

import { describe, expect, it } from 'vitest';
import { matchProbability } from '../../services/blip/tasks/matching.js';
import { maxAbsDiff, fixtureModel, referencePixels, usageError } from '../support/fixtures.js';
import { retrievalModelDir, retrievalReference } from '../support/task-fixtures.js';

// BlipModel.score on blip-tiny-retrieval with the reference pixel values: ITM logits and ITC cosine
// within 1e-3 of Hugging Face `BlipForImageTextRetrieval` (use_itm_head True / False) for every case.

const loaded = fixtureModel(retrievalModelDir, 'blipline-matching-');

describe('BlipModel.score (blip-tiny-retrieval)', () => {
  const cases = retrievalReference();
  const images = [...new Set(cases.map((c) => c.image))];

  it('is a retrieval model', () => {
    expect(loaded.model.kind).toBe('retrieval');
  });

  for (const image of images) {
    it(`ITM logits and ITC cosine of every text within 1e-3, texts scored together (${image})`, async () => {
      const expected = cases.filter((c) => c.image === image);
      const results = await loaded.model.score(
        referencePixels(image),
        expected.map((c) => c.text),
      );
      expect(results.map((r) => r.text)).toEqual(expected.map((c) => c.text));
      results.forEach((result, i) => {
        const reference = expected[i]!;
        expect(maxAbsDiff(result.itmLogits, reference.itm_logits)).toBeLessThan(1e-3);
        expect(Math.abs(result.itcCosine - reference.itc_cosine[0])).toBeLessThan(1e-3);
        expect(result.itmProbability).toBeCloseTo(matchProbability(reference.itm_logits), 3);
      });
    });
  }

  it('scores each text alone as in a batch', async () => {
    const testCase = cases[cases.length - 1]!;
    const [alone] = await loaded.model.score(referencePixels(testCase.image), [testCase.text]);
    expect(maxAbsDiff(alone!.itmLogits, testCase.itm_logits)).toBeLessThan(1e-3);
    expect(Math.abs(alone!.itcCosine - testCase.itc_cosine[0])).toBeLessThan(1e-3);
  });

  it("scores an over-long text as its truncation to the model's 512 tokens", async () => {
    const sentence = 'a cat on a sofa'; // 5 word pieces; 102 of them fill [CLS] + 510 + [SEP]
    const image = referencePixels(images[0]!);
    const [long, kept] = await loaded.model.score(image, [
      Array.from({ length: 130 }, () => sentence).join(' '),
      Array.from({ length: 102 }, () => sentence).join(' '),
    ]);
    expect(long?.truncated).toBe(true);
    expect(kept?.truncated).toBe(false);
    expect(maxAbsDiff(long!.itmLogits, kept!.itmLogits)).toBeLessThan(1e-5);
    expect(Math.abs(long!.itcCosine - kept!.itcCosine)).toBeLessThan(1e-5);
  });

  it('refuses no texts, and wrong kinds of work', async () => {
    const image = referencePixels(images[0]!);
    expect((await usageError(() => loaded.model.score(image, []))).code).toBe('invalid_input');
    const ask = await usageError(() => loaded.model.ask([image], 'what is it?'));
    expect(ask.code).toBe('wrong_model_kind');
    expect(ask.message).toContain('is a retrieval checkpoint');
    expect((await usageError(() => loaded.model.caption([image]))).code).toBe('wrong_model_kind');
  });
});

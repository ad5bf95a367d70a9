import { describe, expect, it } from 'vitest';
import { fixtureModel, referencePixels, usageError } from '../support/fixtures.js';
import { vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// BlipModel.ask on blip-tiny-vqa with the reference pixel values: greedy and 3-beam answer ids
// identical to Hugging Face `BlipForQuestionAnswering.generate` for every case.

const loaded = fixtureModel(vqaModelDir, 'blipline-vqa-');

describe('BlipModel.ask (blip-tiny-vqa)', () => {
  it('is a vqa model', () => {
    expect(loaded.model.kind).toBe('vqa');
  });

  for (const testCase of vqaReference()) {
    const label = `${testCase.image}: ${testCase.question}`;

    it(`greedy answer ids equal the reference (${label})`, async () => {
      const [result] = await loaded.model.ask([referencePixels(testCase.image)], testCase.question, {
        maxNewTokens: testCase.greedy.args.max_new_tokens,
      });
      expect(result?.tokenIds).toEqual(testCase.greedy.output_ids);
      expect(result?.text).toBe(testCase.greedy.text);
      expect(result?.timingsMs).toMatchObject({ vision: expect.any(Number), question: expect.any(Number), decode: expect.any(Number) });
    });

    it(`3-beam answer ids equal the reference (${label})`, async () => {
      const [result] = await loaded.model.ask([referencePixels(testCase.image)], testCase.question, {
        beams: testCase.beam3.args.num_beams,
        maxNewTokens: testCase.beam3.args.max_new_tokens,
      });
      expect(result?.tokenIds).toEqual(testCase.beam3.output_ids);
    });
  }

  it('answers a batch of images as it answers each alone, greedy and with beams', async () => {
    const cases = vqaReference().filter((c) => c.question === 'How many dogs are there?');
    expect(cases.length).toBeGreaterThan(1);
    const images = cases.map((c) => referencePixels(c.image));
    const greedy = await loaded.model.ask(images, cases[0]!.question, { maxNewTokens: 10 });
    expect(greedy.map((r) => r.tokenIds)).toEqual(cases.map((c) => c.greedy.output_ids));
    const beams = await loaded.model.ask(images, cases[0]!.question, { maxNewTokens: 10, beams: 3 });
    expect(beams.map((r) => r.tokenIds)).toEqual(cases.map((c) => c.beam3.output_ids));
  });

  it('splits many beams over several images into decoder groups without changing any answer', async () => {
    const images = ['photo_chelsea.jpg', 'gradient_640x480.png'].map((image) => referencePixels(image));
    const options = { beams: 16, maxNewTokens: 3 }; // 16 rows per image: one image per decoder group
    const together = await loaded.model.ask(images, 'what is the person doing?', options);
    const alone = await Promise.all(images.map(async (image) => (await loaded.model.ask([image], 'what is the person doing?', options))[0]));
    expect(together.map((r) => r.tokenIds)).toEqual(alone.map((r) => r?.tokenIds));
  });

  it("answers an over-long question as its truncation to the model's 512 tokens", async () => {
    const sentence = 'what is the person doing?'; // 6 word pieces
    const long = Array.from({ length: 120 }, () => sentence).join(' ');
    const kept = Array.from({ length: 85 }, () => sentence).join(' '); // [CLS] + 510 + [SEP]
    const image = [referencePixels('photo_chelsea.jpg')];
    const [fromLong] = await loaded.model.ask(image, long, { maxNewTokens: 4 });
    const [fromKept] = await loaded.model.ask(image, kept, { maxNewTokens: 4 });
    expect(fromLong?.tokenIds).toHaveLength(5);
    expect(fromLong?.tokenIds).toEqual(fromKept?.tokenIds);
    expect(fromLong?.truncated).toBe(true);
    expect(fromKept?.truncated).toBeUndefined();
  });

  it('refuses an empty question and bad options with usage errors, before touching images', async () => {
    const image = [referencePixels('photo_chelsea.jpg')];
    const empty = await usageError(() => loaded.model.ask(image, '  '));
    expect(empty.code).toBe('invalid_input');
    expect(empty.message).toBe('the question is empty');
    const notAnImage = [new Uint8Array([1, 2, 3])];
    expect((await usageError(() => loaded.model.ask(notAnImage, ''))).code).toBe('invalid_input');
    expect((await usageError(() => loaded.model.ask(image, 'q', { beams: 0 }))).code).toBe('invalid_option');
    expect((await usageError(() => loaded.model.ask(image, 'q', { maxNewTokens: 1000 }))).code).toBe('invalid_option');
  });

  it('refuses to caption or score: this checkpoint has the question-answering head', async () => {
    const image = referencePixels('photo_chelsea.jpg');
    const caption = await usageError(() => loaded.model.caption([image]));
    expect(caption.code).toBe('wrong_model_kind');
    expect(caption.message).toContain('is a vqa checkpoint');
    expect((await usageError(() => loaded.model.score(image, ['a cat']))).code).toBe('wrong_model_kind');
  });
});

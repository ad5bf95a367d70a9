import type * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../services/bench/fidelity.js';
import type { LoadedBlipModel, ScoreResult } from '../../services/blip/index.js';
import { encodeImages } from '../../services/blip/runtime/captioning.js';
import { encodeQuestionStates } from '../../services/blip/tasks/vqa.js';
import { captioningModelDir, captioningReference, referencePixels } from '../support/fixtures.js';
import { compareLogits, DECISIVE_MARGIN, firstDeparture, fixtureImages, loadPrecisionPair, pathLogits } from '../support/precision.js';
import { retrievalModelDir, retrievalReference, vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// int8, the precision the workers deploy, judged against float32 through `loadBlip` itself: the
// sessions of the loaded models, and what `caption`, `ask` and `score` return. Floors are the
// README's (int8 fidelity: image-state cosine > 0.999, KL mean < 2e-3, top-1 >= 0.85, agreement
// wherever float32 leads by more than 0.1 logit); the tripwires below them make sure int8 really ran
// (a float32 fallback gives KL 0 and identical states).
// Measured on the fixtures (9 images x 20 tokens; 4 questions x 10 tokens): captioning state cosine
// >= 0.99991, KL mean 3.4e-4 / max 1.5e-3, top-1 0.956 of 180, 121 decisive positions all agreeing;
// VQA state cosine >= 0.99974, KL 5.3e-4 / 1.3e-3, top-1 0.95 of 40, 25 decisive; states differ
// from float32 by 0.04-0.14 at most.

interface Measures {
  /** Smallest cosine of whole image states, and of single tokens. */
  statesCosine: number;
  tokenCosine: number;
  /** Largest absolute difference of the states: 0 would mean int8 never ran. */
  statesMaxDiff: number;
}

function compareStates(fp32: ort.Tensor, int8: ort.Tensor): Measures {
  const a = fp32.data as Float32Array;
  const b = int8.data as Float32Array;
  const hidden = fp32.dims.at(-1) ?? 1;
  let tokenCosine = 1;
  let statesMaxDiff = 0;
  for (let t = 0; t < a.length / hidden; t += 1) tokenCosine = Math.min(tokenCosine, cosine(a, b, t * hidden, (t + 1) * hidden));
  for (let i = 0; i < a.length; i += 1) statesMaxDiff = Math.max(statesMaxDiff, Math.abs((a[i] as number) - (b[i] as number)));
  return { statesCosine: cosine(a, b), tokenCosine, statesMaxDiff };
}

type Logits = ReturnType<typeof compareLogits>;

/** Position-weighted mean KL and top-1 agreement, the worst KL and the decisive positions of several paths. */
function pooled(paths: readonly Logits[]) {
  const positions = paths.reduce((sum, p) => sum + p.positions, 0);
  const decisive = paths.reduce((sum, p) => sum + p.decisivePositions, 0);
  return {
    positions,
    klMean: paths.reduce((sum, p) => sum + p.klMean * p.positions, 0) / positions,
    klMax: Math.max(...paths.map((p) => p.klMax)),
    top1Agreement: paths.reduce((sum, p) => sum + p.top1Agreement * p.positions, 0) / positions,
    decisive,
    decisiveAgreement: paths.reduce((sum, p) => sum + p.decisiveAgreement * p.decisivePositions, 0) / decisive,
  };
}

async function imageStates(model: LoadedBlipModel, image: string): Promise<ort.Tensor> {
  return encodeImages(model.runtime, [referencePixels(image).pixelValues]);
}

function expectFidelity(states: readonly Measures[], paths: readonly Logits[]): void {
  expect(states.length).toBeGreaterThan(0);
  expect(paths.length).toBeGreaterThan(0);
  for (const s of states) {
    expect(s.statesCosine).toBeGreaterThan(0.999);
    expect(s.tokenCosine).toBeGreaterThan(0.995);
    expect(s.statesMaxDiff).toBeGreaterThan(1e-4);
  }
  const all = pooled(paths);
  expect(all.klMean).toBeLessThan(2e-3);
  expect(all.klMax).toBeLessThan(1e-2);
  expect(all.klMean).toBeGreaterThan(1e-6);
  expect(all.top1Agreement).toBeGreaterThanOrEqual(0.85);
  expect(all.decisive).toBeGreaterThan(0);
  expect(all.decisiveAgreement).toBe(1);
}

describe('int8 captioning through loadBlip (blip-tiny-captioning)', () => {
  const loaded = loadPrecisionPair(captioningModelDir, 'blipline-int8-captioning-');
  const images = fixtureImages();
  const runs: { image: string; states: Measures; logits: Logits; fp32Ids: number[]; int8Ids: number[]; fp32Logits: Float32Array }[] = [];

  beforeAll(async () => {
    const { fp32, int8 } = loaded.pair;
    const pixels = images.map((image) => referencePixels(image));
    const [fp32Captions, int8Captions] = await Promise.all([fp32.caption(pixels, { maxNewTokens: 20 }), int8.caption(pixels, { maxNewTokens: 20 })]);
    for (const [i, image] of images.entries()) {
      const fp32Ids = fp32Captions[i]?.tokenIds ?? [];
      const [fp32States, int8States] = [await imageStates(fp32, image), await imageStates(int8, image)];
      const fp32Logits = await pathLogits(fp32.runtime, fp32States, fp32Ids);
      const int8Logits = await pathLogits(int8.runtime, int8States, fp32Ids);
      const vocab = fp32.runtime.config.text_config.vocab_size;
      runs.push({
        image,
        states: compareStates(fp32States, int8States),
        logits: compareLogits(fp32Logits, int8Logits, vocab),
        fp32Ids,
        int8Ids: int8Captions[i]?.tokenIds ?? [],
        fp32Logits,
      });
    }
  }, 240_000);

  it('runs the int8 graphs loadBlip compiled, and float32 is the reference', () => {
    const { fp32, int8 } = loaded.pair;
    expect(int8.startup.graphDir).toMatch(/captioning-int8-/);
    expect(fp32.startup.graphDir).toMatch(/captioning-fp32-/);
    const reference = captioningReference().cases;
    expect(reference.length).toBeGreaterThan(0);
    for (const c of reference) expect(runs.find((r) => r.image === c.image)?.fp32Ids, c.image).toEqual(c.greedy.output_ids);
  });

  it('keeps image states and next-token distributions within the README floors, and differs from float32', () => {
    expect(runs).toHaveLength(images.length);
    expectFidelity(
      runs.map((r) => r.states),
      runs.map((r) => r.logits),
    );
  });

  it('captions as float32 does until float32 itself is near a tie', () => {
    const vocab = loaded.pair.fp32.runtime.config.text_config.vocab_size;
    let decisive = 0;
    for (const run of runs) {
      expect(run.int8Ids[0], run.image).toBe(30522);
      const departure = firstDeparture(run.fp32Ids, run.int8Ids, run.fp32Logits, vocab);
      if (departure.position !== undefined) expect(departure.margin, `${run.image} at ${departure.position}`).toBeLessThanOrEqual(DECISIVE_MARGIN);
      decisive += departure.decisiveAgreed;
    }
    expect(decisive).toBeGreaterThan(0);
  });
});

describe('int8 question answering through loadBlip (blip-tiny-vqa)', () => {
  const loaded = loadPrecisionPair(vqaModelDir, 'blipline-int8-vqa-');
  const cases = vqaReference();
  const runs: { label: string; image: Measures; question: Measures; logits: Logits; departure: ReturnType<typeof firstDeparture> }[] = [];

  beforeAll(async () => {
    const { fp32, int8 } = loaded.pair;
    const text = fp32.runtime.config.text_config;
    for (const c of cases) {
      const pixels = referencePixels(c.image);
      const [fp32Answer, int8Answer] = [(await fp32.ask([pixels], c.question, { maxNewTokens: 10 }))[0], (await int8.ask([pixels], c.question, { maxNewTokens: 10 }))[0]];
      expect(fp32Answer?.tokenIds).toEqual(c.greedy.output_ids);
      const fp32Ids = fp32Answer?.tokenIds ?? [];
      const [fp32Image, int8Image] = [await imageStates(fp32, c.image), await imageStates(int8, c.image)];
      const fp32Question = await encodeQuestionStates(fp32.runtime, text.pad_token_id, c.question_input_ids, fp32Image);
      const int8Question = await encodeQuestionStates(int8.runtime, text.pad_token_id, c.question_input_ids, int8Image);
      const fp32Logits = await pathLogits(fp32.runtime, fp32Question, fp32Ids);
      const int8Logits = await pathLogits(int8.runtime, int8Question, fp32Ids);
      runs.push({
        label: `${c.image}: ${c.question}`,
        image: compareStates(fp32Image, int8Image),
        question: compareStates(fp32Question, int8Question),
        logits: compareLogits(fp32Logits, int8Logits, text.vocab_size),
        departure: firstDeparture(fp32Ids, int8Answer?.tokenIds ?? [], fp32Logits, text.vocab_size),
      });
    }
  }, 240_000);

  it('keeps image and question states and answer distributions within the floors, and differs from float32', () => {
    expect(loaded.pair.int8.startup.graphDir).toMatch(/vqa-int8-/);
    expect(runs).toHaveLength(cases.length);
    expectFidelity(
      runs.flatMap((r) => [r.image, r.question]),
      runs.map((r) => r.logits),
    );
  });

  it('answers as float32 does until float32 itself is near a tie', () => {
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      if (run.departure.position !== undefined) expect(run.departure.margin, `${run.label} at ${run.departure.position}`).toBeLessThanOrEqual(DECISIVE_MARGIN);
    }
    expect(runs.reduce((sum, r) => sum + r.departure.decisiveAgreed, 0)).toBeGreaterThan(0);
  });
});

describe('int8 image-text scoring through loadBlip (blip-tiny-retrieval)', () => {
  const loaded = loadPrecisionPair(retrievalModelDir, 'blipline-int8-retrieval-');
  const reference = retrievalReference();
  const images = [...new Set(reference.map((c) => c.image))];
  const texts = [...new Set(reference.map((c) => c.text))];

  it('scores every text as float32 does, within tolerance, and not identically', async () => {
    const { fp32, int8 } = loaded.pair;
    expect(int8.startup.graphDir).toMatch(/retrieval-int8-/);
    expect(images.length).toBeGreaterThan(0);
    expect(texts.length).toBeGreaterThan(1);
    let itmMaxDiff = 0;
    let itcMaxDiff = 0;
    const states: Measures[] = [];
    for (const image of images) {
      const pixels = referencePixels(image);
      const [a, b] = [await fp32.score(pixels, texts), await int8.score(pixels, texts)];
      expect(a).toHaveLength(texts.length);
      expect(b).toHaveLength(texts.length);
      a.forEach((s, i) => {
        const q = b[i];
        if (!q) throw new Error(`no int8 score for ${s.text}`);
        itmMaxDiff = Math.max(itmMaxDiff, ...s.itmLogits.map((logit, k) => Math.abs(logit - (q.itmLogits[k] as number))));
        itcMaxDiff = Math.max(itcMaxDiff, Math.abs(s.itcCosine - q.itcCosine));
      });
      states.push(compareStates(await imageStates(fp32, image), await imageStates(int8, image)));
    }
    for (const s of states) {
      expect(s.statesCosine).toBeGreaterThan(0.999);
      expect(s.statesMaxDiff).toBeGreaterThan(1e-4);
    }
    // measured on the fixture: 0.066 and 0.016
    expect(itmMaxDiff).toBeLessThan(0.15);
    expect(itcMaxDiff).toBeLessThan(0.04);
    expect(itmMaxDiff).toBeGreaterThan(1e-6);
    expect(itcMaxDiff).toBeGreaterThan(1e-6);
  });

  it('ranks texts as float32 does wherever float32 ranks them decisively', async () => {
    const { fp32, int8 } = loaded.pair;
    // the match log-odds (ITM) and the contrastive cosine (ITC), each with the lead that makes float32 decisive
    const measures = [
      { name: 'itm', of: (s: ScoreResult) => s.itmLogits[1] - s.itmLogits[0], decisiveLead: DECISIVE_MARGIN },
      { name: 'itc', of: (s: ScoreResult) => s.itcCosine, decisiveLead: 0.02 },
    ];
    let decisive = 0;
    for (const image of images) {
      const pixels = referencePixels(image);
      const [a, b] = [await fp32.score(pixels, texts), await int8.score(pixels, texts)];
      for (const measure of measures) {
        const [best, second] = a.map((s, i) => ({ value: measure.of(s), i })).sort((x, y) => y.value - x.value);
        if (!best || !second || best.value - second.value <= measure.decisiveLead) continue;
        decisive += 1;
        const int8Values = b.map(measure.of);
        expect(int8Values.indexOf(Math.max(...int8Values)), `${image} ${measure.name}`).toBe(best.i);
      }
    }
    expect(decisive).toBeGreaterThan(0);
  });
});

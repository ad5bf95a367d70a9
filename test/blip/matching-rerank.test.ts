import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipUsageError, type LoadedBlipModel, loadBlip, rerankCandidates } from '../../services/blip/index.js';
import { captioningModelDir, captioningReference, referencePixels } from '../support/fixtures.js';
import { retrievalModelDir } from '../support/task-fixtures.js';

// Caption re-ranking on the tiny fixtures: beam candidates of the captioning checkpoint
// (num_return_sequences semantics), ordered by the retrieval checkpoint's ITM match probability.

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-rerank-'));
let captioner: LoadedBlipModel;
let matcher: LoadedBlipModel;

beforeAll(async () => {
  [captioner, matcher] = await Promise.all([
    loadBlip({ model: captioningModelDir, cacheDir: scratch, threads: 1 }),
    loadBlip({ model: retrievalModelDir, cacheDir: scratch, threads: 1 }),
  ]);
});
afterAll(async () => {
  await Promise.all([captioner.dispose(), matcher.dispose()]);
  await rm(scratch, { recursive: true, force: true });
});

describe('caption candidates and re-ranking', () => {
  const cases = captioningReference().cases;

  it('returns the beams best first; the first is the 3-beam caption of the reference', async () => {
    const images = cases.map((c) => referencePixels(c.image));
    const results = await captioner.caption(images, { candidates: 3, maxNewTokens: cases[0]!.beam3.args.max_new_tokens });
    results.forEach((result, i) => {
      const candidates = result.candidates ?? [];
      expect(candidates).toHaveLength(3);
      expect(result.tokenIds).toEqual(cases[i]!.beam3.output_ids);
      expect(candidates[0]?.tokenIds).toEqual(result.tokenIds);
      expect(candidates[0]?.text).toBe(result.text);
      const scores = candidates.map((c) => c.beamScore);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      expect(new Set(candidates.map((c) => c.tokenIds.join(','))).size).toBe(3);
    });
  });

  it('orders the candidates by the ITM scores of the matching model computed separately', async () => {
    const image = referencePixels('photo_chelsea.jpg');
    const [result] = await captioner.caption([image], { candidates: 4, beams: 5, maxNewTokens: 12 });
    const candidates = result?.candidates ?? [];
    expect(candidates).toHaveLength(4);

    const ranked = await rerankCandidates(matcher, image, candidates);
    const separately = await matcher.score(
      image,
      candidates.map((c) => c.text),
    );
    const expectedOrder = separately
      .map((score, beamRank) => ({ beamRank, p: score.itmProbability }))
      .sort((a, b) => b.p - a.p || a.beamRank - b.beamRank)
      .map((entry) => entry.beamRank);
    expect(ranked.map((r) => r.beamRank)).toEqual(expectedOrder);
    ranked.forEach((r) => {
      expect(r.itmLogits).toEqual(separately[r.beamRank]?.itmLogits);
      expect(r.itcCosine).toBe(separately[r.beamRank]?.itcCosine);
      expect(r.text).toBe(candidates[r.beamRank]?.text);
    });
  });

  it('validates the candidate options and the matcher kind', async () => {
    const image = referencePixels('photo_chelsea.jpg');
    await expect(captioner.caption([image], { candidates: 4, beams: 2 })).rejects.toThrow('candidates (4) exceeds beams (2)');
    await expect(captioner.caption([image], { candidates: 1 })).rejects.toBeInstanceOf(BlipUsageError);
    await expect(rerankCandidates(captioner, image, [{ text: 'a', tokenIds: [30522], beamScore: 0 }])).rejects.toThrow(
      're-ranking needs a retrieval checkpoint',
    );
  });
});

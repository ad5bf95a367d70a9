import { describe, expect, it } from 'vitest';
import { loadBlip } from '../../services/blip/index.js';
import { runCaption } from '../../services/cli/caption.js';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, fixturePath, maxAbsDiff, referencePixels } from '../support/fixtures.js';
import { retrievalModelDir, vqaModelDir } from '../support/task-fixtures.js';

// `blipline caption --candidates N --rerank --rerank-model DIR`: beam candidates ordered by the
// retrieval checkpoint's ITM scores, which equal the scores `score` computes for the same texts.

const cli = await scratchCli('blipline-cli-rerank-');
/** Runs `blipline caption ...` in this process, capturing what it prints. */
const caption = (args: string[]) => cli.inProcess(runCaption, args);

interface Candidate {
  text: string;
  tokenIds: number[];
  beamScore: number;
  beamRank: number;
  itmLogits: [number, number];
  itmProbability: number;
  itcCosine: number;
}

describe('blipline caption --candidates --rerank', () => {
  it('orders the beam candidates by the ITM scores computed separately, and prints the best', async () => {
    const pixels = fixturePath('pixel_values/photo_chelsea.jpg.f32');
    const run = await caption([
      '--pixel-values', pixels, '--model', captioningModelDir, '--max-new-tokens', '12',
      '--candidates', '4', '--beams', '5', '--rerank', '--rerank-model', retrievalModelDir, '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const line = JSON.parse(run.stdout.trim()) as { text: string; tokenIds: number[]; candidates: Candidate[] };
    expect(line.candidates).toHaveLength(4);
    expect(new Set(line.candidates.map((c) => c.beamRank))).toEqual(new Set([0, 1, 2, 3]));
    expect(line.text).toBe(line.candidates[0]?.text);
    expect(line.tokenIds).toEqual(line.candidates[0]?.tokenIds);

    const matcher = await loadBlip({ model: retrievalModelDir, cacheDir: cli.cacheDir, threads: 1 });
    try {
      const separately = await matcher.score(
        referencePixels('photo_chelsea.jpg'),
        line.candidates.map((c) => c.text),
      );
      line.candidates.forEach((candidate, i) => {
        expect(maxAbsDiff(candidate.itmLogits, separately[i]!.itmLogits)).toBeLessThan(1e-6);
        expect(candidate.itmProbability).toBeCloseTo(separately[i]!.itmProbability, 6);
      });
      const probabilities = separately.map((s) => s.itmProbability);
      expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
    } finally {
      await matcher.dispose();
    }
  });

  it('lists the candidates in beam order without --rerank', async () => {
    const run = await caption(['--pixel-values', fixturePath('pixel_values/photo_chelsea.jpg.f32'), '--model', captioningModelDir, '--max-new-tokens', '8', '--candidates', '3']);
    expect(run.code).toBe(0);
    const [caption0, ...rest] = run.stdout.trimEnd().split('\n');
    expect(rest).toHaveLength(3);
    expect(rest[0]).toMatch(new RegExp(`^ {2}-?\\d+\\.\\d{4} {2}${caption0}$`));
  });

  it.each([
    [['--rerank'], 2, '--rerank needs --candidates N'],
    [['--candidates', '1'], 2, '--candidates must be between 2 and 16'],
    [['--candidates', '3', '--rerank', '--rerank-model', vqaModelDir], 1, 'is a vqa checkpoint (BlipForQuestionAnswering); this needs a retrieval checkpoint'],
  ])('%j fails in one line (usage errors exit 2, runtime failures 1)', async (args, code, message) => {
    const run = await caption(['--pixel-values', fixturePath('pixel_values/photo_chelsea.jpg.f32'), '--model', captioningModelDir, ...args]);
    expect(run.code).toBe(code);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });
});

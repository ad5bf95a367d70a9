import { describe, expect, it } from 'vitest';
import { runScore } from '../../services/cli/score.js';
import { scratchCli } from '../support/cli.js';
import { fixturePath, maxAbsDiff } from '../support/fixtures.js';
import { retrievalModelDir, retrievalReference, vqaModelDir } from '../support/task-fixtures.js';

// `blipline score` end to end through the real entry point, as `npx blipline score` runs it.

const cli = await scratchCli('blipline-cli-score-');
const blipline = (args: string[]) => cli.run(args);
/** Runs `blipline score ...` in this process (no interpreter start-up). */
const inProcess = (args: string[]) => cli.inProcess(runScore, args.slice(1));

describe('blipline score', () => {
  it('--pixel-values --json prints ITM logits and ITC cosine per text within 1e-3 of the reference', async () => {
    const image = 'photo_chelsea.jpg';
    const expected = retrievalReference().filter((c) => c.image === image);
    const pixels = fixturePath('pixel_values', `${image}.f32`);
    const run = await blipline(['score', '--pixel-values', pixels, ...expected.flatMap((c) => ['--text', c.text]), '--model', retrievalModelDir, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { image: string; text: string; itmLogits: number[]; itmProbability: number; itcCosine: number });
    expect(lines.map((l) => l.text)).toEqual(expected.map((c) => c.text));
    lines.forEach((line, i) => {
      expect(line.image).toBe(pixels);
      expect(maxAbsDiff(line.itmLogits, expected[i]!.itm_logits)).toBeLessThan(1e-3);
      expect(Math.abs(line.itcCosine - expected[i]!.itc_cosine[0])).toBeLessThan(1e-3);
      expect(line.itmProbability).toBeGreaterThan(0);
    });
  });

  it('prints one line per text without --json, and refuses a VQA checkpoint in one line', async () => {
    const image = fixturePath('images/photo_chelsea.jpg');
    const plain = await inProcess(['score', image, '--text', 'a cat', '--text', 'a dog', '--model', retrievalModelDir]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.trim().split('\n').map((l) => l.replace(/^match \d\.\d{4} {2}cosine -?\d\.\d{4} {2}/, ''))).toEqual(['a cat', 'a dog']);

    const wrong = await inProcess(['score', image, '--text', 'a cat', '--model', vqaModelDir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toContain('is a vqa checkpoint (BlipForQuestionAnswering); this needs a retrieval checkpoint');
  });
});

import { describe, expect, it } from 'vitest';
import { runAsk } from '../../services/cli/ask.js';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, fixturePath } from '../support/fixtures.js';
import { vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// `blipline ask` end to end through the real entry point, as `npx blipline ask` runs it.

const cli = await scratchCli('blipline-cli-ask-', { BLIPLINE_VQA_MODEL: '' });
const blipline = (args: string[]) => cli.run(args);
/** Runs `blipline ask ...` in this process (no interpreter start-up). */
const inProcess = (args: string[]) => cli.inProcess(runAsk, args.slice(1));

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
const cases = vqaReference();

describe('blipline ask', () => {
  it('--pixel-values --beams 3 --json answers every image with the reference beam ids', async () => {
    const question = 'How many dogs are there?';
    const asked = cases.filter((c) => c.question === question);
    const pixels = asked.map((c) => fixturePath('pixel_values', `${c.image}.f32`));
    const run = await blipline([
      'ask', ...pixels.flatMap((p) => ['--pixel-values', p]), '--question', question,
      '--model', vqaModelDir, '--beams', '3', '--max-new-tokens', '10', '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => [l.image, l.question, l.tokenIds])).toEqual(asked.map((c, i) => [pixels[i], question, c.beam3.output_ids]));
    expect(lines[0]?.timingsMs).toEqual(expect.objectContaining({ question: expect.any(Number), decode: expect.any(Number) }));
  });

  it('answers an image file greedily as plain text', async () => {
    const testCase = cases.find((c) => c.image === 'photo_chelsea.jpg' && c.question === 'what is the person doing?')!;
    const run = await inProcess(['ask', fixturePath('images', testCase.image), '--question', testCase.question, '--model', vqaModelDir, '--max-new-tokens', '10']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${testCase.greedy.text}\n`);
  });

  it.each([
    ['a captioning checkpoint', ['--model', captioningModelDir, '--question', 'what?'], 1, 'is a captioning checkpoint (BlipForConditionalGeneration); this needs a vqa checkpoint'],
    ['an empty question', ['--model', vqaModelDir, '--question', ' '], 2, 'the question is empty'],
    ['a missing image', ['--model', vqaModelDir, '--question', 'what?', 'missing.jpg'], 1, 'missing.jpg: no such file'],
  ])('fails on %s with one line and a non-zero exit', async (_what, args, code, message) => {
    const image = args.includes('missing.jpg') ? [] : [fixturePath('images/photo_chelsea.jpg')];
    const run = await inProcess(['ask', ...image, ...args]);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });
});

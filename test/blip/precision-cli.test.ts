import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, captioningReference, fixturePath, readF32, referencePixels } from '../support/fixtures.js';
import { DECISIVE_MARGIN, firstDeparture, loadPrecisionPair } from '../support/precision.js';

const cli = await scratchCli('blipline-compare-precision-');
const blipline = (args: string[]) => cli.run(args);
// the CLI's int8 captions must be loadBlip's int8 captions at the same thread count
const loaded = loadPrecisionPair(captioningModelDir, 'blipline-compare-precision-models-');

describe('blipline caption --compare-precision', () => {
  it('prints the float32 and the int8 caption of each image', async () => {
    const reference = captioningReference();
    const images = reference.cases.map((c) => fixturePath('pixel_values', `${c.image}.f32`));
    const pixelArgs = images.flatMap((file) => ['--pixel-values', file]);
    const run = await blipline(['caption', ...pixelArgs, '--model', captioningModelDir, '--max-new-tokens', '20', '--threads', '2', '--compare-precision', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { image: string; precision: string; tokenIds: number[]; text: string });
    expect(lines.map((l) => [l.image, l.precision])).toEqual([...images.map((i) => [i, 'fp32']), ...images.map((i) => [i, 'int8'])]);
    expect(reference.cases.length).toBeGreaterThan(0);
    // float32 is the reference; int8 is what the int8 graphs give, compiled into the run's cache
    reference.cases.forEach((c, i) => expect(lines[i]?.tokenIds).toEqual(c.greedy.output_ids));
    const int8Lines = lines.slice(images.length);
    const int8Captions = await loaded.pair.int8.caption(
      reference.cases.map((c) => referencePixels(c.image)),
      { maxNewTokens: 20 },
    );
    expect(int8Lines.map((l) => l.tokenIds)).toEqual(int8Captions.map((c) => c.tokenIds));
    expect((await readdir(cli.cacheDir)).filter((dir) => dir.startsWith('captioning-int8-'))).toHaveLength(1);
    // int8 leaves float32's caption only where float32 itself nearly ties (reference logits along its path)
    const vocab = loaded.pair.fp32.runtime.config.text_config.vocab_size;
    let decisive = 0;
    reference.cases.forEach((c, i) => {
      const departure = firstDeparture(c.teacher_forced.input_ids, int8Lines[i]?.tokenIds ?? [], readF32(c.teacher_forced.logits), vocab);
      if (departure.position !== undefined) expect(departure.margin, `${c.image} at ${departure.position}`).toBeLessThanOrEqual(DECISIVE_MARGIN);
      decisive += departure.decisiveAgreed;
    });
    expect(decisive).toBeGreaterThan(0);

    const text = await blipline(['caption', fixturePath('images/photo_chelsea.jpg'), '--model', captioningModelDir, '--compare-precision']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^fp32: .*\nint8: .*\n$/);
  }, 240_000);

  it('refuses --precision together with --compare-precision in one line', async () => {
    const run = await blipline(['caption', fixturePath('images/photo_chelsea.jpg'), '--model', captioningModelDir, '--compare-precision', '--precision', 'int8']);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('--compare-precision');
  }, 120_000);
});

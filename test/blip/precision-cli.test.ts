import { describe, expect, it } from 'vitest';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, captioningReference, fixturePath } from '../support/fixtures.js';

const cli = await scratchCli('blipline-compare-precision-');
const blipline = (args: string[]) => cli.run(args);

describe('blipline caption --compare-precision', () => {
  it('prints the float32 and the int8 caption of each image', async () => {
    const reference = captioningReference();
    const images = reference.cases.map((c) => fixturePath('pixel_values', `${c.image}.f32`));
    const pixelArgs = images.flatMap((file) => ['--pixel-values', file]);
    const run = await blipline(['caption', ...pixelArgs, '--model', captioningModelDir, '--max-new-tokens', '20', '--compare-precision', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { image: string; precision: string; tokenIds: number[]; text: string });
    expect(lines.map((l) => [l.image, l.precision])).toEqual([...images.map((i) => [i, 'fp32']), ...images.map((i) => [i, 'int8'])]);
    // float32 is the reference; int8 is a real second caption of the same image
    reference.cases.forEach((c, i) => expect(lines[i]?.tokenIds).toEqual(c.greedy.output_ids));
    for (const line of lines.slice(images.length)) {
      expect(line.tokenIds[0]).toBe(30522);
      expect(line.tokenIds.length).toBeGreaterThan(1);
    }

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

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, captioningReference, fixturePath } from '../support/fixtures.js';

const cli = await scratchCli('blipline-cli-caption-');
const scratch = cli.dir;
const reference = captioningReference();
const chelsea = reference.cases.find((c) => c.image === 'photo_chelsea.jpg');
if (!chelsea) throw new Error('fixture case missing');

/** Runs the real CLI entry point, as `npx blipline` does. */
const blipline = (args: string[]) => cli.run(args);

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
const model = ['--model', captioningModelDir];

// Each case starts real CLI processes (several seconds each on a busy 2-core machine).
describe('blipline caption', { timeout: 180_000 }, () => {
  it('--pixel-values --json prints the reference greedy ids; the next run reuses the compiled graphs', async () => {
    const pixels = fixturePath('pixel_values/photo_chelsea.jpg.f32');
    const first = await blipline(['caption', '--pixel-values', pixels, ...model, '--max-new-tokens', '20', '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const [line] = jsonLines(first.stdout);
    expect(line).toMatchObject({ image: pixels, text: chelsea.greedy.text, tokenIds: chelsea.greedy.output_ids, cacheHit: false });
    expect(line?.timingsMs).toEqual(expect.objectContaining({ compile: expect.any(Number), vision: expect.any(Number), decode: expect.any(Number) }));

    const image = fixturePath('images/photo_chelsea.jpg');
    const prompt = await blipline(['caption', image, ...model, '--prompt', 'a picture of', '--max-new-tokens', '15', '--json']);
    expect(jsonLines(prompt.stdout)[0]).toMatchObject({ image, tokenIds: chelsea.prompt.output_ids, cacheHit: true });
  });

  it('captions several image files in one batch with beams, a repetition penalty, or as plain text', async () => {
    const images = reference.batch.images.map((image) => fixturePath('images', image));
    const expected = (pick: (c: (typeof reference.cases)[number]) => number[]) =>
      reference.batch.images.map((image) => pick(reference.cases.find((c) => c.image === image) as (typeof reference.cases)[number]));

    const beams = await blipline(['caption', ...images, ...model, '--beams', '3', '--max-new-tokens', '12', '--json']);
    expect(jsonLines(beams.stdout).map((line) => [line.image, line.tokenIds])).toEqual(images.map((image, i) => [image, expected((c) => c.beam3.output_ids)[i]]));

    const penalty = await blipline(['caption', ...images, ...model, '--repetition-penalty', '1.5', '--max-new-tokens', '20', '--json']);
    expect(jsonLines(penalty.stdout).map((line) => line.tokenIds)).toEqual(expected((c) => c.repetition_penalty_1_5.output_ids));

    const plain = await blipline(['caption', ...images, ...model, '--max-new-tokens', '20']);
    const texts = reference.batch.images.map((image) => reference.cases.find((c) => c.image === image)?.greedy.text);
    expect(plain.stdout).toBe(images.map((image, i) => `${image}: ${texts[i]}\n`).join(''));
  });

  it('fails with a one-line reason and a non-zero exit code on bad input', async () => {
    const textAsJpeg = path.join(scratch, 'notes.jpg');
    await writeFile(textAsJpeg, 'just some text, not a picture\n');
    const truncated = path.join(scratch, 'truncated.jpg');
    const jpeg = await readFile(fixturePath('images/photo_chelsea.jpg'));
    await writeFile(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 3)));

    const cases: [string[], RegExp][] = [
      [['caption', path.join(scratch, 'missing.jpg'), ...model], /missing\.jpg: no such file/],
      [['caption', textAsJpeg, ...model], /notes\.jpg: .*(not an image|not_an_image|unrecognised|unsupported)/i],
      [['caption', truncated, ...model], /truncated\.jpg: /],
      [['caption', fixturePath('images/photo_chelsea.jpg'), '--model', scratch], /not a BLIP checkpoint/],
      [['caption', fixturePath('images/photo_chelsea.jpg'), ...model, '--beams', 'two'], /--beams must be a whole number/],
      [['caption', ...model], /no image given/],
    ];
    for (const [args, reason] of cases) {
      const run = await blipline(args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(reason);
    }
  });
});

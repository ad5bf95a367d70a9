import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPreprocess } from '../../services/cli/preprocess.js';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, fixturePath, readF32 } from '../support/fixtures.js';

// `blipline preprocess`: each image's model input as a raw float32 file, one JSON line per image.

const cli = await scratchCli('blipline-cli-preprocess-');
const corpus = (name: string) => path.join(import.meta.dirname, '..', 'blip', 'corpus', 'images', name);

const lineSchema = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe('blipline preprocess', () => {
  it('writes the Pillow reference pixel values of the fixture images and prints one line per image', async () => {
    const out = path.join(cli.dir, 'out');
    const images = ['photo_chelsea.jpg', 'alpha_300x500.png', 'wide_1200x100.png'].map((f) => fixturePath('images', f));
    const run = await cli.run(['preprocess', ...images, '--out', out, '--model', captioningModelDir, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map(lineSchema);
    expect(lines).toEqual(
      images.map((image) => ({ image, out: path.join(out, `${path.basename(image)}.f32`), width: 384, height: 384, orientation: 1, format: path.extname(image).slice(1) })),
    );
    for (const image of images) {
      const bytes = await readFile(path.join(out, `${path.basename(image)}.f32`));
      const written = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const expected = readF32(path.join('pixel_values', `${path.basename(image)}.f32`));
      expect(written.length).toBe(3 * 384 * 384);
      let max = 0;
      for (let i = 0; i < written.length; i++) max = Math.max(max, Math.abs(written[i]! - expected[i]!));
      expect(max).toBeLessThanOrEqual(0.05);
    }
  });

  it('reports orientation and format of BMP, HEIC and rotated JPEG files', async () => {
    const out = path.join(cli.dir, 'formats');
    const images = [corpus('jpeg_orientation_6.jpg'), corpus('bmp_rle8.bmp'), corpus('heic_irot90.heic'), corpus('ico_bmp.ico'), corpus('gif_animated.gif')];
    const run = await cli.inProcess(runPreprocess, [...images, '--out', out, '--model', captioningModelDir, '--json']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map(lineSchema);
    expect(lines.map((l) => [l.format, l.orientation])).toEqual([
      ['jpg', 6],
      ['bmp', 1],
      ['heic', 1],
      ['ico', 1],
      ['gif', 1],
    ]);
  });

  it('prints an error line for each bad image, still writes the good ones, and exits 1', async () => {
    const out = path.join(cli.dir, 'mixed');
    const text = path.join(cli.dir, 'notes.txt');
    await writeFile(text, 'not an image');
    const cut = path.join(cli.dir, 'cut.bmp');
    await writeFile(cut, (await readFile(corpus('bmp_24.bmp'))).subarray(0, 500));
    await copyFile(corpus('bmp_24.bmp'), path.join(cli.dir, 'bmp_24.bmp'));
    const good = corpus('bmp_24.bmp');
    const run = await cli.inProcess(runPreprocess, [good, text, cut, path.join(cli.dir, 'missing.png'), path.join(cli.dir, 'bmp_24.bmp'), '--out', out, '--model', captioningModelDir, '--json']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n').map(lineSchema);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({ image: good, format: 'bmp' });
    expect(lines.slice(1).map((l) => (l.error as { code: string }).code)).toEqual(['not_an_image', 'truncated', 'invalid_input', 'duplicate_name']);
    expect((lines[3]!.error as { message: string }).message).toMatch(/no such file/);
    expect((await readFile(path.join(out, 'bmp_24.bmp.f32'))).length).toBe(4 * 3 * 384 * 384);
  });

  it('is a usage error (exit 2) without --out or without images', async () => {
    const noOut = await cli.inProcess(runPreprocess, [corpus('bmp_24.bmp')]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out DIR is required/);
    const noImage = await cli.inProcess(runPreprocess, ['--out', cli.dir]);
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toMatch(/no image given/);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { captioningModelDir, captioningReference, fixturePath, repoRoot } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-compare-precision-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function blipline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/node'), ['bin/blipline.mjs', ...args], {
      cwd: repoRoot,
      env: { ...process.env, BLIPLINE_CACHE_DIR: path.join(scratch, 'graphs'), LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

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

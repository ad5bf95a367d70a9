import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { captioningModelDir, captioningReference, fixturePath, repoRoot } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-cli-prepare-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function blipline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/node'), ['bin/blipline.mjs', ...args], {
      cwd: repoRoot,
      env: { ...process.env, BLIPLINE_CACHE_DIR: path.join(scratch, 'graphs'), LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return error as { code: number; stdout: string; stderr: string };
  }
}

describe('blipline prepare-model', { timeout: 180_000 }, () => {
  it('copies the checkpoint to --out and compiles its graphs, so captioning starts from the cache', async () => {
    const out = path.join(scratch, 'caption');
    const prepared = await blipline(['prepare-model', '--model', captioningModelDir, '--out', out]);
    expect(prepared.code).toBe(0);
    expect(JSON.parse(prepared.stdout)).toMatchObject({ kind: 'captioning', dir: out, precision: 'fp32' });
    expect(await readdir(out)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json']));

    const pixels = fixturePath('pixel_values/gradient_640x480.png.f32');
    const caption = await blipline(['caption', '--pixel-values', pixels, '--model', out, '--max-new-tokens', '20', '--json']);
    const expected = captioningReference().cases.find((c) => c.image === 'gradient_640x480.png')?.greedy.output_ids;
    expect(JSON.parse(caption.stdout)).toMatchObject({ cacheHit: true, tokenIds: expected });
  });

  it('needs --model', async () => {
    const run = await blipline(['prepare-model', '--out', scratch]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--model is required/);
  });
});

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir, captioningReference, fixturePath } from '../support/fixtures.js';

const cli = await scratchCli('blipline-cli-prepare-');
const scratch = cli.dir;
const blipline = (args: string[]) => cli.run(args);

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

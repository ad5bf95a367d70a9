import { copyFile, mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../services/blip/checkpoint/index.js';
import { BlipRuntime } from '../../services/blip/runtime/index.js';
import { captioningModelDir, repoRoot } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-graph-cache-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

function capturingLogger(): { logger: pino.Logger; messages: () => { msg: string; cacheHit?: boolean }[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, messages: () => lines.map((line) => JSON.parse(line) as { msg: string; cacheHit?: boolean }) };
}

async function start(modelDir: string, cacheDir: string) {
  const { logger, messages } = capturingLogger();
  const runtime = await BlipRuntime.load(await openCheckpoint(modelDir, { cacheDir }), { cacheDir, precision: 'fp32', threads: 1, logger });
  await runtime.dispose();
  return { compiled: runtime.compiled, messages: messages() };
}

describe('compiled graph cache', () => {
  const cacheDir = path.join(scratch, 'graphs');

  it('compiles on the first start and reuses the graphs on the second', async () => {
    const first = await start(captioningModelDir, cacheDir);
    expect(first.compiled.cacheHit).toBe(false);
    expect(first.messages.map((m) => m.msg)).toContain('compiled graphs');
    expect((await readdir(first.compiled.dir)).sort()).toEqual(
      ['text_decoder_step', 'vision'].flatMap((name) => [`${name}.onnx`, `${name}.onnx.data`]),
    );

    const second = await start(captioningModelDir, cacheDir);
    expect(second.compiled).toMatchObject({ cacheHit: true, dir: first.compiled.dir });
    expect(second.messages).toContainEqual(expect.objectContaining({ msg: 'reusing compiled graphs', cacheHit: true }));
    expect(second.messages.map((m) => m.msg)).not.toContain('compiling graphs');
  });

  it('compiles again when a cached graph file has gone missing', async () => {
    const before = await start(captioningModelDir, cacheDir);
    await rm(path.join(before.compiled.dir, 'vision.onnx.data'));
    const after = await start(captioningModelDir, cacheDir);
    expect(after.compiled).toMatchObject({ cacheHit: false, dir: before.compiled.dir });
    expect(await readdir(after.compiled.dir)).toContain('vision.onnx.data');
  });

  it('recompiles when the checkpoint changes', async () => {
    const changedDir = path.join(scratch, 'changed-checkpoint');
    await mkdir(changedDir);
    for (const file of ['config.json', 'model.safetensors']) await copyFile(path.join(captioningModelDir, file), path.join(changedDir, file));
    const weights = await open(path.join(changedDir, 'model.safetensors'), 'r+');
    const { size } = await weights.stat();
    await weights.write(new Uint8Array(Float32Array.of(0.125).buffer), 0, 4, size - 4); // last float of the last tensor
    await weights.close();

    const original = await start(captioningModelDir, cacheDir);
    const changed = await start(changedDir, cacheDir);
    expect(original.compiled.cacheHit).toBe(true);
    expect(changed.compiled.cacheHit).toBe(false);
    expect(changed.compiled.dir).not.toBe(original.compiled.dir);
  });
});

describe('the graph cache of the test suite', () => {
  it('is a scratch folder of this test file, not the repository\'s .cache/blipline/graphs', async () => {
    const { defaultCacheDir } = await import('../../services/blip/index.js');
    const dir = defaultCacheDir();
    expect(dir).not.toBe(path.join(repoRoot, '.cache/blipline/graphs'));
    expect(path.relative(os.tmpdir(), dir).startsWith('..')).toBe(false);
    expect(path.basename(dir)).toMatch(/^blipline-test-graphs-/);
    expect(await readdir(dir)).toEqual(expect.any(Array)); // it exists
  });
});

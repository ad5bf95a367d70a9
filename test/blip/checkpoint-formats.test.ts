import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointWeights, openCheckpoint, PytorchFile, SafetensorsFile } from '../../services/blip/checkpoint/index.js';
import { loadBlip } from '../../services/blip/index.js';
import { captioningModelDir, captioningReference, referencePixels } from '../support/fixtures.js';
import { encodeTensor, type NamedTensor, safetensorsOf, type SaveDtype, stateDictPickle, torchSaveBytes } from '../support/torch-save.js';

/**
 * pytorch_model.bin (read without executing its pickle) and half-precision safetensors: the captioning fixture
 * converted to each form loads the same weights and captions identically.
 */
const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-checkpoint-formats-'));
const reference = captioningReference();
let tensors: Map<string, NamedTensor>;

beforeAll(async () => {
  const file = await SafetensorsFile.open(path.join(captioningModelDir, 'model.safetensors'));
  tensors = new Map([...file.tensors.keys()].map((name) => [name, file.float32(name)]));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A checkpoint folder: the fixture's config, tokenizer and processor files with the given weights file. */
async function checkpointDir(name: string, weightsFile: string, bytes: Uint8Array): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    await copyFile(path.join(captioningModelDir, f), path.join(dir, f));
  }
  await writeFile(path.join(dir, weightsFile), bytes);
  return dir;
}

/** The fixture's tensors rounded to `dtype` and widened back: what a half-precision checkpoint holds. */
function rounded(dtype: SaveDtype): Map<string, NamedTensor> {
  const file = SafetensorsFile.fromBytes('rounded', safetensorsOf(tensors, dtype));
  return new Map([...tensors.keys()].map((name) => [name, file.float32(name)]));
}

async function weightsOf(dir: string): Promise<CheckpointWeights> {
  return (await openCheckpoint(dir, { cacheDir: scratch })).loadWeights();
}

function expectSameWeights(a: CheckpointWeights, expected: ReadonlyMap<string, NamedTensor>): void {
  expect(expected.size).toBeGreaterThan(50);
  for (const [name, tensor] of expected) {
    const got = a.get(name);
    expect(got.shape).toEqual(tensor.shape);
    expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))).toBe(true);
  }
}

async function greedyIds(dir: string): Promise<number[][]> {
  const model = await loadBlip({ model: dir, cacheDir: path.join(scratch, 'graphs'), threads: 1 });
  try {
    expect(reference.cases.length).toBeGreaterThan(0);
    const results = await model.caption(reference.cases.map((c) => referencePixels(c.image)), { maxNewTokens: 20 });
    return results.map((r) => r.tokenIds);
  } finally {
    await model.dispose();
  }
}

describe('pytorch_model.bin', () => {
  it('holds every fixture tensor bit for bit and captions exactly as the safetensors fixture and the reference', async () => {
    const dir = await checkpointDir('bin-f32', 'pytorch_model.bin', torchSaveBytes(tensors, 'F32'));
    const checkpoint = await openCheckpoint(dir, { cacheDir: scratch });
    expect(checkpoint.weightFiles).toEqual([path.join(dir, 'pytorch_model.bin')]);
    expectSameWeights(await checkpoint.loadWeights(), tensors);
    const ids = await greedyIds(dir);
    expect(ids).toEqual(reference.cases.map((c) => c.greedy.output_ids));
  });

  it('gathers a strided (transposed) tensor into its logical order', () => {
    const pkl = stateDictPickle([{ name: 't', shape: [2, 3], dtype: 'F32', stride: [1, 2] }]);
    const zip = zipSync({ 'a/data.pkl': pkl, 'a/data/0': encodeTensor(Float32Array.from([1, 2, 3, 4, 5, 6]), 'F32') }, { level: 0 });
    const t = PytorchFile.fromBytes('t.bin', zip).float32('t');
    expect(t.shape).toEqual([2, 3]);
    expect([...t.data]).toEqual([1, 3, 5, 2, 4, 6]);
  });
});

describe('half-precision checkpoints', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype} safetensors and ${dtype} pytorch_model.bin widen to the same float32 weights and the same captions`, async () => {
      const widened = rounded(dtype);
      const st = await checkpointDir(`st-${dtype}`, 'model.safetensors', safetensorsOf(tensors, dtype));
      const bin = await checkpointDir(`bin-${dtype}`, 'pytorch_model.bin', torchSaveBytes(tensors, dtype));
      const f32 = await checkpointDir(`st-${dtype}-as-f32`, 'model.safetensors', safetensorsOf(widened, 'F32'));
      expectSameWeights(await weightsOf(st), widened);
      expectSameWeights(await weightsOf(bin), widened);
      const [fromHalf, fromBin, fromF32] = [await greedyIds(st), await greedyIds(bin), await greedyIds(f32)];
      expect(fromHalf).toEqual(fromF32);
      expect(fromBin).toEqual(fromF32);
    });
  }
});

/** A pytorch_model.bin whose data.pkl is `pickle`. */
function binWithPickle(pickle: Uint8Array): Uint8Array {
  return zipSync({ 'archive/data.pkl': pickle, 'archive/version': Buffer.from('3\n') }, { level: 0 });
}

const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

describe('pickles that try to run code are refused', () => {
  const marker = path.join(scratch, 'ran');
  const cases: [string, number[], RegExp][] = [
    ['GLOBAL os.system + REDUCE', [0x80, 2, 0x63, ...ascii('os\nsystem\n'), 0x58, ...[marker.length + 6, 0, 0, 0], ...ascii(`touch ${marker}`), 0x85, 0x52, 0x2e], /imports os\.system/],
    ['GLOBAL builtins.eval', [0x80, 2, 0x63, ...ascii('builtins\neval\n'), 0x58, 4, 0, 0, 0, ...ascii('1+1)'), 0x85, 0x52, 0x2e], /imports builtins\.eval/],
    ['STACK_GLOBAL posix.system', [0x80, 4, 0x8c, 5, ...ascii('posix'), 0x8c, 6, ...ascii('system'), 0x93, 0x2e], /imports posix\.system/],
    ['REDUCE of a storage class (not a tensor rebuild)', [0x80, 2, 0x63, ...ascii('torch\nFloatStorage\n'), 0x29, 0x52, 0x2e], /calls torch\.FloatStorage/],
    ['INST opcode', [0x80, 2, 0x28, 0x69, ...ascii('subprocess\nPopen\n'), 0x2e], /opcode 0x69 \(INST\)/],
    ['NEWOBJ opcode', [0x80, 2, 0x7d, 0x29, 0x81, 0x2e], /opcode 0x81 \(NEWOBJ\)/],
    ['a pickle that is not a dict', [0x80, 2, 0x4b, 7, 0x2e], /not hold a dict/],
  ];
  it.each(cases)('%s', (_, bytes, reason) => {
    const error = (() => {
      try {
        PytorchFile.fromBytes('evil.bin', binWithPickle(Uint8Array.from(bytes)));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'invalid_weights' });
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toMatch(/nothing in it was executed/);
  });

  it('the os.system pickle really ran nothing', async () => {
    expect(cases.length).toBeGreaterThan(0);
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a legacy (pre-zip) torch.save file is refused with the reason', async () => {
    const dir = await checkpointDir('legacy', 'pytorch_model.bin', Uint8Array.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    await expect(weightsOf(dir)).rejects.toThrow(/not a zip archive/);
  });

  it('a tensor reaching past its storage is refused', () => {
    const pkl = stateDictPickle([{ name: 't', shape: [4], dtype: 'F32' }]);
    const zip = zipSync({ 'a/data.pkl': pkl, 'a/data/0': new Uint8Array(8) }, { level: 0 });
    expect(() => PytorchFile.fromBytes('t.bin', zip)).toThrow(/past the end of storage 0/);
  });

  it('model.safetensors wins over pytorch_model.bin in the same folder', async () => {
    const dir = await checkpointDir('both', 'model.safetensors', await readFile(path.join(captioningModelDir, 'model.safetensors')));
    await writeFile(path.join(dir, 'pytorch_model.bin'), binWithPickle(Uint8Array.from([0x80, 2, 0x4b, 7, 0x2e])));
    expect((await openCheckpoint(dir, { cacheDir: scratch })).weightFiles).toEqual([path.join(dir, 'model.safetensors')]);
  });
});

import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointWeights, SafetensorsFile, cachedSha256, openCheckpoint, sha256OfFile } from '../../services/blip/checkpoint/index.js';
import { parseBlipConfig, readBlipConfig } from '../../services/blip/config.js';
import { BlipCheckpointError } from '../../services/blip/errors.js';
import { captioningModelDir, fixturePath } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-checkpoint-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Builds a safetensors file from float32 tensors. */
function safetensorsBytes(tensors: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const body = Buffer.concat(Object.values(tensors).map(({ data }) => Buffer.from(Float32Array.from(Array.from(data)).buffer)));
  return Buffer.concat([length, Buffer.from(json), body]);
}

describe('config.json', () => {
  it('reads every width, depth, head count, eps, image size and token id of the fixture', async () => {
    const config = await readBlipConfig(captioningModelDir);
    expect(config.kind).toBe('captioning');
    expect(config.vision_config).toMatchObject({ hidden_size: 48, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 53, image_size: 384, patch_size: 16, layer_norm_eps: 1e-5 });
    expect(config.text_config).toMatchObject({ hidden_size: 32, encoder_hidden_size: 48, num_attention_heads: 4, num_hidden_layers: 3, intermediate_size: 37, layer_norm_eps: 1e-12, vocab_size: 30524, bos_token_id: 30522, sep_token_id: 102, pad_token_id: 0 });
  });

  it('tells captioning, vqa and retrieval apart by architectures', async () => {
    expect((await readBlipConfig(fixturePath('blip-tiny-vqa'))).kind).toBe('vqa');
    expect((await readBlipConfig(fixturePath('blip-tiny-retrieval'))).kind).toBe('retrieval');
  });

  it('fills fields a config.json leaves out with the defaults of BlipTextConfig / BlipVisionConfig', () => {
    const config = parseBlipConfig({ model_type: 'blip', architectures: ['BlipForConditionalGeneration'] });
    expect(config.text_config).toMatchObject({ hidden_size: 768, num_attention_heads: 8, num_hidden_layers: 12, vocab_size: 30524, bos_token_id: 30522, sep_token_id: 102 });
    expect(config.vision_config).toMatchObject({ hidden_size: 768, num_attention_heads: 12, image_size: 384, patch_size: 16, layer_norm_eps: 1e-5 });
  });

  it('rejects configs it cannot honour with a coded error', () => {
    const base = { model_type: 'blip', architectures: ['BlipForConditionalGeneration'] };
    expect(() => parseBlipConfig({ ...base, architectures: ['CLIPModel'] })).toThrow(expect.objectContaining({ code: 'unsupported_architecture' }));
    expect(() => parseBlipConfig({ ...base, model_type: 'bert' })).toThrow(expect.objectContaining({ code: 'invalid_config' }));
    expect(() => parseBlipConfig({ ...base, text_config: { hidden_act: 'relu' } })).toThrow(/hidden_act/);
    expect(() => parseBlipConfig({ ...base, vision_config: { hidden_size: 50, num_attention_heads: 4 } })).toThrow(/divisible/);
  });

  it('reports a folder without config.json as not a checkpoint', async () => {
    await expect(readBlipConfig(scratch)).rejects.toMatchObject({ code: 'not_a_checkpoint' });
    await expect(openCheckpoint(scratch, { cacheDir: scratch })).rejects.toBeInstanceOf(BlipCheckpointError);
  });
});

describe('safetensors', () => {
  it('returns float32 tensors as views into the file buffer', () => {
    const file = SafetensorsFile.fromBytes('t.safetensors', safetensorsBytes({ a: { shape: [2, 2], data: [1, 2, 3, 4] }, b: { shape: [1], data: [5] } }));
    const a = file.float32('a');
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(file.float32('b').data)).toEqual([5]);
    expect(() => file.float32('c')).toThrow(expect.objectContaining({ code: 'missing_weight' }));
  });

  it('rejects truncated files and inconsistent headers', () => {
    const bytes = safetensorsBytes({ a: { shape: [4], data: [1, 2, 3, 4] } });
    expect(() => SafetensorsFile.fromBytes('t', bytes.subarray(0, bytes.length - 4))).toThrow(expect.objectContaining({ code: 'invalid_weights' }));
    expect(() => SafetensorsFile.fromBytes('t', bytes.subarray(0, 5))).toThrow(/header length/);
  });

  it('ties the LM head to the word embeddings when the checkpoint omits it, and uses a stored one', async () => {
    const fixture = await (await openCheckpoint(captioningModelDir, { cacheDir: scratch })).loadWeights();
    expect(fixture.has('text_decoder.cls.predictions.decoder.weight')).toBe(false);
    const tied = fixture.lmHeadWeight('text_decoder').data;
    const embeddings = fixture.get('text_decoder.bert.embeddings.word_embeddings.weight').data;
    expect([tied.buffer === embeddings.buffer, tied.byteOffset, tied.length]).toEqual([true, embeddings.byteOffset, 30524 * 32]);

    const stored = new CheckpointWeights(
      SafetensorsFile.fromBytes('t', safetensorsBytes({
        'm.bert.embeddings.word_embeddings.weight': { shape: [2, 1], data: [1, 2] },
        'm.cls.predictions.decoder.weight': { shape: [2, 1], data: [7, 8] },
        'm.cls.predictions.bias': { shape: [2], data: [0, 0] },
      })),
    );
    expect(Array.from(stored.lmHeadWeight('m').data)).toEqual([7, 8]);
  });
});

describe('sharded checkpoints', () => {
  it('reads weights spread over shards named by model.safetensors.index.json', async () => {
    const original = await openCheckpoint(captioningModelDir, { cacheDir: scratch });
    const single = SafetensorsFile.fromBytes('single', await readFile(path.join(captioningModelDir, 'model.safetensors')));
    const dir = path.join(scratch, 'sharded');
    await mkdir(dir);
    await copyFile(path.join(captioningModelDir, 'config.json'), path.join(dir, 'config.json'));
    const shards: Record<string, Record<string, { shape: readonly number[]; data: Float32Array }>> = {};
    const weightMap: Record<string, string> = {};
    for (const name of single.tensors.keys()) {
      const shard = name.startsWith('vision_model.') ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
      (shards[shard] ??= {})[name] = single.float32(name);
      weightMap[name] = shard;
    }
    for (const [shard, tensors] of Object.entries(shards)) await writeFile(path.join(dir, shard), safetensorsBytes(tensors));
    await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const sharded = await openCheckpoint(dir, { cacheDir: scratch });
    expect(sharded.weightFiles).toHaveLength(2);
    expect(sharded.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(sharded.sha256).not.toBe(original.sha256);
    const weights = await sharded.loadWeights();
    for (const name of ['vision_model.embeddings.class_embedding', 'text_decoder.cls.predictions.bias']) {
      expect(Array.from(weights.get(name).data)).toEqual(Array.from(single.float32(name).data));
    }
    expect(weights.lmHeadWeight('text_decoder').shape).toEqual([30524, 32]);

    await rm(path.join(dir, 'model-00001-of-00002.safetensors'));
    await expect(openCheckpoint(dir, { cacheDir: scratch })).rejects.toThrow(/model-00001-of-00002\.safetensors, which is missing/);
  });
});

describe('checkpoint hash', () => {
  it('hashes model.safetensors once and reuses the digest until the file changes', async () => {
    const file = path.join(scratch, 'weights.bin');
    const cacheDir = path.join(scratch, 'cache');
    await writeFile(file, 'first');
    const first = await cachedSha256(file, cacheDir);
    expect(first).toEqual({ sha256: await sha256OfFile(file), cached: false });
    expect(await cachedSha256(file, cacheDir)).toEqual({ sha256: first.sha256, cached: true });

    await writeFile(file, 'second');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const changed = await cachedSha256(file, cacheDir);
    expect(changed.cached).toBe(false);
    expect(changed.sha256).not.toBe(first.sha256);
    expect(JSON.parse(await readFile(path.join(cacheDir, 'checkpoint-hashes.json'), 'utf8'))).toBeTypeOf('object');
  });

  it('gives the fixture checkpoint the digest of its model.safetensors', async () => {
    const checkpoint = await openCheckpoint(captioningModelDir, { cacheDir: scratch });
    expect(checkpoint.sha256).toBe(await sha256OfFile(path.join(captioningModelDir, 'model.safetensors')));
  });
});

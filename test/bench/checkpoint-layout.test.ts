import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointLayout, layoutConfigSchema, parameterCount, type CheckpointKind } from '../../services/blip/tools/checkpoint-layout.js';
import { baseConfig } from '../../services/blip/tools/base-configs.js';
import { readRandomCheckpointInfo, writeRandomCheckpoint } from '../../services/blip/tools/random-checkpoint.js';
import { fixturesDir } from '../support/fixtures.js';

interface HeaderEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

function readHeader(file: string): Record<string, HeaderEntry> {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>;
  delete header.__metadata__;
  return header as Record<string, HeaderEntry>;
}

const kinds: CheckpointKind[] = ['captioning', 'vqa', 'retrieval'];
const scratch = mkdtempSync(path.join(tmpdir(), 'blipline-ckpt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('checkpoint layout', () => {
  for (const kind of kinds) {
    it(`derives every tensor name and shape of the ${kind} fixture from its config.json`, () => {
      const dir = path.join(fixturesDir, `blip-tiny-${kind}`);
      const config = layoutConfigSchema.parse(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));
      const header = readHeader(path.join(dir, 'model.safetensors'));
      const layout = checkpointLayout(config);
      expect(layout.map((t) => t.name)).toEqual(Object.keys(header).sort());
      for (const t of layout) expect(t.shape, t.name).toEqual(header[t.name]!.shape);
    });
  }

  it('gives the published BLIP-base sizes', () => {
    const captioning = parameterCount(checkpointLayout(layoutConfigSchema.parse(baseConfig('captioning'))));
    const vqa = parameterCount(checkpointLayout(layoutConfigSchema.parse(baseConfig('vqa'))));
    // blip-image-captioning-base: 224M parameters without the tied LM-head matrix; blip-vqa-base: 361M
    expect(captioning / 1e6).toBeCloseTo(224.0, 0);
    expect(vqa / 1e6).toBeCloseTo(361.2, 0);
  });
});

describe('random checkpoint writer', () => {
  it('writes a fixture-shaped checkpoint whose safetensors matches the layout, and reuses it', () => {
    const assets = path.join(fixturesDir, 'blip-tiny-captioning');
    const config = JSON.parse(readFileSync(path.join(assets, 'config.json'), 'utf8')) as Record<string, unknown>;
    const out = path.join(scratch, 'captioning');
    const first = writeRandomCheckpoint({ kind: 'captioning', shapes: config, outDir: out, assetsDir: assets, seed: 3 });
    expect(first.reused).toBe(false);
    const header = readHeader(path.join(out, 'model.safetensors'));
    const fixtureHeader = readHeader(path.join(assets, 'model.safetensors'));
    expect(Object.keys(header).sort()).toEqual(Object.keys(fixtureHeader).sort());
    for (const [name, entry] of Object.entries(header)) {
      expect(entry.dtype).toBe('F32');
      expect(entry.shape).toEqual(fixtureHeader[name]!.shape);
    }
    const bytes = readFileSync(path.join(out, 'model.safetensors'));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const word = header['text_decoder.bert.embeddings.word_embeddings.weight']!;
    const start = 8 + headerLength + word.data_offsets[0];
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + 8 + headerLength + word.data_offsets[1]));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(std).toBeCloseTo(0.02, 3);
    const norm = header['text_decoder.bert.embeddings.LayerNorm.weight']!;
    const normStart = 8 + headerLength + norm.data_offsets[0];
    const gamma = new Float32Array(bytes.buffer.slice(bytes.byteOffset + normStart, bytes.byteOffset + normStart + 4 * 32));
    expect(gamma.reduce((s, v) => s + v, 0) / gamma.length).toBeCloseTo(1, 1);
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'generation_config.json']) {
      expect(readFileSync(path.join(out, file))).toEqual(readFileSync(path.join(assets, file)));
    }
    expect(readRandomCheckpointInfo(out)?.seed).toBe(3);
    const second = writeRandomCheckpoint({ kind: 'captioning', shapes: config, outDir: out, assetsDir: assets, seed: 3 });
    expect(second.reused).toBe(true);
    const reseeded = writeRandomCheckpoint({ kind: 'captioning', shapes: config, outDir: out, assetsDir: assets, seed: 4 });
    expect(reseeded.reused).toBe(false);
  });
});

// Writes a BLIP checkpoint folder with random weights in the Hugging Face layout: config.json,
// model.safetensors (every tensor name and shape the published checkpoints have), and the
// tokenizer/preprocessor files copied from an existing checkpoint of the same kind. Benchmarks
// and fidelity measurements use it at the real BLIP-base sizes, which cannot be downloaded here.
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { baseConfig, type ShapePreset } from './base-configs.js';
import { checkpointLayout, layoutConfigSchema, parameterCount, type CheckpointKind, type TensorSpec } from './checkpoint-layout.js';
import { RandomCheckpointError } from './errors.js';
import { generatedAssetFiles } from './tiny-assets.js';

/** Files copied verbatim from the assets checkpoint (generation_config.json only where present). */
const ASSET_FILES = ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json'] as const;
const OPTIONAL_ASSET_FILES = ['generation_config.json'] as const;
/** Written last: its presence means the folder is complete. Bump the version when the output changes. */
export const RANDOM_CHECKPOINT_MARKER = 'random-checkpoint.json';
const WRITER_VERSION = 1;

const markerSchema = z.object({
  writerVersion: z.number(),
  kind: z.enum(['captioning', 'vqa', 'retrieval']),
  shapes: z.string(),
  seed: z.number(),
  std: z.number(),
  parameters: z.number(),
});
export type RandomCheckpointInfo = z.infer<typeof markerSchema>;

export interface RandomCheckpointOptions {
  kind: CheckpointKind;
  /** 'base' for the published BLIP-base shapes, or a config.json object to copy the shapes from */
  shapes: ShapePreset | Record<string, unknown>;
  outDir: string;
  /**
   * checkpoint folder whose tokenizer and preprocessor files are copied; absent: a generated
   * BERT WordPiece tokenizer (not bert-base-uncased's vocabulary) and the BLIP processor config
   */
  assetsDir?: string;
  /** @default 1 */
  seed?: number;
  /** standard deviation of the weights; LayerNorm weights are 1 + N(0, std) @default 0.02 */
  std?: number;
  /** rewrite even when a complete checkpoint with the same parameters is already there */
  force?: boolean;
}

export interface RandomCheckpointResult {
  dir: string;
  reused: boolean;
  info: RandomCheckpointInfo;
  bytes: number;
}

/** FNV-1a of the tensor name mixed with the seed: each tensor's values do not depend on the others. */
function tensorSeed(name: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** Fills `out` with N(mean, std) from a xorshift32 stream (Box-Muller). */
export function fillGaussian(out: Float32Array, seed: number, mean: number, std: number): void {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * std;
    const t = 2 * Math.PI * uniform();
    out[i] = mean + r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(t);
  }
}

function tensorValues(spec: TensorSpec, seed: number, std: number): Float32Array {
  const values = new Float32Array(spec.shape.reduce((p, d) => p * d, 1));
  fillGaussian(values, tensorSeed(spec.name, seed), spec.role === 'norm-weight' ? 1 : 0, std);
  return values;
}

/** safetensors: u64 header length, JSON header (padded to 8 bytes), then the raw data in order. */
function writeSafetensors(file: string, layout: readonly TensorSpec[], seed: number, std: number): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of layout) {
    const size = t.shape.reduce((p, d) => p * d, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, headerBytes);
    for (const t of layout) {
      const values = tensorValues(t, seed, std);
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    }
  } finally {
    closeSync(fd);
  }
  return 8 + headerBytes.length + offset;
}

export function readRandomCheckpointInfo(dir: string): RandomCheckpointInfo | undefined {
  const file = path.join(dir, RANDOM_CHECKPOINT_MARKER);
  if (!existsSync(file)) return undefined;
  const parsed = markerSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function writeRandomCheckpoint(options: RandomCheckpointOptions): RandomCheckpointResult {
  const seed = options.seed ?? 1;
  const std = options.std ?? 0.02;
  const shapesName = typeof options.shapes === 'string' ? options.shapes : 'custom';
  const rawConfig: Record<string, unknown> =
    typeof options.shapes === 'string' ? baseConfig(options.kind) : structuredClone(options.shapes);
  const parsedConfig = layoutConfigSchema.safeParse(rawConfig);
  if (!parsedConfig.success) {
    throw new RandomCheckpointError('bad_config', `config does not describe a BLIP checkpoint: ${parsedConfig.error.message}`);
  }
  const layout = checkpointLayout(parsedConfig.data);
  const info: RandomCheckpointInfo = {
    writerVersion: WRITER_VERSION, kind: options.kind, shapes: shapesName, seed, std, parameters: parameterCount(layout),
  };
  const existing = readRandomCheckpointInfo(options.outDir);
  if (!options.force && existing && JSON.stringify(existing) === JSON.stringify(info)) {
    return { dir: options.outDir, reused: true, info, bytes: 0 };
  }
  const assetsDir = options.assetsDir;
  for (const name of assetsDir === undefined ? [] : ASSET_FILES) {
    if (!existsSync(path.join(assetsDir ?? '', name))) {
      throw new RandomCheckpointError('missing_assets', `${assetsDir} has no ${name} to copy`);
    }
  }
  const partial = `${options.outDir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    writeFileSync(path.join(partial, 'config.json'), `${JSON.stringify(rawConfig, null, 2)}\n`);
    if (assetsDir === undefined) {
      for (const [name, text] of Object.entries(generatedAssetFiles(parsedConfig.data.vision_config.image_size))) writeFileSync(path.join(partial, name), text);
    } else {
      for (const name of [...ASSET_FILES, ...OPTIONAL_ASSET_FILES]) {
        const source = path.join(assetsDir, name);
        if (existsSync(source)) copyFileSync(source, path.join(partial, name));
      }
    }
    const bytes = writeSafetensors(path.join(partial, 'model.safetensors'), layout, seed, std);
    writeFileSync(path.join(partial, RANDOM_CHECKPOINT_MARKER), `${JSON.stringify(info, null, 2)}\n`);
    rmSync(options.outDir, { recursive: true, force: true });
    mkdirSync(path.dirname(options.outDir), { recursive: true });
    renameSync(partial, options.outDir);
    return { dir: options.outDir, reused: false, info, bytes };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

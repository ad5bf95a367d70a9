import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type BlipConfig, readBlipConfig } from '../config.js';
import { BlipCheckpointError } from '../errors.js';
import { readCompiledOnlyMarker, weightsRemovedError } from './compiled-only.js';
import { cachedSha256 } from './hash.js';
import { PytorchFile } from './pytorch.js';
import { type FloatTensor, SafetensorsFile } from './safetensors.js';

export { SafetensorsFile, type FloatTensor, type TensorInfo } from './safetensors.js';
export { PytorchFile } from './pytorch.js';
export { PickleRefusedError } from './pickle.js';
export { cachedSha256, sha256OfFile } from './hash.js';
export { COMPILED_ONLY_MARKER, readCompiledOnlyMarker, removeCompiledWeights } from './compiled-only.js';

export const WEIGHTS_FILE = 'model.safetensors';
/** Sharded checkpoints: `{"weight_map": {tensor name: shard file}}` beside the shards. */
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
/** PyTorch's zip checkpoint, read (without running its pickle) when no safetensors weights are there. */
export const PYTORCH_WEIGHTS_FILE = 'pytorch_model.bin';

/** A file of named tensors: safetensors or PyTorch. */
export interface WeightFile {
  readonly file: string;
  has(name: string): boolean;
  float32(name: string): FloatTensor;
}

/** A BLIP checkpoint folder as Hugging Face `save_pretrained` writes it. Weights are read on demand. */
export interface BlipCheckpoint {
  readonly dir: string;
  readonly config: BlipConfig;
  /** The safetensors file(s), or the pytorch_model.bin, holding the weights; empty when they were removed after compiling (compiled-only.ts). */
  readonly weightFiles: readonly string[];
  /** SHA-256 of the weights file; for a sharded checkpoint, of its index and the shards' digests. */
  readonly sha256: string;
  loadWeights(): Promise<CheckpointWeights>;
}

/** Tensors of a checkpoint by their Hugging Face state-dict names, across one or more files. */
export class CheckpointWeights {
  private readonly files: readonly WeightFile[];

  constructor(files: WeightFile | readonly WeightFile[]) {
    this.files = Array.isArray(files) ? files : [files as WeightFile];
  }

  has(name: string): boolean {
    return this.files.some((file) => file.has(name));
  }

  get(name: string): FloatTensor {
    const file = this.files.find((candidate) => candidate.has(name));
    if (!file) throw new BlipCheckpointError('missing_weight', `the checkpoint has no tensor ${name}`);
    return file.float32(name);
  }

  /**
   * The LM head projection `<prefix>.cls.predictions.decoder.weight`; checkpoints saved with
   * `tie_word_embeddings` omit it and share the word embeddings instead.
   */
  lmHeadWeight(prefix: string): FloatTensor {
    const own = `${prefix}.cls.predictions.decoder.weight`;
    return this.has(own) ? this.get(own) : this.get(`${prefix}.bert.embeddings.word_embeddings.weight`);
  }

  /** The LM head bias: `cls.predictions.bias`, or `cls.predictions.decoder.bias` in some exports. */
  lmHeadBias(prefix: string): FloatTensor {
    const own = `${prefix}.cls.predictions.bias`;
    return this.has(own) ? this.get(own) : this.get(`${prefix}.cls.predictions.decoder.bias`);
  }
}

const weightIndexSchema = z.object({ weight_map: z.record(z.string(), z.string().regex(/^[^/\\]+\.safetensors$/)) });

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The weight files of `dir` and the digest that identifies them. */
async function locateWeights(dir: string, cacheDir: string): Promise<{ files: string[]; sha256: string }> {
  const single = path.join(dir, WEIGHTS_FILE);
  if (await exists(single)) return { files: [single], sha256: (await cachedSha256(single, cacheDir)).sha256 };
  const indexFile = path.join(dir, WEIGHTS_INDEX_FILE);
  const pytorch = path.join(dir, PYTORCH_WEIGHTS_FILE);
  if (!(await exists(indexFile)) && (await exists(pytorch))) return { files: [pytorch], sha256: (await cachedSha256(pytorch, cacheDir)).sha256 };
  let indexText: string;
  try {
    indexText = await readFile(indexFile, 'utf8');
  } catch (error) {
    throw new BlipCheckpointError(
      'not_a_checkpoint',
      `${dir} is not a BLIP checkpoint: no ${WEIGHTS_FILE} (or ${WEIGHTS_INDEX_FILE}, or ${PYTORCH_WEIGHTS_FILE})`,
      { cause: error },
    );
  }
  let index: z.infer<typeof weightIndexSchema>;
  try {
    index = weightIndexSchema.parse(JSON.parse(indexText));
  } catch (error) {
    throw new BlipCheckpointError('invalid_weights', `${indexFile} is not a valid safetensors index`, { cause: error });
  }
  const files = [...new Set(Object.values(index.weight_map))].sort().map((shard) => path.join(dir, shard));
  for (const file of files) {
    if (!(await exists(file))) throw new BlipCheckpointError('not_a_checkpoint', `${dir}: ${WEIGHTS_INDEX_FILE} names ${path.basename(file)}, which is missing`);
  }
  const digest = createHash('sha256').update(indexText);
  for (const file of files) digest.update((await cachedSha256(file, cacheDir)).sha256);
  return { files, sha256: digest.digest('hex') };
}

export async function openCheckpoint(dir: string, options: { cacheDir: string }): Promise<BlipCheckpoint> {
  const config = await readBlipConfig(dir);
  const hasWeights = (await exists(path.join(dir, WEIGHTS_FILE))) || (await exists(path.join(dir, WEIGHTS_INDEX_FILE)));
  const compiledOnly = hasWeights ? undefined : await readCompiledOnlyMarker(dir);
  if (compiledOnly) {
    return {
      dir,
      config,
      weightFiles: [],
      sha256: compiledOnly.checkpointSha256,
      loadWeights: () => Promise.reject(weightsRemovedError(dir, compiledOnly)),
    };
  }
  const { files, sha256 } = await locateWeights(dir, options.cacheDir);
  return {
    dir,
    config,
    weightFiles: files,
    sha256,
    loadWeights: async () =>
      new CheckpointWeights(
        await Promise.all(files.map((file) => (file.endsWith('.bin') ? PytorchFile.open(file) : SafetensorsFile.open(file)))),
      ),
  };
}

import { access } from 'node:fs/promises';
import path from 'node:path';
import { type BlipConfig, readBlipConfig } from '../config.js';
import { BlipCheckpointError } from '../errors.js';
import { cachedSha256 } from './hash.js';
import { type FloatTensor, SafetensorsFile } from './safetensors.js';

export { SafetensorsFile, type FloatTensor, type TensorInfo } from './safetensors.js';
export { cachedSha256, sha256OfFile } from './hash.js';

export const WEIGHTS_FILE = 'model.safetensors';

/** A BLIP checkpoint folder as Hugging Face `save_pretrained` writes it. Weights are read on demand. */
export interface BlipCheckpoint {
  readonly dir: string;
  readonly config: BlipConfig;
  readonly weightsFile: string;
  /** SHA-256 of model.safetensors. */
  readonly sha256: string;
  loadWeights(): Promise<CheckpointWeights>;
}

/** Tensors of a checkpoint by their Hugging Face state-dict names. */
export class CheckpointWeights {
  constructor(private readonly file: SafetensorsFile) {}

  has(name: string): boolean {
    return this.file.has(name);
  }

  get(name: string): FloatTensor {
    return this.file.float32(name);
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

export async function openCheckpoint(dir: string, options: { cacheDir: string }): Promise<BlipCheckpoint> {
  const config = await readBlipConfig(dir);
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  try {
    await access(weightsFile);
  } catch (error) {
    throw new BlipCheckpointError('not_a_checkpoint', `${dir} is not a BLIP checkpoint: no ${WEIGHTS_FILE}`, { cause: error });
  }
  const { sha256 } = await cachedSha256(weightsFile, options.cacheDir);
  return {
    dir,
    config,
    weightsFile,
    sha256,
    loadWeights: async () => new CheckpointWeights(await SafetensorsFile.open(weightsFile)),
  };
}

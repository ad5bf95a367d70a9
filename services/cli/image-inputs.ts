import { readFile } from 'node:fs/promises';
import type { ImageInput } from '../blip/index.js';
import { preprocessImage, readProcessorConfig } from '../blip/processing/index.js';
import { CliInputError } from './errors.js';

/**
 * Image arguments of the CLI commands: encoded image files, preprocessed with the model's own
 * processor config, or raw `--pixel-values` tensors. Failures name the file in one line.
 */

export { CliInputError };

/** An image file, or a raw little-endian float32 `[1, 3, S, S]` tensor (`--pixel-values`). */
export type ImageSource = { kind: 'file'; path: string } | { kind: 'pixels'; path: string };

export async function readInputFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliInputError(`${file}: ${reason}`, { cause: error });
  }
}

/** A raw little-endian float32 `[1, 3, S, S]` tensor. */
export function pixelValuesFrom(file: string, bytes: Buffer): ImageInput {
  const floats = bytes.length / 4;
  const side = Math.round(Math.sqrt(floats / 3));
  if (bytes.length % 4 !== 0 || 3 * side * side !== floats) {
    throw new CliInputError(`${file}: not a float32 [1,3,S,S] tensor (${bytes.length} bytes)`);
  }
  const pixelValues = new Float32Array(floats);
  for (let i = 0; i < floats; i += 1) pixelValues[i] = bytes.readFloatLE(4 * i);
  return { pixelValues, height: side, width: side };
}

/** Reads every source up front (so a missing file fails before the model loads). */
export async function readSources(sources: readonly ImageSource[]): Promise<{ source: ImageSource; bytes: Buffer }[]> {
  return Promise.all(sources.map(async (source) => ({ source, bytes: await readInputFile(source.path) })));
}

/** Turns read sources into model inputs: files preprocessed with the processor config in `modelDir`. */
export async function toImageInputs(read: readonly { source: ImageSource; bytes: Buffer }[], modelDir: string): Promise<ImageInput[]> {
  const needsProcessor = read.some(({ source }) => source.kind === 'file');
  const processor = needsProcessor ? await readProcessorConfig(modelDir) : undefined;
  return Promise.all(
    read.map(async ({ source, bytes }): Promise<ImageInput> => {
      if (source.kind === 'pixels' || !processor) return pixelValuesFrom(source.path, bytes);
      try {
        return await preprocessImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), processor);
      } catch (error) {
        throw new CliInputError(`${source.path}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
}

import { unzipSync } from 'fflate';
import { BlipCheckpointError } from '../errors.js';
import { BYTES_PER_ELEMENT, FLOAT_DTYPES, floatReader, readWeightsFile } from './dtypes.js';
import { PickleRefusedError, readStateDictPickle, type TensorRef } from './pickle.js';
import type { FloatTensor } from './safetensors.js';

/**
 * Reader for `pytorch_model.bin` as `torch.save` writes it since PyTorch 1.6: a zip archive holding
 * `<archive>/data.pkl` (the state dict's pickle, read by `pickle.ts` without executing anything) and one
 * `<archive>/data/<key>` entry of raw little-endian bytes per storage. Tensors are widened to float32.
 * The legacy (pre-zip) format is refused: it cannot be read without running its pickles.
 */
export class PytorchFile {
  private constructor(
    readonly file: string,
    private readonly tensors: ReadonlyMap<string, TensorRef>,
    private readonly storages: ReadonlyMap<string, Buffer>,
  ) {}

  static async open(file: string): Promise<PytorchFile> {
    return PytorchFile.fromBytes(file, await readWeightsFile(file));
  }

  static fromBytes(file: string, bytes: Uint8Array): PytorchFile {
    const invalid = (why: string, cause?: unknown) =>
      new BlipCheckpointError('invalid_weights', `${file} is not a PyTorch checkpoint this runtime reads: ${why}`, { cause });
    if (!(bytes[0] === 0x50 && bytes[1] === 0x4b)) {
      throw invalid('it is not a zip archive (checkpoints saved before PyTorch 1.6 cannot be read without running code; re-save them or convert them to safetensors)');
    }
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(bytes);
    } catch (error) {
      throw invalid('its zip archive is damaged', error);
    }
    const pickleName = Object.keys(entries).find((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (!pickleName) throw invalid('its zip archive has no <archive>/data.pkl');
    const prefix = pickleName.slice(0, -'data.pkl'.length);
    const byteorder = entries[`${prefix}byteorder`];
    if (byteorder && Buffer.from(byteorder).toString('ascii').trim() !== 'little') throw invalid('its storages are big-endian');
    let tensors: Map<string, TensorRef>;
    try {
      tensors = readStateDictPickle(entries[pickleName]!);
    } catch (error) {
      if (error instanceof PickleRefusedError) throw new BlipCheckpointError('invalid_weights', `${file}: ${error.message}`, { cause: error });
      throw error;
    }
    const storages = new Map<string, Buffer>();
    for (const [name, tensor] of tensors) {
      const { key, dtype } = tensor.storage;
      const entry = entries[`${prefix}data/${key}`];
      if (!entry) throw invalid(`tensor ${name} names storage ${key}, which the archive lacks`);
      const elements = entry.byteLength / BYTES_PER_ELEMENT[dtype]!;
      const last = tensor.offset + tensor.shape.reduce((sum, size, i) => sum + (size > 0 ? (size - 1) * tensor.stride[i]! : 0), 0);
      if (tensor.shape.some((size) => size === 0) ? tensor.offset > elements : last >= elements) {
        throw invalid(`tensor ${name} reaches past the end of storage ${key}`);
      }
      storages.set(key, Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength));
    }
    return new PytorchFile(file, tensors, storages);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor as float32: a view for contiguous F32 data, else a widened or gathered copy. */
  float32(name: string): FloatTensor {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new BlipCheckpointError('missing_weight', `${this.file} has no tensor ${name}`);
    const { dtype, key } = tensor.storage;
    if (!FLOAT_DTYPES.has(dtype)) throw new BlipCheckpointError('invalid_weights', `${this.file}: tensor ${name} has unsupported dtype ${dtype}`);
    const storage = this.storages.get(key)!;
    const { shape, stride, offset } = tensor;
    const count = shape.reduce((a, b) => a * b, 1);
    const start = storage.byteOffset + 4 * offset;
    // A contiguous float32 tensor in an aligned storage is a view, as safetensors' are.
    if (dtype === 'F32' && isContiguous(shape, stride) && start % 4 === 0) return { shape, data: new Float32Array(storage.buffer, start, count) };
    const read = floatReader(dtype, storage);
    const data = new Float32Array(count);
    if (isContiguous(shape, stride)) {
      for (let n = 0; n < count; n++) data[n] = read(offset + n);
      return { shape, data };
    }
    const index = new Array<number>(shape.length).fill(0);
    for (let n = 0; n < count; n++) {
      let at = offset;
      for (let d = 0; d < shape.length; d++) at += index[d]! * stride[d]!;
      data[n] = read(at);
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++index[d]! < shape[d]!) break;
        index[d] = 0;
      }
    }
    return { shape, data };
  }
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d]! !== 1 && stride[d]! !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

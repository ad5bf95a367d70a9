import { z } from 'zod';
import { BlipCheckpointError } from '../errors.js';
import { BYTES_PER_ELEMENT, floatReader, readWeightsFile } from './dtypes.js';

/**
 * Reader for the safetensors format: an 8-byte little-endian header length, a JSON header mapping
 * tensor names to `{dtype, shape, data_offsets}`, then the raw little-endian tensor bytes.
 * Float32 tensors are returned as zero-copy views into the file buffer; F16/BF16 are widened.
 */
const tensorEntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
const headerSchema = z.record(z.string(), z.unknown());

export interface TensorInfo {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface FloatTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly bytes: Buffer,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
  ) {}

  static async open(file: string): Promise<SafetensorsFile> {
    return SafetensorsFile.fromBytes(file, await readWeightsFile(file));
  }

  static fromBytes(file: string, bytes: Buffer): SafetensorsFile {
    const invalid = (why: string, cause?: unknown) =>
      new BlipCheckpointError('invalid_weights', `${file} is not a valid safetensors file: ${why}`, { cause });
    if (bytes.length < 8) throw invalid('shorter than its header length');
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const dataStart = 8 + headerLength;
    if (dataStart > bytes.length) throw invalid('header length past the end of the file');
    let header: Record<string, unknown>;
    try {
      header = headerSchema.parse(JSON.parse(bytes.subarray(8, dataStart).toString('utf8')));
    } catch (error) {
      throw invalid('unreadable JSON header', error);
    }
    const tensors = new Map<string, TensorInfo>();
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const entry = tensorEntrySchema.safeParse(value);
      if (!entry.success) throw invalid(`bad header entry for ${name}`, entry.error);
      const { dtype, shape, data_offsets: [begin, end] } = entry.data;
      const elementBytes = BYTES_PER_ELEMENT[dtype];
      const count = shape.reduce((a, b) => a * b, 1);
      if (elementBytes !== undefined && end - begin !== count * elementBytes) {
        throw invalid(`${name}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${dtype}`);
      }
      if (dataStart + end > bytes.length || begin > end) throw invalid(`${name}: data past the end of the file`);
      tensors.set(name, { dtype, shape, byteOffset: dataStart + begin, byteLength: end - begin });
    }
    return new SafetensorsFile(file, bytes, tensors);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor as float32: a view into the file buffer when stored as aligned F32, else a converted copy. */
  float32(name: string): FloatTensor {
    const info = this.tensors.get(name);
    if (!info) throw new BlipCheckpointError('missing_weight', `${this.file} has no tensor ${name}`);
    const { bytes } = this;
    const absolute = bytes.byteOffset + info.byteOffset;
    switch (info.dtype) {
      case 'F32': {
        const count = info.byteLength / 4;
        const data =
          absolute % 4 === 0
            ? new Float32Array(bytes.buffer, absolute, count)
            : new Float32Array(bytes.buffer.slice(absolute, absolute + info.byteLength));
        return { shape: info.shape, data };
      }
      case 'F16':
      case 'BF16':
      case 'F64': {
        const count = info.byteLength / BYTES_PER_ELEMENT[info.dtype]!;
        const data = new Float32Array(count);
        const read = floatReader(info.dtype, bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength));
        for (let i = 0; i < count; i += 1) data[i] = read(i);
        return { shape: info.shape, data };
      }
      default:
        throw new BlipCheckpointError('invalid_weights', `${this.file}: tensor ${name} has unsupported dtype ${info.dtype}`);
    }
  }
}

/** Element sizes and float32 widening of the tensor dtypes a checkpoint may store (safetensors names). */
import { readFile } from 'node:fs/promises';
import { BlipCheckpointError } from '../errors.js';

/** A weights file's bytes; an unreadable file is `not_a_checkpoint`. */
export async function readWeightsFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new BlipCheckpointError('not_a_checkpoint', `cannot read ${file}`, { cause: error });
  }
}

export const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** dtypes `widenToFloat32` reads; the others (integer buffers such as position ids) are never weights. */
export const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

const conversion = new DataView(new ArrayBuffer(4));

export function bfloat16ToFloat(bits: number): number {
  conversion.setUint32(0, bits << 16);
  return conversion.getFloat32(0);
}

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Element `index` (in elements from the start of `bytes`) of a little-endian float tensor, as a number.
 * `bytes` is a Buffer so reads need no alignment.
 */
export function floatReader(dtype: string, bytes: Buffer): (index: number) => number {
  switch (dtype) {
    case 'F32':
      return (i) => bytes.readFloatLE(4 * i);
    case 'F64':
      return (i) => bytes.readDoubleLE(8 * i);
    case 'F16':
      return (i) => halfToFloat(bytes.readUInt16LE(2 * i));
    case 'BF16':
      return (i) => bfloat16ToFloat(bytes.readUInt16LE(2 * i));
    default:
      throw new RangeError(`${dtype} is not a float dtype`);
  }
}

// Weight quantisation for the int8 graphs. Weights arrive as a row-major [K, N] float32 matrix
// (the layout ONNX MatMul takes: input width K, output width N).
import { transposeInto } from '../matrix.js';

export interface PerChannelInt8 {
  /** row-major int8, symmetric (zero point 0): [K, N] for a weight, [rows, width] for a table */
  values: Int8Array;
  /** one scale per output channel (N) or per table row */
  scales: Float32Array;
}

/** Symmetric per-output-channel int8: w[k, n] ~= values[k, n] * scales[n]. */
export function quantizePerChannelInt8(weight: Float32Array, k: number, n: number): PerChannelInt8 {
  if (weight.length !== k * n) throw new RangeError(`weight has ${weight.length} values, expected ${k}x${n}`);
  const scales = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const a = Math.abs(weight[row + c]!);
      if (a > scales[c]!) scales[c] = a;
    }
  }
  for (let c = 0; c < n; c++) scales[c] = scales[c]! > 0 ? scales[c]! / 127 : 1;
  const values = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const q = Math.round(weight[row + c]! / scales[c]!);
      values[row + c] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales };
}

export interface NBitsWeight {
  /** [N, blocksPerColumn, blobSize] packed unsigned values as MatMulNBits takes them */
  packed: Uint8Array;
  /** [N * blocksPerColumn] one scale per block */
  scales: Float32Array;
  blocksPerColumn: number;
  blobSize: number;
}

/**
 * Block-wise symmetric quantisation in the layout of the onnxruntime contrib operator MatMulNBits:
 * for each output column n, K is cut into blocks of `blockSize`; each block has one scale and the
 * default zero point 2^(bits-1) (so no zero-point input is needed). 4-bit values are packed two per
 * byte, the lower index in the low nibble. A partial last block is padded with the zero point.
 */
export function quantizeNBits(weight: Float32Array, k: number, n: number, bits: 4 | 8, blockSize: number): NBitsWeight {
  if (weight.length !== k * n) throw new RangeError(`weight has ${weight.length} values, expected ${k}x${n}`);
  const blocksPerColumn = Math.ceil(k / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const zero = 1 << (bits - 1);
  const qmax = zero - 1;
  const packed = new Uint8Array(n * blocksPerColumn * blobSize);
  const scales = new Float32Array(n * blocksPerColumn);
  if (bits === 4) packed.fill(zero | (zero << 4));
  else packed.fill(zero);
  for (let c = 0; c < n; c++) {
    for (let b = 0; b < blocksPerColumn; b++) {
      const start = b * blockSize;
      const end = Math.min(k, start + blockSize);
      let absMax = 0;
      for (let r = start; r < end; r++) absMax = Math.max(absMax, Math.abs(weight[r * n + c]!));
      const scale = absMax > 0 ? absMax / qmax : 1;
      scales[c * blocksPerColumn + b] = scale;
      const base = (c * blocksPerColumn + b) * blobSize;
      for (let r = start; r < end; r++) {
        let q = Math.round(weight[r * n + c]! / scale);
        if (q > qmax) q = qmax;
        if (q < -qmax) q = -qmax;
        const u = q + zero;
        const i = r - start;
        if (bits === 8) packed[base + i] = u;
        else {
          const byte = base + (i >> 1);
          packed[byte] = i & 1 ? (packed[byte]! & 0x0f) | (u << 4) : (packed[byte]! & 0xf0) | u;
        }
      }
    }
  }
  return { packed, scales, blocksPerColumn, blobSize };
}

/**
 * Symmetric int8 per row of a `[rows, width]` table (an embedding table: one scale per token; a
 * PyTorch `nn.Linear` weight: one per output channel), row-major: table[r, c] ~= values[r, c] *
 * scales[r]. `bits` 7 keeps every value within ±63 ("reduced range", see quantizeLinearWeight).
 */
export function quantizeRowsInt8(table: Float32Array, rows: number, width: number, bits: 7 | 8 = 8): PerChannelInt8 {
  if (table.length !== rows * width) throw new RangeError(`weights have ${table.length} values, expected ${rows}x${width}`);
  const qmax = bits === 8 ? 127 : 63;
  const scales = new Float32Array(rows);
  const values = new Int8Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    let absMax = 0;
    for (let c = 0; c < width; c++) absMax = Math.max(absMax, Math.abs(table[row + c]!));
    const scale = absMax > 0 ? absMax / qmax : 1;
    scales[r] = scale;
    for (let c = 0; c < width; c++) {
      const q = Math.round(table[row + c]! / scale);
      values[row + c] = q > qmax ? qmax : q < -qmax ? -qmax : q;
    }
  }
  return { values, scales };
}

/**
 * Symmetric per-output-channel quantisation of a PyTorch `nn.Linear` weight stored `[out, in]`,
 * returned transposed as the `[in, out]` int8 matrix MatMulInteger takes. `bits` 7 keeps every
 * value within ±63 ("reduced range"): the u8 x s8 kernels of CPUs without VNNI add pairs of
 * products in 16 bits, which can saturate with full-range weights; 8 uses ±127.
 */
export function quantizeLinearWeight(weight: Float32Array, outFeatures: number, inFeatures: number, bits: 7 | 8): PerChannelInt8 {
  const rows = quantizeRowsInt8(weight, outFeatures, inFeatures, bits);
  return { values: transposeInto(rows.values, outFeatures, inFeatures, new Int8Array(outFeatures * inFeatures)), scales: rows.scales };
}

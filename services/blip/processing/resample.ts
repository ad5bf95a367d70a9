/**
 * Pillow-exact image resizing for 8-bit RGB buffers.
 *
 * BLIP was trained and is evaluated on images resized by Pillow (`Image.resize`), whose separable
 * convolution differs measurably from libvips/sharp. This module reproduces Pillow's algorithm
 * (libImaging/Resample.c for the convolution filters, libImaging/Geometry.c `ImagingScaleAffine`
 * for nearest neighbour) so that the resized pixels are identical:
 *
 * - filter support widens by the downscale factor; one coefficient row per output pixel, normalised
 *   to sum 1 in double precision, then converted to fixed point with 22 fractional bits;
 * - a horizontal pass over only the source rows the vertical pass will read, then a vertical pass;
 *   each pass accumulates in integers (starting at one half) and clips to 8 bits.
 *
 * The passes run as WebAssembly SIMD kernels (wasm/resample.wat) when the engine supports them, else
 * in plain TypeScript; both are integer-exact, so they give identical bytes.
 */

import { RESAMPLE_WASM_BASE64 } from './wasm/resample-wasm.js';

/** Pillow's resampling filter ids (`PIL.Image.Resampling`), as stored in `preprocessor_config.json`. */
export const Resampling = {
  NEAREST: 0,
  LANCZOS: 1,
  BILINEAR: 2,
  BICUBIC: 3,
  BOX: 4,
  HAMMING: 5,
} as const;
export type ResamplingFilter = (typeof Resampling)[keyof typeof Resampling];

/** An interleaved 8-bit RGB image (`data.length === width * height * 3`). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

interface Filter {
  fn: (x: number) => number;
  support: number;
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;
// `0.54f` and `0.46f` in Resample.c are single-precision literals.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

function boxFilter(x: number): number {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

function bilinearFilter(x: number): number {
  const ax = x < 0 ? -x : x;
  return ax < 1.0 ? 1.0 - ax : 0.0;
}

function hammingFilter(x: number): number {
  let ax = x < 0 ? -x : x;
  if (ax === 0.0) return 1.0;
  if (ax >= 1.0) return 0.0;
  ax = ax * Math.PI;
  return (Math.sin(ax) / ax) * (HAMMING_A + HAMMING_B * Math.cos(ax));
}

function bicubicFilter(x: number): number {
  const a = -0.5;
  const ax = x < 0 ? -x : x;
  if (ax < 1.0) return ((a + 2.0) * ax - (a + 3.0)) * ax * ax + 1;
  if (ax < 2.0) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0.0;
}

function sinc(x: number): number {
  if (x === 0.0) return 1.0;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczosFilter(x: number): number {
  return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
}

const FILTERS: Record<Exclude<ResamplingFilter, 0>, Filter> = {
  [Resampling.BOX]: { fn: boxFilter, support: 0.5 },
  [Resampling.BILINEAR]: { fn: bilinearFilter, support: 1.0 },
  [Resampling.HAMMING]: { fn: hammingFilter, support: 1.0 },
  [Resampling.BICUBIC]: { fn: bicubicFilter, support: 2.0 },
  [Resampling.LANCZOS]: { fn: lanczosFilter, support: 3.0 },
};

/** Fixed-point coefficients for one pass: `bounds[2i]` = first source index, `bounds[2i+1]` = tap count. */
interface Coefficients {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

/** `precompute_coeffs` + `normalize_coeffs_8bpc` from Resample.c. */
export function precomputeCoefficients(
  inSize: number,
  in0: number,
  in1: number,
  outSize: number,
  filter: Filter,
): Coefficients {
  // The box is `float` in C.
  const box0 = Math.fround(in0);
  const box1 = Math.fround(in1);
  const scale = (box1 - box0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = box0 + (xx + 0.5) * scale;
    let ww = 0.0;
    // C casts to int (truncation toward zero) before clamping.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0.0 ? k[x] / ww : k[x];
      kk[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over source rows [offset, offset + outHeight). */
function resampleHorizontal(
  src: Uint8Array,
  srcWidth: number,
  offset: number,
  outWidth: number,
  outHeight: number,
  c: Coefficients,
): Uint8Array {
  const out = new Uint8Array(outWidth * outHeight * 3);
  const { ksize, bounds, kk } = c;
  const rowStride = srcWidth * 3;
  let o = 0;
  for (let yy = 0; yy < outHeight; yy++) {
    const rowBase = (yy + offset) * rowStride;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const kBase = xx * ksize;
      let ss0 = HALF;
      let ss1 = HALF;
      let ss2 = HALF;
      let p = rowBase + xmin * 3;
      for (let x = 0; x < xmax; x++) {
        const w = kk[kBase + x] | 0;
        ss0 = (ss0 + Math.imul(src[p] | 0, w)) | 0;
        ss1 = (ss1 + Math.imul(src[p + 1] | 0, w)) | 0;
        ss2 = (ss2 + Math.imul(src[p + 2] | 0, w)) | 0;
        p += 3;
      }
      out[o] = clip8(ss0);
      out[o + 1] = clip8(ss1);
      out[o + 2] = clip8(ss2);
      o += 3;
    }
  }
  return out;
}

function resampleVertical(
  src: Uint8Array,
  width: number,
  outHeight: number,
  c: Coefficients,
): Uint8Array {
  const out = new Uint8Array(width * outHeight * 3);
  const { ksize, bounds, kk } = c;
  const rowStride = width * 3;
  let o = 0;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2];
    const ymax = bounds[yy * 2 + 1];
    const kBase = yy * ksize;
    const colBase = ymin * rowStride;
    for (let i = 0; i < rowStride; i++) {
      let ss = HALF;
      let p = colBase + i;
      for (let y = 0; y < ymax; y++) {
        ss = (ss + Math.imul(src[p] | 0, kk[kBase + y] | 0)) | 0;
        p += rowStride;
      }
      out[o++] = clip8(ss);
    }
  }
  return out;
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface SimdKernels {
  memory: WasmMemory;
  transpose: (src: number, w: number, h: number, dst: number, dstStride: number) => void;
  vertical: (
    src: number, stride: number, rowBytes: number, outH: number,
    bounds: number, kk: number, ksize: number, out: number,
  ) => void;
}

let simdModule: object | null | undefined;

/** The compiled SIMD kernels, or null where this engine has no WebAssembly SIMD. */
function simdKernelModule(): object | null {
  if (simdModule === undefined) {
    try {
      simdModule = wasmApi ? new wasmApi.Module(Buffer.from(RESAMPLE_WASM_BASE64, 'base64')) : null;
    } catch {
      simdModule = null;
    }
  }
  return simdModule;
}

/** Whether `resizeRgb` runs its convolution passes as WebAssembly SIMD here. */
export function simdResamplingAvailable(): boolean {
  return simdKernelModule() !== null;
}

function isMemory(value: unknown): value is WasmMemory {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { buffer?: unknown }).buffer instanceof ArrayBuffer &&
    typeof (value as { grow?: unknown }).grow === 'function'
  );
}

function instantiateKernels(module: object): SimdKernels {
  if (!wasmApi) throw new Error('WebAssembly is not available');
  const { exports } = new wasmApi.Instance(module, {});
  const { memory, transpose, vertical } = exports;
  if (!isMemory(memory) || typeof transpose !== 'function' || typeof vertical !== 'function') {
    throw new Error('resample kernels: unexpected WebAssembly exports');
  }
  return { memory, transpose: transpose as SimdKernels['transpose'], vertical: vertical as SimdKernels['vertical'] };
}

const PAD = 16;
const align16 = (n: number): number => (n + 15) & ~15;

/**
 * Both passes in one WebAssembly instance (its memory is freed with it). The horizontal pass is the
 * vertical kernel applied to the transposed rows, so that both passes process 16 bytes per step:
 * transpose the source rows used -> filter -> transpose back -> vertical pass.
 */
function convolveSimd(
  module: object,
  img: RgbImage,
  width: number,
  height: number,
  vert: Coefficients,
  horiz: Coefficients | undefined,
  yboxFirst: number,
  yboxLast: number,
): Uint8Array {
  const srcRows = horiz ? yboxLast - yboxFirst : img.height;
  const srcStride = img.width * 3;
  const srcBytes = img.data.subarray(horiz ? yboxFirst * srcStride : 0, (horiz ? yboxLast : img.height) * srcStride);
  const rowBytes = width * 3;
  // Transposed layouts: one row per source column (srcRows pixels), then one per output column.
  const colBytes = srcRows * 3;
  const colStride = align16(colBytes + 1);
  const midStride = align16(rowBytes + 1);
  let offset = 0;
  const take = (bytes: number): number => {
    const at = offset;
    offset = align16(offset + bytes + PAD);
    return at;
  };
  const srcOff = take(srcBytes.length);
  const transOff = horiz ? take(colStride * img.width) : 0;
  const filteredOff = horiz ? take(colBytes * width) : 0;
  const midOff = horiz ? take(midStride * srcRows) : srcOff;
  const hBoundsOff = horiz ? take(horiz.bounds.byteLength) : 0;
  const hKkOff = horiz ? take(horiz.kk.byteLength) : 0;
  const vBoundsOff = take(vert.bounds.byteLength);
  const vKkOff = take(vert.kk.byteLength);
  const outOff = take(rowBytes * height);

  const kernels = instantiateKernels(module);
  const pages = Math.ceil(offset / 65536) - kernels.memory.buffer.byteLength / 65536;
  if (pages > 0) kernels.memory.grow(pages);
  const heap = kernels.memory.buffer;
  new Uint8Array(heap, srcOff, srcBytes.length).set(srcBytes);
  new Int32Array(heap, vBoundsOff, vert.bounds.length).set(vert.bounds);
  new Int32Array(heap, vKkOff, vert.kk.length).set(vert.kk);
  let mid = srcOff;
  let midRowStride = srcStride;
  if (horiz) {
    new Int32Array(heap, hBoundsOff, horiz.bounds.length).set(horiz.bounds);
    new Int32Array(heap, hKkOff, horiz.kk.length).set(horiz.kk);
    kernels.transpose(srcOff, img.width, srcRows, transOff, colStride);
    kernels.vertical(transOff, colStride, colBytes, width, hBoundsOff, hKkOff, horiz.ksize, filteredOff);
    kernels.transpose(filteredOff, srcRows, width, midOff, midStride);
    mid = midOff;
    midRowStride = midStride;
  }
  if (height !== img.height) {
    kernels.vertical(mid, midRowStride, rowBytes, height, vBoundsOff, vKkOff, vert.ksize, outOff);
    return new Uint8Array(heap, outOff, rowBytes * height).slice();
  }
  // Horizontal pass only: gather the (strided) rows.
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) out.set(new Uint8Array(heap, mid + y * midRowStride, rowBytes), y * rowBytes);
  return out;
}

/** `ImagingScaleAffine` (Geometry.c): what `Image.resize(size, NEAREST)` runs. */
function resizeNearest(img: RgbImage, width: number, height: number): RgbImage {
  const COORD = (v: number): number => (v < 0.0 ? -1 : Math.trunc(v));
  const a0 = img.width / width;
  const a4 = img.height / height;
  const xintab = new Int32Array(width);
  let xmin = width;
  let xmax = 0;
  let xo = a0 * 0.5;
  for (let x = 0; x < width; x++) {
    const xin = COORD(xo);
    if (xin >= 0 && xin < img.width) {
      xmax = x + 1;
      if (x < xmin) xmin = x;
      xintab[x] = xin;
    }
    xo += a0;
  }
  const out = new Uint8Array(width * height * 3);
  let yo = a4 * 0.5;
  for (let y = 0; y < height; y++) {
    const yi = COORD(yo);
    if (yi >= 0 && yi < img.height) {
      const inRow = yi * img.width * 3;
      const outRow = y * width * 3;
      for (let x = xmin; x < xmax; x++) {
        const s = inRow + xintab[x] * 3;
        const d = outRow + x * 3;
        out[d] = img.data[s];
        out[d + 1] = img.data[s + 1];
        out[d + 2] = img.data[s + 2];
      }
    }
    yo += a4;
  }
  return { data: out, width, height };
}

/**
 * Resize an RGB image exactly as Pillow's `Image.resize((width, height), resample)` does
 * (whole-image box, no `reducing_gap`).
 */
export function resizeRgb(
  img: RgbImage,
  width: number,
  height: number,
  resample: ResamplingFilter,
  options: { implementation?: 'auto' | 'simd' | 'js' } = {},
): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError('RGB buffer length does not match width * height * 3');
  }
  if (img.width === width && img.height === height) {
    return { data: img.data.slice(), width, height };
  }
  if (resample === Resampling.NEAREST) return resizeNearest(img, width, height);

  const filter = FILTERS[resample];
  const needHorizontal = width !== img.width;
  const needVertical = height !== img.height;

  const vert = precomputeCoefficients(img.height, 0, img.height, height, filter);
  const yboxFirst = vert.bounds[0];
  const yboxLast = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];

  const horiz = needHorizontal ? precomputeCoefficients(img.width, 0, img.width, width, filter) : undefined;
  if (horiz) {
    for (let i = 0; i < height; i++) vert.bounds[i * 2] -= yboxFirst;
  }

  const implementation = options.implementation ?? 'auto';
  const simd = implementation === 'js' ? null : simdKernelModule();
  if (implementation === 'simd' && !simd) throw new Error('WebAssembly SIMD is not available in this engine');
  if (simd) {
    return { data: convolveSimd(simd, img, width, height, vert, horiz, yboxFirst, yboxLast), width, height };
  }

  let data = img.data;
  let curWidth = img.width;
  if (horiz) {
    data = resampleHorizontal(data, img.width, yboxFirst, width, yboxLast - yboxFirst, horiz);
    curWidth = width;
  }
  if (needVertical) {
    data = resampleVertical(data, curWidth, height, vert);
  }
  return { data, width, height };
}

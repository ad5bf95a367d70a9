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
 */

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

  let data = img.data;
  let curWidth = img.width;
  if (needHorizontal) {
    const horiz = precomputeCoefficients(img.width, 0, img.width, width, filter);
    for (let i = 0; i < height; i++) vert.bounds[i * 2] -= yboxFirst;
    data = resampleHorizontal(data, img.width, yboxFirst, width, yboxLast - yboxFirst, horiz);
    curWidth = width;
  }
  if (needVertical) {
    data = resampleVertical(data, curWidth, height, vert);
  }
  return { data, width, height };
}

import type { ProcessorConfig } from './config.js';
import type { RgbImage } from './resample.js';

/**
 * Per-channel lookup of the 256 possible 8-bit values, computed in the same float32 arithmetic as
 * Hugging Face's image processors: `rescale` multiplies in float64 and casts to float32, then
 * `normalize` computes `(x - mean) / std` with mean and std as float32.
 */
function channelTable(config: ProcessorConfig, channel: 0 | 1 | 2): Float32Array {
  const table = new Float32Array(256);
  const mean = Math.fround(config.imageMean[channel]);
  const std = Math.fround(config.imageStd[channel]);
  for (let v = 0; v < 256; v++) {
    let x = config.doRescale ? Math.fround(v * config.rescaleFactor) : v;
    if (config.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
    table[v] = x;
  }
  return table;
}

/** Interleaved RGB (HWC, uint8) -> rescaled, normalised planar `[1, 3, H, W]` float32. */
export function toPixelValues(img: RgbImage, config: ProcessorConfig): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(plane * 3);
  const tables = [channelTable(config, 0), channelTable(config, 1), channelTable(config, 2)] as const;
  const src = img.data;
  for (let c = 0 as 0 | 1 | 2; c < 3; c++) {
    const table = tables[c];
    const base = c * plane;
    for (let p = 0, s = c; p < plane; p++, s += 3) out[base + p] = table[src[s]!]!;
  }
  return out;
}

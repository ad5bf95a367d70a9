/**
 * Image preprocessing for BLIP, faithful to Hugging Face's `BlipImageProcessor` on Pillow:
 * decode (sharp) -> RGB as Pillow's `convert("RGB")` -> Pillow-exact resize -> rescale -> normalise.
 */
import { resizeOutputSize, type ProcessorConfig } from './config.js';
import { DEFAULT_IMAGE_LIMITS, decodeImage, type ImageLimits } from './decode.js';
import { toPixelValues } from './normalize.js';
import { resizeRgb, type RgbImage } from './resample.js';

export { readProcessorConfig, parseProcessorConfig, resizeOutputSize } from './config.js';
export type { ProcessorConfig, ResizeTarget } from './config.js';
export { DEFAULT_IMAGE_LIMITS, decodeImage, jpegShrinkFactor, sniffImageType } from './decode.js';
export type { DecodedImage, DecodeOptions, ImageLimits, SniffedType } from './decode.js';
export { ImageInputError, ProcessorConfigError } from './errors.js';
export type { ImageInputErrorCode } from './errors.js';
export { Resampling, resizeRgb } from './resample.js';
export type { ResamplingFilter, RgbImage } from './resample.js';
export { toPixelValues } from './normalize.js';
export { differenceStats } from './compare.js';

export interface PreprocessedImage {
  /** `[1, 3, height, width]` float32, channels first. */
  pixelValues: Float32Array;
  height: number;
  width: number;
  /** The decoded image: sniffed format and its size after EXIF orientation. */
  source: { format: string; width: number; height: number };
  /** The EXIF orientation tag applied (1 when absent). */
  orientation: number;
}

/** Twice the longest side the processor resizes to: a JPEG shrunk on load never gets smaller than this. */
export function shrinkFloor(config: ProcessorConfig): number {
  const { size } = config;
  const side = size.kind === 'fixed' ? Math.max(size.height, size.width) : size.shortestEdge;
  return 2 * side;
}

/** Resize (if configured) and normalise an already decoded RGB image. */
export function preprocessRgb(rgb: RgbImage, config: ProcessorConfig): { pixelValues: Float32Array; height: number; width: number } {
  let img = rgb;
  if (config.doResize) {
    const { height, width } = resizeOutputSize(config.size, rgb.width, rgb.height);
    img = resizeRgb(rgb, width, height, config.resample);
  }
  return { pixelValues: toPixelValues(img, config), height: img.height, width: img.width };
}

/**
 * Encoded image bytes -> BLIP pixel values. Throws `ImageInputError` for anything that is not a usable image.
 * Images are always converted to RGB (the vision encoder takes three channels), whatever `doConvertRgb` says.
 */
export async function preprocessImage(
  bytes: Uint8Array,
  config: ProcessorConfig,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<PreprocessedImage> {
  const decoded = await decodeImage(bytes, limits, { minSide: shrinkFloor(config) });
  return { ...preprocessRgb(decoded.rgb, config), source: decoded.source, orientation: decoded.orientation };
}

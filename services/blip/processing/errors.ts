import { BlipError } from '../errors.js';

/** Why an image could not be turned into pixel values. The worker maps `code` to a record's failure reason. */
export type ImageInputErrorCode =
  | 'empty'
  | 'not_an_image'
  | 'unsupported_format'
  | 'truncated'
  | 'too_large'
  | 'too_many_pixels'
  | 'corrupt';

/** The input bytes are not an image this runtime can decode within its limits. */
export class ImageInputError extends BlipError {
  declare readonly code: ImageInputErrorCode;
  constructor(code: ImageInputErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The header declares more pixels than the limit: refused before any pixel is decoded. */
export function tooManyPixels(width: number, height: number, limit: number): ImageInputError {
  return new ImageInputError('too_many_pixels', `the image declares ${width}x${height} pixels, more than the limit of ${limit} pixels`);
}

/** `preprocessor_config.json` is missing, unreadable or invalid. */
export class ProcessorConfigError extends BlipError {
  declare readonly code: 'invalid_processor_config';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_processor_config', message, options);
  }
}

import { BlipError } from '../errors.js';

/** The checkpoint's tokenizer files are missing or unreadable. */
export class TokenizerError extends BlipError {
  declare readonly code: 'invalid_tokenizer';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_tokenizer', message, options);
  }
}

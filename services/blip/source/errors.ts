import { BlipError } from '../errors.js';

export type ModelSourceErrorCode =
  /** Neither an existing folder nor a Hub id. */
  | 'invalid_model'
  /** A folder (local or on the Hub) that lacks files a BLIP checkpoint needs. */
  | 'not_a_checkpoint'
  /** The Hub repository or revision does not exist (or is private and no token was given). */
  | 'hub_not_found'
  /** The Hub refused the credentials. */
  | 'hub_unauthorized'
  /** The Hub could not be reached (offline, DNS, refused, timed out). */
  | 'hub_unreachable'
  /** The Hub answered with an unexpected error. */
  | 'hub_error'
  /** The local cache folder could not be written. */
  | 'cache_write_failed';

/** Where the model comes from (local folder or Hugging Face Hub) cannot be used. Messages are one line. */
export class ModelSourceError extends BlipError {
  declare readonly code: ModelSourceErrorCode;
  constructor(code: ModelSourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

import { BliplineError } from '../core/errors.js';

/** An object is larger than the byte limit; reading stopped at the limit. */
export class ObjectTooLargeError extends BliplineError {
  constructor(readonly key: string, readonly limit: number, options?: { cause?: unknown }) {
    super('too_large', `object ${JSON.stringify(key)} is larger than ${limit} bytes`, options);
  }
}

/** The object no longer exists (deleted or overwritten away before the worker got to it). */
export class ObjectMissingError extends BliplineError {
  constructor(readonly key: string, options?: { cause?: unknown }) {
    super('object_missing', `object ${JSON.stringify(key)} does not exist`, options);
  }
}

/** A record write lost a conditional check that the caller did not expect to lose. */
export class RecordConflictError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('record_conflict', message, options);
  }
}

/** A secret could not be read from Secrets Manager (missing, not allowed, not a string, unreachable). */
export class SecretUnavailableError extends BliplineError {
  constructor(readonly secretArn: string, reason: string, options?: { cause?: unknown }) {
    super('secret_unavailable', `cannot read secret ${secretArn}: ${reason}`, options);
  }
}

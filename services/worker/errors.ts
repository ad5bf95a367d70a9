import { BliplineError } from '../core/errors.js';

/** A job could not finish for a reason that may pass (the message is left for redelivery). */
export class RetryableJobError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('retryable', message, options);
  }
}

/** The queue could not be polled `receiveFailureLimit` times in a row: the worker gives up (non-zero exit). */
export class ReceiveFailedError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('receive_failed', message, options);
  }
}

/** The worker was stopped while a job waited: the job is handed back to the queue, not failed. */
export class WorkerStoppingError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('stopping', message, options);
  }
}

/** An error's message (or the thrown value as text), for logs and failure records. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

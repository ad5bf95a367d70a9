// Errors of the checkpoint tools.

export type RandomCheckpointErrorCode = 'bad_config' | 'missing_assets';

export class RandomCheckpointError extends Error {
  override readonly name = 'RandomCheckpointError';
  constructor(
    readonly code: RandomCheckpointErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The emulator (or helper) a failure belongs to. */
export type StackPiece = 's3' | 'sqs' | 'dynamodb' | 'redis' | 'oidc' | 'bridge';

export type LocalStackErrorCode =
  | 'missing_dependency' // a program the piece needs is not installed (java, redis-server)
  | 'start_failed' // the piece was started but did not come up
  | 'port_in_use' // the piece reported its port taken by another program (started again on another port)
  | 'setup_failed'; // the piece is up but creating the bucket/queue/table failed

/** Base class for every error thrown by the local stack. */
export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;
  readonly piece: StackPiece;

  constructor(piece: StackPiece, code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(`local stack: ${piece}: ${message}`, options);
    this.name = 'LocalStackError';
    this.piece = piece;
    this.code = code;
  }
}

/** Thrown by startLocalStack when one or more pieces failed; lists every failure in one message. */
export class LocalStackStartError extends Error {
  readonly code = 'start_failed' as const;
  readonly failures: LocalStackError[];

  constructor(failures: LocalStackError[]) {
    super(
      `the local stack could not start:\n${failures.map((f) => `  - ${f.message}`).join('\n')}`,
      { cause: failures[0] },
    );
    this.name = 'LocalStackStartError';
    this.failures = failures;
  }
}

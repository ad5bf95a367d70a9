/** Errors of the BLIP runtime. Every error carries a stable `code` and, where there is one, its `cause`. */
export class BlipError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export type CheckpointErrorCode =
  | 'not_a_checkpoint'
  | 'invalid_config'
  | 'unsupported_architecture'
  | 'invalid_weights'
  | 'missing_weight'
  | 'weights_removed';

/** The model folder is not a BLIP checkpoint this runtime can read. */
export class BlipCheckpointError extends BlipError {
  declare readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type UsageErrorCode = 'wrong_model_kind' | 'invalid_option' | 'invalid_input';

/** A caller asked for something the loaded model or the arguments cannot do. */
export class BlipUsageError extends BlipError {
  declare readonly code: UsageErrorCode;
  constructor(code: UsageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type RuntimeErrorCode = 'graph_build_failed' | 'session_failed' | 'inference_failed';

/** Building, loading or running the compiled graphs failed. */
export class BlipRuntimeError extends BlipError {
  declare readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

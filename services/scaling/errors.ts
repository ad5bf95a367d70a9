/** Base class of the scaling model's errors: a stable `code` plus the underlying `cause`. */
export class ScalingError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A scaling setting is out of range; the message names the setting and what to change. */
export class ScalingSettingsError extends ScalingError {
  constructor(message: string) {
    super('invalid_scaling_settings', message);
  }
}

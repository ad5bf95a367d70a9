/** Base class of the shared domain's errors: a stable `code` plus the underlying `cause`. */
export class BliplineError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The environment is missing variables or has invalid values; `issues` lists every one. */
export class ConfigError extends BliplineError {
  readonly issues: string[];

  constructor(issues: string[]) {
    super('invalid_config', `invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.issues = issues;
  }
}

/** A value from outside (an S3 event, a queue message, an object key) does not have the expected shape. */
export class InvalidInputError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_input', message, options);
  }
}

/** Base class of the infrastructure code's errors: a stable `code` plus the underlying `cause`. */
export class InfraError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A stack property (or CDK context value) is invalid; the message says which one and what to change. */
export class StackConfigError extends InfraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_stack_props', message, options);
  }
}

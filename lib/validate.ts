import { StackConfigError } from './errors.js';

/** Throws the StackConfigError that says what to change. */
export function fail(message: string): never {
  throw new StackConfigError(message);
}

/** `value` as an integer in [min, max], else a StackConfigError naming the prop, the range and `hint`. */
export function int(name: string, value: number, min: number, max: number, hint: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max} (got ${value}); ${hint}`);
  }
  return value;
}

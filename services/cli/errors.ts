import { BlipError } from '../blip/errors.js';
import { ConfigError } from '../core/errors.js';
import { runtimeEnv } from '../core/config.js';

/**
 * The CLI's errors and the one place that turns any error into an exit code and one stderr line.
 *
 * Exit codes: 0 success; 2 usage error (bad or missing arguments: `CliUsageError`); 1 any runtime
 * failure (unreadable input, bad model folder, invalid environment, a service that fails).
 */

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

/** Base of the CLI's own errors: a stable `code`, the exit code, and the message is the one line printed. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad or missing command-line arguments (exit 2). */
export class CliUsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_arguments', message, EXIT_USAGE, options);
  }
}

/** An input named on the command line cannot be used: missing file, not an image, wrong tensor size (exit 1). */
export class CliInputError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_input', message, EXIT_FAILURE, options);
  }
}

/** Something the command needs failed at run time, e.g. the local stack of `blipline dev` (exit 1). */
export class CliRuntimeError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('runtime_failure', message, EXIT_FAILURE, options);
  }
}

const oneLine = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');

/**
 * Prints `blipline <command>: <reason>` (one line) to stderr and returns the exit code. Expected
 * errors (the CLI's, the BLIP runtime's, configuration) print no stack; an unexpected one prints
 * its stack too only with LOG_LEVEL=debug (or trace).
 */
export function reportCliError(command: string, error: unknown): number {
  const prefix = command === '' ? 'blipline' : `blipline ${command}`;
  if (error instanceof CliError) {
    process.stderr.write(`${prefix}: ${oneLine(error.message)}\n`);
    return error.exitCode;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`${prefix}: invalid environment: ${error.issues.join('; ')}\n`);
    return EXIT_FAILURE;
  }
  if (error instanceof BlipError) {
    process.stderr.write(`${prefix}: ${oneLine(error.message)}\n`);
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${prefix}: unexpected error: ${oneLine(message)}\n`);
  let level: string | undefined;
  try {
    level = runtimeEnv('LOG_LEVEL');
  } catch {
    level = undefined;
  }
  if ((level === 'debug' || level === 'trace') && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}

/**
 * A subcommand's entry `(argv) => exit code` that never throws: errors go through
 * `reportCliError` (runCli and the in-process tests call the same function).
 */
export function cliCommand(name: string, main: (argv: string[]) => Promise<number>): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      return await main(argv);
    } catch (error) {
      return reportCliError(name, error);
    }
  };
}

import { pino, type Logger } from 'pino';
import { type LogLevel, runtimeEnv } from './config.js';

export type { Logger };

/**
 * The one logger factory: JSON logs (pino) on stdout unless `destination` says otherwise; children
 * carry `requestId` / `jobId` / `imageId` bindings. Level: `level`, else LOG_LEVEL (validated: an
 * invalid value throws a ConfigError naming it), else `defaultLevel`, else info.
 */
export function createLogger(options: { level?: LogLevel; defaultLevel?: LogLevel; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? runtimeEnv('LOG_LEVEL') ?? options.defaultLevel ?? 'info',
      base: { service: options.name ?? 'blipline' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

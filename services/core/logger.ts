import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** JSON logs on stdout (pino); children carry `requestId` / `jobId` / `imageId` bindings. */
export function createLogger(options: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? (process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info',
      base: { service: options.name ?? 'blipline' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

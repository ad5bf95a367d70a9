import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { loadConfig, runtimeEnv, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createApp } from './app.js';
import { createApiDeps } from './deps.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Runs the API as a Node HTTP server (local development, `blipline dev`). Port 0 picks a free one. */
export async function startServer(options: { config: Config; port?: number; hostname?: string; logger?: ReturnType<typeof createLogger> }): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: options.config.logLevel, name: 'api' });
  const deps = createApiDeps(options.config, logger);
  const app = createApp({ ...deps, clientIp: (c) => getConnInfo(c).remote.address ?? 'unknown' });
  const hostname = options.hostname ?? '127.0.0.1';
  let server: ServerType;
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port ?? 3000, hostname }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
  } catch (error) {
    await deps.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'EADDRINUSE' ? `port ${options.port ?? 3000} on ${hostname} is already in use (choose another with --port)` : `cannot listen on ${hostname}:${options.port ?? 3000}: ${(error as Error).message}`, { cause: error });
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${hostname}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = loadConfig();
  const running = await startServer({ config, port: runtimeEnv('PORT') ?? 3000, hostname: runtimeEnv('HOST') ?? '0.0.0.0' });
  process.stdout.write(`${JSON.stringify({ api: running.url })}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void running.close().then(() => process.exit(0)));
}

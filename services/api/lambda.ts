import { handle } from 'hono/aws-lambda';
import type { LambdaEvent } from 'hono/aws-lambda';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createApp } from './app.js';
import { createApiDeps } from './deps.js';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'api' });

/** API Gateway HTTP API (payload 2.0) / Lambda function URL handler over the same app as server.ts. */
const app = createApp({
  ...createApiDeps(config, logger),
  clientKey: (c) => {
    const event = (c.env as { event?: LambdaEvent } | undefined)?.event as { requestContext?: { http?: { sourceIp?: string }; identity?: { sourceIp?: string } } } | undefined;
    return event?.requestContext?.http?.sourceIp ?? event?.requestContext?.identity?.sourceIp ?? 'unknown';
  },
});

export const handler = handle(app);

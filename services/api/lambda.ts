import { getConnInfo, handle } from 'hono/aws-lambda';
import { withRedisPassword } from '../aws/secrets.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createApp } from './app.js';
import { createApiDeps } from './deps.js';

// The cache password is read from Secrets Manager once per cold start (BLIPLINE_REDIS_PASSWORD_SECRET_ARN).
const config = await withRedisPassword(loadConfig());
const logger = createLogger({ level: config.logLevel, name: 'api' });

/** API Gateway HTTP API (payload 2.0) / Lambda function URL handler over the same app as server.ts. */
const app = createApp({
  ...createApiDeps(config, logger),
  // The caller's address: behind CloudFront (origin verified) its viewer address, else the event's
  // requestContext.http.sourceIp.
  clientIp: (c) => {
    const viewer = config.originVerifySecret !== undefined ? c.req.header('cloudfront-viewer-address') : undefined;
    return viewer?.replace(/:\d+$/, '') ?? getConnInfo(c).remote.address ?? 'unknown';
  },
});

export const handler = handle(app);

import type { Logger } from 'pino';
import { createCache } from '../aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../aws/clients.js';
import { RecordStore } from '../aws/record-store.js';
import { ObjectStore } from '../aws/s3.js';
import { Queue } from '../aws/sqs.js';
import type { Config } from '../core/config.js';
import type { ApiDeps } from './app.js';

/** Builds the API's adapters from the validated configuration. */
export function createApiDeps(config: Config, logger: Logger): ApiDeps & { close(): Promise<void> } {
  const cache = createCache(config, logger);
  return {
    config,
    logger,
    cache,
    records: new RecordStore(createDynamoClient(config), config.table, { ttlDays: config.recordTtlDays }),
    objects: new ObjectStore(createS3Client(config), config.bucket),
    queue: new Queue(createSqsClient(config), config.queueUrl),
    close: () => cache.close(),
  };
}

import type { Logger } from 'pino';
import { createCache } from '../aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../aws/clients.js';
import { QuotaStore } from '../aws/quota-store.js';
import { RecordStore } from '../aws/record-store.js';
import { createResultPublisher } from '../aws/result-publisher.js';
import { ObjectStore } from '../aws/s3.js';
import { Queue } from '../aws/sqs.js';
import { ANONYMOUS_WARNING } from '../auth/index.js';
import type { Config } from '../core/config.js';
import type { ApiDeps } from './app.js';

/** Builds the API's adapters from the validated configuration (and warns loudly in anonymous mode). */
export function createApiDeps(config: Config, logger: Logger): ApiDeps & { close(): Promise<void> } {
  if (config.auth.mode === 'anonymous') logger.warn(ANONYMOUS_WARNING);
  const cache = createCache(config, logger);
  const dynamo = createDynamoClient(config);
  return {
    config,
    logger,
    cache,
    records: new RecordStore(dynamo, config.table, { ttlDays: config.recordTtlDays }),
    quotas: new QuotaStore(dynamo, config.table),
    objects: new ObjectStore(createS3Client(config), config.bucket),
    questionQueue: new Queue(createSqsClient(config), config.questionQueueUrl),
    publisher: createResultPublisher(config),
    close: () => cache.close(),
  };
}

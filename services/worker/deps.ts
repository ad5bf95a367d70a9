import type { Logger } from 'pino';
import { createCache } from '../aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../aws/clients.js';
import { RecordStore } from '../aws/record-store.js';
import { createResultPublisher, type ResultPublisher } from '../aws/result-publisher.js';
import { ObjectStore } from '../aws/s3.js';
import { Queue } from '../aws/sqs.js';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { Metrics } from '../core/metrics.js';
import { WebhookEnqueuer } from '../webhooks/jobs.js';
import type { Captioner, QuestionAnswerer } from './captioner.js';
import { Worker, type WorkerOptions } from './worker.js';

/** Builds a worker over the configured AWS resources and the given models. */
export function createWorker(
  config: Config,
  models: { captioner: Captioner; answerer?: QuestionAnswerer },
  options: { logger: Logger; metrics?: Metrics; worker?: Partial<WorkerOptions>; publisher?: ResultPublisher },
): { worker: Worker; metrics: Metrics; close(): Promise<void> } {
  const cache = createCache(config, options.logger);
  const metrics = options.metrics ?? new Metrics({ service: 'worker' });
  if (config.objectIdSecret === undefined) throw new ConfigError(['BLIPLINE_OBJECT_ID_SECRET: is required by the worker (>= 32 characters; image ids of dropped objects are an HMAC of their keys with it)']);
  const sqs = createSqsClient(config);
  const { webhooks } = config;
  if (webhooks.queueUrl && webhooks.secret === undefined) throw new ConfigError(['BLIPLINE_WEBHOOK_SECRET: is required with BLIPLINE_WEBHOOK_QUEUE_URL (whsec_<base64>, the webhook signing secret)']);
  const bus = options.publisher ?? createResultPublisher(config);
  const deliveryQueue = webhooks.queueUrl ? new Queue(sqs, webhooks.queueUrl) : undefined;
  const worker = new Worker({
    queue: new Queue(sqs, config.queueUrl),
    questionQueue: new Queue(sqs, config.questionQueueUrl),
    objects: new ObjectStore(createS3Client(config), config.bucket),
    records: new RecordStore(createDynamoClient(config), config.table, { ttlDays: config.recordTtlDays }),
    cache,
    captioner: models.captioner,
    answerer: models.answerer,
    publisher: deliveryQueue ? new WebhookEnqueuer(bus, deliveryQueue, { region: config.region }) : bus,
    webhooks:
      deliveryQueue && webhooks.secret
        ? {
            queue: deliveryQueue,
            delivery: { secret: webhooks.secret, policy: webhooks, timeoutMs: webhooks.timeoutSeconds * 1000 },
            attempts: webhooks.attempts,
            visibilityTimeoutSeconds: webhooks.visibilityTimeoutSeconds,
          }
        : undefined,
    metrics,
    logger: options.logger,
    options: {
      maxObjectBytes: config.maxUploadBytes,
      maxReceiveCount: config.maxReceiveCount,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      waitSeconds: config.receiveWaitSeconds,
      batchSize: config.receiveBatchSize,
      claimLeaseMs: config.claimLeaseSeconds * 1000,
      maxJobMs: config.maxJobSeconds * 1000,
      objectIdSecret: config.objectIdSecret,
      ...options.worker,
    },
  });
  return { worker, metrics, close: () => cache.close() };
}

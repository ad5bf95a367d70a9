import type { Logger } from 'pino';
import type { Cache } from '../aws/cache.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ObjectStore } from '../aws/s3.js';
import type { ResultPublisher } from '../aws/result-publisher.js';
import type { Queue } from '../aws/sqs.js';
import type { DeliveryOptions } from '../webhooks/delivery.js';
import type { Metrics } from '../core/metrics.js';
import type { Captioner, QuestionAnswerer } from './captioner.js';
import type { TaskProtection } from './task-protection.js';

export interface WorkerOptions {
  /** Largest object read (bytes); larger ones fail `too_large` without downloading. */
  maxObjectBytes: number;
  /** The queue's maxReceiveCount: on that receive a still-failing job is recorded as failed. */
  maxReceiveCount: number;
  /** Visibility timeout requested on receive and renewed by the heartbeat. @default 60 */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait. @default 20 */
  waitSeconds?: number;
  /** Messages per receive (max 10). @default 10 */
  batchSize?: number;
  /**
   * Lease of a caption claim; renewed by the heartbeat (every third of the visibility timeout) while the
   * model runs. When its worker dies the claim lapses and the next delivery of the content takes it over.
   * @default visibilityTimeoutSeconds * 1000 (the dead worker's messages and claims come back together)
   */
  claimLeaseMs?: number;
  /**
   * Longest wait for another worker's claim on the same content before retrying later; kept well below the
   * 120 s ECS stop timeout. The wait polls with backoff (250 ms doubling to 2 s) and ends at once on `stop()`,
   * which hands the message back. @default 60000
   */
  claimWaitMs?: number;
  /** Cache TTL of final records. @default 3600 */
  cacheTtlSeconds?: number;
  /**
   * Consecutive failed receives (wrong credentials, deleted queue, no network) after which `start()` rejects, so
   * the process exits non-zero and ECS replaces the task (and the error alarm fires). Between them the worker
   * backs off exponentially: 1 s, 2 s, 4 s ... capped at 30 s. @default 8 (about 2 minutes)
   */
  receiveFailureLimit?: number;
  /**
   * Deadline of one receive's jobs (ms from the receive). Past it the S3 calls of its jobs are aborted, the
   * heartbeat stops renewing its messages and caption claims, and the messages come back for redelivery
   * (a hung call or model run cannot hold a message forever). @default 900000 (15 min)
   */
  maxJobMs?: number;
  /** The HMAC key that turns a dropped object's key into its image id (BLIPLINE_OBJECT_ID_SECRET, >= 32 characters). */
  objectIdSecret: string;
}

/** WorkerOptions with every default filled in. */
export type ResolvedWorkerOptions = Required<WorkerOptions>;

/** Fills in the defaults of the options not given (or given as undefined). */
export function resolveOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 60;
  return {
    visibilityTimeoutSeconds,
    waitSeconds: 20,
    batchSize: 10,
    claimLeaseMs: visibilityTimeoutSeconds * 1000,
    claimWaitMs: 60_000,
    cacheTtlSeconds: 3_600,
    receiveFailureLimit: 8,
    maxJobMs: 900_000,
    // Options given as undefined keep their defaults.
    ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as WorkerOptions),
  };
}

export interface WorkerDeps {
  /** The captions queue: S3 event notifications. */
  queue: Queue;
  /** The questions queue (VQA jobs), polled by a loop of its own; absent: questions are not consumed. */
  questionQueue?: Queue;
  objects: ObjectStore;
  records: RecordStore;
  cache: Cache;
  captioner: Captioner;
  /** Absent: questions fail with `vqa_unavailable`. */
  answerer?: QuestionAnswerer;
  /** Result events (and webhook deliveries); absent: none are published. */
  publisher?: ResultPublisher;
  /** The webhook delivery queue and how to deliver; absent: no delivery loop runs. */
  webhooks?: WebhookDeliveryDeps;
  metrics: Metrics;
  logger: Logger;
  options: WorkerOptions;
  /** ECS task scale-in protection while messages are held. @default from ECS_AGENT_URI (none off ECS) */
  taskProtection?: TaskProtection;
}

export interface WebhookDeliveryDeps {
  queue: Queue;
  delivery: DeliveryOptions;
  /** The delivery queue's maxReceiveCount. */
  attempts: number;
  /** Visibility of a delivery in work; the retry backoff is this · 2^attempt. */
  visibilityTimeoutSeconds: number;
}

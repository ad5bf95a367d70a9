import { InternalServerError, ProvisionedThroughputExceededException, ThrottlingException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../services/aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../../services/aws/clients.js';
import { RecordStore } from '../../services/aws/record-store.js';
import { ObjectStore } from '../../services/aws/s3.js';
import type { BlipModel } from '../../services/blip/index.js';
import type { Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import { Worker } from '../../services/worker/worker.js';
import { Counting, loadCaptioner } from '../pipeline/models.js';
import { configFor, CountingQueue } from '../pipeline/support.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';
import { drop, finalRecords, isFinal, noiseImage, peekDlq, poll, queueCounts, recordOfKey, total } from './support.js';

/**
 * Scenario 4: DynamoDB faults injected into the real DynamoDB client (a middleware inside the SDK's
 * retry loop, in front of DynamoDB Local): throttling and transient 500s are retried by the SDK's
 * standard strategy with backoff; a failure that outlasts the retries leaves the message for
 * redelivery, and the result is written on a later receive (never lost). The DLQ end of a failure
 * that never heals is in test/worker/worker.test.ts.
 */
const stack = useLocalStack({ redis: 'none', visibilityTimeoutSeconds: 2 });
const clients = useLocalClients(stack);
const logger = createLogger({ level: 'silent' });
let config: Config;
let model: BlipModel | undefined;
let counting: Counting;
const workers: Worker[] = [];

type FaultRule = (call: { command: string; attempt: number; pk: string | undefined; values: Record<string, AttributeValue> }) => Error | undefined;

/** Injects errors into a DynamoDB client; counts attempts and the SDK's retry delays. */
class FaultInjector {
  injected = new Map<string, number>();
  attempts = 0;
  retried = 0;
  totalRetryDelayMs = 0;
  constructor(
    doc: DynamoDBDocumentClient,
    private readonly rule: FaultRule,
  ) {
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        this.attempts += 1;
        const header = (args.request as { headers?: Record<string, string> }).headers?.['amz-sdk-request'] ?? '';
        const attempt = Number(/attempt=(\d+)/.exec(header)?.[1] ?? '1');
        const input = args.input as { Key?: { pk?: AttributeValue }; Item?: { pk?: AttributeValue }; ExpressionAttributeValues?: Record<string, AttributeValue> };
        const pk = input.Key?.pk?.S ?? input.Item?.pk?.S;
        const error = this.rule({ command: context.commandName ?? '', attempt, pk, values: input.ExpressionAttributeValues ?? {} });
        if (error) {
          this.injected.set(error.name, (this.injected.get(error.name) ?? 0) + 1);
          throw error;
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'faultInjector' },
    );
    doc.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const meta = (result.output as { $metadata?: { attempts?: number; totalRetryDelay?: number } }).$metadata;
        if ((meta?.attempts ?? 1) > 1) this.retried += 1;
        this.totalRetryDelayMs += meta?.totalRetryDelay ?? 0;
        return result;
      },
      { step: 'initialize', name: 'retryObserver' },
    );
  }
}

const throttle = () => new ProvisionedThroughputExceededException({ message: 'injected: throughput exceeded', $metadata: { httpStatusCode: 400 } });
const throttling = () => new ThrottlingException({ message: 'injected: rate exceeded', $metadata: { httpStatusCode: 400 } });
const serverError = () => new InternalServerError({ message: 'injected: internal server error', $metadata: { httpStatusCode: 500 } });

function startWorker(rule: FaultRule, maxAttempts: number) {
  const doc = createDynamoClient(config, { maxAttempts });
  const faults = new FaultInjector(doc, rule);
  const queue = new CountingQueue(createSqsClient(config), config.queueUrl);
  const worker = new Worker({
    queue,
    objects: new ObjectStore(createS3Client(config), config.bucket),
    records: new RecordStore(doc, config.table, { ttlDays: 1 }),
    cache: new Cache({ url: undefined, keyPrefix: '', logger }),
    captioner: counting,
    metrics: new Metrics({ service: 'worker', sink: null }),
    logger,
    options: { maxObjectBytes: config.maxUploadBytes, maxReceiveCount: 5, waitSeconds: 1, visibilityTimeoutSeconds: 2, objectIdSecret: config.objectIdSecret! },
  });
  workers.push(worker);
  void worker.start();
  return { worker, faults, queue };
}

beforeAll(async () => {
  config = configFor(stack());
  const loaded = await loadCaptioner();
  model = loaded.model;
  counting = new Counting(loaded.captioner);
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await model?.dispose();
});

const records = () => new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });

describe('DynamoDB faults (scenario 4)', () => {
  it('retries throttling and transient 500s with backoff inside one delivery: every image done, one inference each', { timeout: 180_000 }, async () => {
    let calls = 0;
    // Every first attempt fails (a throughput exception, a throttle or a 500 in turn); every third call's second attempt too.
    const { faults, queue } = startWorker(({ attempt }) => {
      if (attempt === 1) calls += 1;
      const kind = calls % 3;
      if (attempt === 1) return kind === 0 ? throttle() : kind === 1 ? throttling() : serverError();
      if (attempt === 2 && kind === 2) return serverError();
      return undefined;
    }, 8);
    const keys = Array.from({ length: 6 }, (_, i) => `ddb/throttled-${i}.png`);
    for (const [i, k] of keys.entries()) await drop(clients().s3, stack(), k, await noiseImage(40_000 + i));
    const before = counting.images;
    const all = await poll(() => finalRecords(records(), keys), (m) => [...m.values()].every(isFinal), 150_000, 'records final', 300);
    await poll(() => queueCounts(clients().sqs, config.queueUrl), (c) => total(c) === 0, 30_000, 'queue drained');
    expect([...all.values()].map((r) => r?.status)).toEqual(Array(6).fill('done'));
    expect(counting.images - before).toBe(6);
    // The SDK absorbed every fault: no message was delivered twice.
    expect(queue.deliveries.size).toBeGreaterThan(0);
    expect([...queue.deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(faults.injected.get('ProvisionedThroughputExceededException')).toBeGreaterThan(0);
    expect(faults.injected.get('ThrottlingException')).toBeGreaterThan(0);
    expect(faults.injected.get('InternalServerError')).toBeGreaterThan(0);
    expect(faults.retried).toBeGreaterThan(0);
    expect(faults.totalRetryDelayMs).toBeGreaterThan(0);
    console.info(
      `[faults] dynamodb transient: ${[...faults.injected].map(([k, v]) => `${k}=${v}`).join(', ')} injected over ${faults.attempts} attempts; ` +
        `${faults.retried} calls succeeded after retries (total backoff ${faults.totalRetryDelayMs} ms); 6/6 done, deliveries per message 1`,
    );
  });

  it('a failure that outlasts the SDK retries leaves the message for redelivery; the result is written on a later receive', { timeout: 180_000 }, async () => {
    const key = 'ddb/write-fails-twice.png';
    let failedAttempts = 0;
    const maxAttempts = 2;
    // The final `done` write of this image fails on every SDK attempt of the first two receives.
    const { queue } = startWorker(({ command, pk, values }) => {
      const isDoneWrite = command === 'UpdateItemCommand' && pk?.startsWith('image#') && values[':status']?.S === 'done';
      if (!isDoneWrite || failedAttempts >= 2 * maxAttempts) return undefined;
      failedAttempts += 1;
      return serverError();
    }, maxAttempts);
    const before = counting.images;
    await drop(clients().s3, stack(), key, await noiseImage(41_000));
    const record = await poll(() => recordOfKey(records(), key), (r) => isFinal(r), 120_000, 'record final', 300);
    await poll(() => queueCounts(clients().sqs, config.queueUrl), (c) => total(c) === 0, 30_000, 'queue drained');
    expect(record).toMatchObject({ status: 'done', cacheHit: true });
    expect(failedAttempts).toBe(2 * maxAttempts);
    // Three receives of the one message: two abandoned after the write failed, the third wrote the result.
    expect([...queue.deliveries.values()].sort()).toEqual([3]);
    // The caption itself was stored on the first receive: the model ran once.
    expect(counting.images - before).toBe(1);
    expect(await peekDlq(clients().sqs, stack())).toEqual([]);
    console.info(`[faults] dynamodb permanent (2 receives): ${failedAttempts} failed write attempts, 3 receives, record done (cacheHit), 1 inference, DLQ empty`);
  });
});

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cache } from '../../services/aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../../services/aws/clients.js';
import { RecordStore, type ImageResult } from '../../services/aws/record-store.js';
import { ObjectStore } from '../../services/aws/s3.js';
import { Queue } from '../../services/aws/sqs.js';
import type { Config } from '../../services/core/config.js';
import { newId } from '../../services/core/ids.js';
import { idForObjectKey } from '../../services/core/ids.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import type { ImageRecord } from '../../services/core/records.js';
import type { Captioner } from '../../services/worker/captioner.js';
import { Worker, type WorkerOptions } from '../../services/worker/worker.js';
import { fixturePath } from '../support/fixtures.js';
import { createLane, type Lane, type LaneOptions, useLocalStack } from '../support/local-stack.js';
import { Counting, loadCaptioner } from '../pipeline/models.js';
import { blipCaptioner } from '../../services/worker/blip-adapter.js';
import type { BlipModel } from '../../services/blip/index.js';
import { configFor, CountingQueue, waitFor } from '../pipeline/support.js';

// One stack for the file; every test gets its own lane (bucket, queue + DLQ, table), so no test sees another's
// messages, receives (a stopped worker's cut-off long poll) or records.
const stack = useLocalStack({ redis: 'none' });
const logger = createLogger({ level: (process.env.TEST_LOG as 'info' | undefined) ?? 'silent' });
const LANE: LaneOptions = { maxReceiveCount: 2, visibilityTimeoutSeconds: 3 };
let stackConfig: Config;
let config: Config;
let lane: Lane;
let captioner: Captioner;
let model: BlipModel | undefined;
const running: Worker[] = [];

/** Records every visibility change (message id, seconds). */
class RecordingQueue extends Queue {
  readonly visibility: { messageId: string; seconds: number }[] = [];
  override async changeVisibility(messages: { messageId: string; receiptHandle: string }[], seconds: number): Promise<string[]> {
    for (const m of messages) this.visibility.push({ messageId: m.messageId, seconds });
    return super.changeVisibility(messages, seconds);
  }
}

/** A table whose `done` writes fail for one key: a permanent fault DynamoDB Local cannot produce. */
class FailingStore extends RecordStore {
  constructor(
    config: Config,
    private readonly poisonImageId: string,
    private readonly failedWritesFail = false,
  ) {
    super(createDynamoClient(config), config.table, { ttlDays: 1 });
  }
  override async finishImage(imageId: string, sequencer: string, result: ImageResult) {
    if (imageId === this.poisonImageId && (result.status === 'done' || this.failedWritesFail)) throw new Error('simulated permanent DynamoDB failure');
    return super.finishImage(imageId, sequencer, result);
  }
}

/** A table whose caption writes always fail: the claim taken before the model must not be renewed forever. */
class CaptionWriteFails extends RecordStore {
  constructor(config: Config) {
    super(createDynamoClient(config), config.table, { ttlDays: 1 });
  }
  override async completeCaption(): Promise<never> {
    throw new Error('simulated caption write failure');
  }
}

function startWorker(options: { captioner?: Captioner; records?: RecordStore; queue?: Queue; objects?: ObjectStore; metrics?: Metrics; worker?: Partial<WorkerOptions> } = {}) {
  const worker = new Worker({
    queue: options.queue ?? new Queue(createSqsClient(config), config.queueUrl),
    objects: options.objects ?? new ObjectStore(createS3Client(config), config.bucket),
    records: options.records ?? new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 }),
    cache: new Cache({ url: undefined, keyPrefix: '', logger }),
    captioner: options.captioner ?? captioner,
    metrics: options.metrics ?? new Metrics({ service: 'worker', sink: null }),
    logger,
    options: { maxObjectBytes: config.maxUploadBytes, maxReceiveCount: LANE.maxReceiveCount, waitSeconds: 1, visibilityTimeoutSeconds: LANE.visibilityTimeoutSeconds, objectIdSecret: config.objectIdSecret!, ...options.worker },
  });
  running.push(worker);
  return { worker, done: worker.start() };
}

async function queueDepth(url: string): Promise<number> {
  const out = await createSqsClient(config).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

const records = () => new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });
const fixtureImage = async (file: string) => new Uint8Array(await readFile(fixturePath('images', file)));
const put = async (key: string, file: string) => lane.put(key, await fixtureImage(file));

/** A fresh lane with other receive settings for this test (the worker must be started with the same). */
async function useLane(options: LaneOptions): Promise<void> {
  lane = await createLane(stack(), options);
  config = { ...stackConfig, bucket: lane.bucket, queueUrl: lane.queueUrl, table: lane.table };
}

beforeAll(async () => {
  stackConfig = configFor(stack());
  ({ captioner, model } = await loadCaptioner());
});

beforeEach(() => useLane(LANE));

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await model?.dispose();
});

describe('worker', () => {
  it('deletes s3:TestEvent; leaves unparseable messages for the DLQ with a long backoff instead of deleting them', async () => {
    // A long visibility: the backoff (30 s x 2^1) keeps both invalid messages hidden for the rest of the test.
    await useLane({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
    const sqs = createSqsClient(config);
    await sqs.send(new SendMessageCommand({ QueueUrl: config.queueUrl, MessageBody: JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: config.bucket }) }));
    const invalid = await Promise.all(
      ['{"not":"an event"}', 'plain text'].map(async (body) => (await sqs.send(new SendMessageCommand({ QueueUrl: config.queueUrl, MessageBody: body }))).MessageId),
    );
    const queue = new RecordingQueue(createSqsClient(config), config.queueUrl);
    const metrics = new Metrics({ service: 'worker', sink: null });
    startWorker({ queue, metrics, worker: { visibilityTimeoutSeconds: 30 } });
    await waitFor(async () => metrics.total('Failures{Reason=invalid_message}'), (n) => n === 2, 20_000, 'two invalid messages seen');
    // Both still on the queue (in flight, hidden for the long backoff), not deleted; the test event is gone.
    await waitFor(() => queueDepth(config.queueUrl), (n) => n === 2, 10_000, 'only the invalid messages left');
    await Promise.all(running.splice(0).map((w) => w.stop()));
    const backoffs = queue.visibility.filter((v) => v.seconds !== 30);
    expect(backoffs.map((v) => v.seconds)).toEqual([60, 60]);
    expect(backoffs.map((v) => v.messageId).sort()).toEqual([...invalid].sort());
    expect(metrics.total('Failures{Reason=invalid_message}')).toBe(2);
  });

  it('processes the good records of an event whose other record is unreadable', async () => {
    const event = await lane.store('mixed/good one.jpg', await fixtureImage('photo_coffee.jpg'));
    // The good key's event with a bad record beside it.
    const good = event.Records[0] as { s3: { object: { key: string } } };
    const bad = structuredClone(good);
    bad.s3.object.key = 'bad%E0%A4%A.jpg';
    await new Queue(createSqsClient(config), config.queueUrl).send({ Records: [bad, good] });
    const metrics = new Metrics({ service: 'worker', sink: null });
    startWorker({ metrics });
    await waitFor(() => records().getImage(idForObjectKey('mixed/good one.jpg', config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, 'good record done');
    await waitFor(() => queueDepth(config.queueUrl), (n) => n === 0, 10_000, 'message deleted');
    expect(metrics.total('Failures{Reason=invalid_event_record}')).toBe(1);
  });

  it('keeps a message whose result cannot be written, and records processing_error on its last receive before the DLQ', async () => {
    const key = 'poison/write-fails.png';
    const imageId = idForObjectKey(key, config.objectIdSecret!);
    startWorker({ records: new FailingStore(config, imageId) });
    await put(key, 'gray_200x200.png');
    const failed = await waitFor(() => records().getImage(imageId), (r): r is ImageRecord => r?.status === 'failed', 30_000, 'failed record');
    expect(failed?.error?.code).toBe('processing_error');
    expect(failed?.error?.message).toContain('simulated permanent DynamoDB failure');
    await waitFor(() => queueDepth(lane.dlqUrl), (n) => n === 1, 30_000, 'message in the DLQ');
    expect(await queueDepth(config.queueUrl)).toBe(0);
  });

  it('when even the failure write fails on the last receive, the message still reaches the DLQ (record stays processing)', async () => {
    const key = 'poison/all-writes-fail.png';
    const imageId = idForObjectKey(key, config.objectIdSecret!);
    const queue = new RecordingQueue(createSqsClient(config), config.queueUrl);
    const lines: string[] = [];
    const metrics = new Metrics({ service: 'worker', sink: (line) => void lines.push(line) });
    startWorker({ queue, metrics, records: new FailingStore(config, imageId, true) });
    await put(key, 'wide_1200x100.png');
    await waitFor(() => queueDepth(lane.dlqUrl), (n) => n === 1, 40_000, 'message in the DLQ');
    await waitFor(() => queueDepth(config.queueUrl), (n) => n === 0, 10_000, 'main queue empty');
    expect((await records().getImage(imageId))?.status).toBe('processing');
    // The first receive: the long infrastructure backoff (visibility 3 s x 2^1); the last: visible at once for the DLQ.
    expect(queue.visibility.filter((v) => v.seconds !== 3).map((v) => v.seconds)).toEqual([6, 0]);
    // the lost failure write is counted, as one EMF line with its reason
    expect(metrics.total('Failures{Reason=failure_not_recorded}')).toBe(1);
    const notRecorded = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((m) => m.Reason === 'failure_not_recorded');
    expect(notRecorded).toHaveLength(1);
    expect(notRecorded[0]).toMatchObject({ Service: 'worker', Failures: 1 });
  });

  it('reports QueueWaitMs from the S3 event time to the job being accepted (0 for an event time ahead of the clock)', async () => {
    const lines: string[] = [];
    const metrics = new Metrics({ service: 'worker', sink: (line) => void lines.push(line) });
    const queue = new Queue(createSqsClient(config), config.queueUrl);
    const now = Date.now();
    const bytes = await fixtureImage('gray_200x200.png');
    await queue.send(await lane.store('wait/old.png', bytes, new Date(now - 60_000)));
    await queue.send(await lane.store('wait/skewed.png', bytes, new Date(now + 3_600_000)));
    startWorker({ metrics });
    for (const key of ['wait/old.png', 'wait/skewed.png']) {
      await waitFor(() => records().getImage(idForObjectKey(key, config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, `${key} done`);
    }
    const waits = lines
      .map((line) => JSON.parse(line) as { QueueWaitMs?: number; _aws: { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] } })
      .filter((m) => m.QueueWaitMs !== undefined);
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'QueueWaitMs', Unit: 'Milliseconds' }]);
    const values = waits.map((w) => w.QueueWaitMs as number).sort((a, b) => a - b);
    // the old event waited at least the minute it is dated back; the skewed one is clamped to 0
    expect(values[0]).toBe(0);
    expect(values[1]).toBeGreaterThanOrEqual(60_000);
    expect(metrics.total('QueueWaitMs')).toBe(values[1]);
  });

  it('a job whose S3 call hangs is aborted at the job deadline and left for redelivery', async () => {
    const hung = createServer((socket) => void sockets.push(socket));
    const sockets: Socket[] = [];
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      // A long visibility: the backoff (30 s x 2^1) keeps the message hidden until the worker is stopped.
      await useLane({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
      const objects = new ObjectStore(createS3Client({ ...config, s3Endpoint: `http://127.0.0.1:${(hung.address() as AddressInfo).port}` }), config.bucket);
      const queue = new RecordingQueue(createSqsClient(config), config.queueUrl);
      const key = 'deadline/hung-s3.png';
      startWorker({ queue, objects, worker: { maxJobMs: 1_500, waitSeconds: 0, visibilityTimeoutSeconds: 30 } });
      await put(key, 'alpha_300x500.png');
      await waitFor(async () => queue.visibility.filter((v) => v.seconds !== 30), (v) => v.length > 0, 20_000, 'the job abandoned');
      await Promise.all(running.splice(0).map((w) => w.stop()));
      // The first of two receives: abandoned with the backoff for redelivery, the record left `processing`.
      expect(queue.visibility.filter((v) => v.seconds !== 30).map((v) => v.seconds)).toEqual([60]);
      expect((await records().getImage(idForObjectKey(key, config.objectIdSecret!)))?.status).toBe('processing');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it('releases its caption claim when the caption write fails (the heartbeat stops renewing it)', async () => {
    const key = 'claims/write-fails.png';
    const imageId = idForObjectKey(key, config.objectIdSecret!);
    startWorker({ records: new CaptionWriteFails(config) });
    await put(key, 'tiny_7x5.png');
    const failed = await waitFor(() => records().getImage(imageId), (r): r is ImageRecord => r?.status === 'failed', 40_000, 'failed record');
    expect(failed?.error?.message).toContain('simulated caption write failure');
    const claim = await records().getCaption({ name: captioner.name, key: captioner.dedupKey ?? captioner.name }, failed!.contentSha256!, undefined);
    // Released (lease 0), not renewed by the heartbeat that runs every second here.
    expect(claim?.state).toBe('pending');
    expect(claim?.state === 'pending' && claim.leaseUntil).toBe(0);
  });

  it('keys caption dedup on precision and checkpoint: another precision of the same model infers again', async () => {
    const fp32 = blipCaptioner(model!, { precision: 'fp32' });
    const int8 = blipCaptioner(model!, { precision: 'int8' });
    expect(fp32.name).toBe(int8.name);
    expect(fp32.dedupKey).toBe(`${model!.name}@fp32@${model!.checkpointSha256.slice(0, 16)}`);
    expect(int8.dedupKey).toBe(`${model!.name}@int8@${model!.checkpointSha256.slice(0, 16)}`);
    const first = new Counting(fp32);
    const a = startWorker({ captioner: first });
    await put('variant/a.png', 'gradient_640x480.png');
    await waitFor(() => records().getImage(idForObjectKey('variant/a.png', config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, 'a done');
    await a.worker.stop();
    const second = new Counting(int8);
    startWorker({ captioner: second });
    await put('variant/b.png', 'gradient_640x480.png');
    const b = await waitFor(() => records().getImage(idForObjectKey('variant/b.png', config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, 'b done');
    expect(first.images).toBe(1);
    expect(second.images).toBe(1);
    expect(b?.cacheHit).toBe(false);
    expect(b?.model).toBe(model!.name);
  });

  it('backs off on failing receives and gives up (start() rejects) after receiveFailureLimit failures in a row', async () => {
    const missing = new Queue(createSqsClient(config), `${config.queueUrl}-deleted`);
    const { done } = startWorker({ queue: missing, worker: { receiveFailureLimit: 3 } });
    await expect(done).rejects.toMatchObject({ code: 'receive_failed' });
  });

  it('on stop, a job waiting for another worker\'s caption claim hands its message back instead of waiting', async () => {
    const bytes = await readFile(fixturePath('images', 'photo_rocket.jpg'));
    const sha = createHash('sha256').update(bytes).digest('hex');
    const modelKey = { name: captioner.name, key: captioner.dedupKey ?? captioner.name };
    // Another worker holds the claim far longer than this test may take.
    expect(await records().claimCaption(modelKey, sha, undefined, 'another-worker', 600_000)).toEqual({ kind: 'claimed' });
    const queue = new RecordingQueue(createSqsClient(config), config.queueUrl);
    // Short polls: no server-side long poll outlives the stop and takes the handed-back message (the emulator
    // would count that receive, and the queue's maxReceiveCount of 2 would then dead-letter it).
    const { worker, done } = startWorker({ queue, worker: { claimWaitMs: 600_000, waitSeconds: 0 } });
    await put('claims/waiting.jpg', 'photo_rocket.jpg');
    const imageId = idForObjectKey('claims/waiting.jpg', config.objectIdSecret!);
    await waitFor(() => records().getImage(imageId), (r) => r?.status === 'processing' && r.contentSha256 === undefined, 30_000, 'waiting on the claim');
    await worker.stop();
    await done;
    expect((await records().getImage(imageId))?.status).toBe('processing');
    // Handed back (visibility 0), not abandoned with a backoff; nothing in the DLQ.
    const handedBack = queue.visibility.filter((v) => v.seconds !== 3);
    expect(handedBack.map((v) => v.seconds)).toEqual([0]);
    expect(await queueDepth(lane.dlqUrl)).toBe(0);
    await records().releaseCaptionClaim(modelKey, sha, undefined, 'another-worker');
    // The handed-back message is receivable at once.
    const received = await waitFor(() => queue.receive({ waitSeconds: 1 }), (ms) => ms.length === 1, 15_000, 'the handed-back message');
    expect(received[0]!.messageId).toBe(handedBack[0]!.messageId);
    await queue.delete(received[0]!.receiptHandle);
  });

  it('extends visibility while a job runs longer than the visibility timeout: one delivery', async () => {
    const slow: Captioner = {
      name: captioner.name,
      caption: async (images, options) => {
        await new Promise((r) => setTimeout(r, 5_000));
        return captioner.caption(images, options);
      },
    };
    const counting = new Counting(slow);
    const queue = new CountingQueue(createSqsClient(config), config.queueUrl);
    startWorker({ captioner: counting, queue });
    await put('slow/job.png', 'alpha_300x500.png');
    const done = await waitFor(() => records().getImage(idForObjectKey('slow/job.png', config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, 'slow job done');
    expect(done?.status).toBe('done');
    await waitFor(() => queueDepth(config.queueUrl), (n) => n === 0, 10_000, 'queue empty');
    expect(counting.images).toBe(1);
    expect([...queue.deliveries.values()]).toEqual([1]);
  });

  it('fails questions with vqa_unavailable when no VQA model is configured', async () => {
    startWorker();
    await put('vqa/none.png', 'gray_200x200.png');
    const imageId = idForObjectKey('vqa/none.png', config.objectIdSecret!);
    await waitFor(() => records().getImage(imageId), (r) => r?.status === 'done', 30_000, 'captioned');
    const questionId = newId();
    await records().createQuestion({ imageId, questionId, question: 'what colour is it?' });
    await new Queue(createSqsClient(config), config.queueUrl).send({ type: 'question', imageId, questionId });
    const question = await waitFor(() => records().getQuestion(imageId, questionId), (q) => q?.status === 'failed', 30_000, 'question failed');
    expect(question?.error?.code).toBe('vqa_unavailable');
    await waitFor(() => queueDepth(config.queueUrl), (n) => n === 0, 10_000, 'queue empty');
  });

  it('finishes the job in hand when stopped, then stops receiving', async () => {
    let started!: () => void;
    const inModel = new Promise<void>((r) => (started = r));
    const slow: Captioner = {
      name: captioner.name,
      caption: async (images, options) => {
        started();
        await new Promise((r) => setTimeout(r, 1_500));
        return captioner.caption(images, options);
      },
    };
    const { worker, done } = startWorker({ captioner: slow });
    await put('stop/in-hand.png', 'wide_1200x100.png');
    await inModel;
    await worker.stop();
    await done;
    expect((await records().getImage(idForObjectKey('stop/in-hand.png', config.objectIdSecret!)))?.status).toBe('done');
    expect(await queueDepth(config.queueUrl)).toBe(0);
    // Stopped: a new object stays queued.
    await put('stop/after.png', 'tiny_7x5.png');
    expect(await queueDepth(config.queueUrl)).toBe(1);
  });
});

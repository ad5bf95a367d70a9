import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../services/aws/cache.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../../services/aws/clients.js';
import { RecordStore } from '../../services/aws/record-store.js';
import { ObjectStore } from '../../services/aws/s3.js';
import { Queue } from '../../services/aws/sqs.js';
import { type BlipModel, loadBlip } from '../../services/blip/index.js';
import type { Config } from '../../services/core/config.js';
import { idForObjectKey } from '../../services/core/ids.js';
import { createLogger, type Logger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import { blipCaptioner } from '../../services/worker/blip-adapter.js';
import type { Captioner, Outcome } from '../../services/worker/captioner.js';
import { TaskProtection } from '../../services/worker/task-protection.js';
import { Worker } from '../../services/worker/worker.js';
import { captioningFixture } from '../pipeline/models.js';
import { configFor, waitFor } from '../pipeline/support.js';
import { fixturePath } from '../support/fixtures.js';
import { useLocalStack } from '../support/local-stack.js';

/**
 * A stand-in for the ECS agent's task-protection endpoint on 127.0.0.1: answers as the agent does and records
 * every request, so the test can read the protection state at any moment.
 */
class FakeAgent {
  enabled = false;
  readonly requests: { ProtectionEnabled: boolean; ExpiresInMinutes?: number }[] = [];
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/task-id`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    if (req.method !== 'PUT' || req.url !== '/api/task-id/task-protection/v1/state') {
      res.writeHead(404).end(JSON.stringify({ error: { Code: 'NotFound', Message: `${req.method} ${req.url}` } }));
      return;
    }
    const body = JSON.parse(text) as { ProtectionEnabled: boolean; ExpiresInMinutes?: number };
    this.requests.push(body);
    this.enabled = body.ProtectionEnabled;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ protection: { ExpirationDate: body.ProtectionEnabled ? new Date().toISOString() : null, ProtectionEnabled: body.ProtectionEnabled, TaskArn: 'arn:aws:ecs:us-east-1:123456789012:task/test' } }),
    );
  }
}

/** A captioner that records whether protection was on when it ran and waits for the test to let it finish. */
class GatedCaptioner implements Captioner {
  readonly protectedAtCall: boolean[] = [];
  private open: (() => void) | undefined;
  private gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });

  constructor(
    private readonly inner: Captioner,
    private readonly agent: FakeAgent,
  ) {}
  get name() {
    return this.inner.name;
  }
  get dedupKey() {
    return this.inner.dedupKey;
  }
  release(): void {
    this.open?.();
  }
  async caption(images: Uint8Array[], options?: { prompt?: string }): Promise<Outcome[]> {
    this.protectedAtCall.push(this.agent.enabled);
    await this.gate;
    return this.inner.caption(images, options);
  }
}

/** Records the agent's protection state at each delete (the end of a hold). */
class DeleteWatchingQueue extends Queue {
  readonly protectedAtDelete: boolean[] = [];
  agent: FakeAgent | undefined;
  override async delete(receiptHandle: string): Promise<void> {
    this.protectedAtDelete.push(this.agent?.enabled ?? false);
    return super.delete(receiptHandle);
  }
}

/** A logger whose JSON lines are kept for the test to read. */
function capturingLogger(): { logger: Logger; lines: () => { msg: string; level: string }[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines: () => lines.map((l) => JSON.parse(l) as { msg: string; level: string }) };
}

const stack = useLocalStack({ redis: 'none', maxReceiveCount: 3, visibilityTimeoutSeconds: 5 });
let config: Config;
let captioner: Captioner;
let model: BlipModel | undefined;
/** This file's own compiled-graph cache. */
let cacheDir: string;
const running: Worker[] = [];

function startWorker(options: { captioner: Captioner; queue?: Queue; logger: Logger; taskProtection: TaskProtection }): Worker {
  const worker = new Worker({
    queue: options.queue ?? new Queue(createSqsClient(config), config.queueUrl),
    objects: new ObjectStore(createS3Client(config), config.bucket),
    records: records(),
    cache: new Cache({ url: undefined, keyPrefix: '', logger: options.logger }),
    captioner: options.captioner,
    metrics: new Metrics({ service: 'worker', sink: null }),
    logger: options.logger,
    options: { maxObjectBytes: config.maxUploadBytes, maxReceiveCount: 3, waitSeconds: 1, visibilityTimeoutSeconds: 5, objectIdSecret: config.objectIdSecret! },
    taskProtection: options.taskProtection,
  });
  running.push(worker);
  void worker.start();
  return worker;
}

const records = () => new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });
const put = async (key: string, file: string) =>
  createS3Client(config).send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: await readFile(fixturePath('images', file)) }));
const done = (key: string) => waitFor(() => records().getImage(idForObjectKey(key, config.objectIdSecret!)), (r) => r?.status === 'done', 30_000, `${key} done`);

beforeAll(async () => {
  config = configFor(stack());
  cacheDir = await mkdtemp(path.join(tmpdir(), 'blipline-protection-graphs-'));
  model = await loadBlip({ model: captioningFixture, threads: 1, cacheDir });
  captioner = blipCaptioner(model);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await model?.dispose();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('ECS task scale-in protection', { timeout: 90_000 }, () => {
  it('is on exactly while a message is held: set before the job runs, cleared once it is deleted and nothing is held', async () => {
    const agent = new FakeAgent();
    const agentUri = await agent.listen();
    try {
      const { logger } = capturingLogger();
      const gated = new GatedCaptioner(captioner, agent);
      const queue = new DeleteWatchingQueue(createSqsClient(config), config.queueUrl);
      queue.agent = agent;
      startWorker({ captioner: gated, queue, logger, taskProtection: new TaskProtection({ agentUri, logger, maxJobMinutes: 15 }) });

      const key = 'protection/held.png';
      await put(key, 'photo_coffee.jpg');
      try {
        await waitFor(async () => gated.protectedAtCall.length, (n) => n === 1, 30_000, 'the job started');
        expect(gated.protectedAtCall).toEqual([true]);
        expect(agent.enabled).toBe(true);
        expect(agent.requests.at(-1)).toEqual({ ProtectionEnabled: true, ExpiresInMinutes: 20 });
      } finally {
        gated.release();
      }
      await done(key);
      await waitFor(async () => agent.enabled, (enabled) => !enabled, 10_000, 'protection cleared');
      // Every delete (the end of a hold; the local bucket's s3:TestEvent may come first) happened under protection,
      // and the agent was asked only for changes: on, off, on, off ...
      expect(queue.protectedAtDelete.length).toBeGreaterThan(0);
      expect(queue.protectedAtDelete.every(Boolean)).toBe(true);
      expect(agent.requests.length).toBeGreaterThanOrEqual(2);
      expect(agent.requests.length % 2).toBe(0);
      agent.requests.forEach((request, i) => expect(request).toEqual(i % 2 === 0 ? { ProtectionEnabled: true, ExpiresInMinutes: 20 } : { ProtectionEnabled: false }));
    } finally {
      await agent.close();
    }
  });

  it('renews a protection that a batch could outlive, and asks nothing while it is fresh', async () => {
    const agent = new FakeAgent();
    const agentUri = await agent.listen();
    try {
      let now = 0;
      const { logger } = capturingLogger();
      const protection = new TaskProtection({ agentUri, logger, maxJobMinutes: 15, now: () => now });
      await protection.sync(true);
      now = 4 * 60_000; // 16 of 20 minutes left: a 15-minute batch still fits
      await protection.sync(true);
      expect(agent.requests).toHaveLength(1);
      now = 6 * 60_000; // 14 minutes left: renewed
      await protection.sync(true);
      await protection.sync(false);
      await protection.sync(false);
      expect(agent.requests).toEqual([
        { ProtectionEnabled: true, ExpiresInMinutes: 20 },
        { ProtectionEnabled: true, ExpiresInMinutes: 20 },
        { ProtectionEnabled: false },
      ]);
      expect(protection.protectedNow).toBe(false);
    } finally {
      await agent.close();
    }
  });

  it('without ECS_AGENT_URI (a local run) the worker works and says so once', async () => {
    const { logger, lines } = capturingLogger();
    startWorker({ captioner, logger, taskProtection: new TaskProtection({ agentUri: undefined, logger, maxJobMinutes: 15 }) });
    await put('protection/local-1.png', 'tiny_7x5.png');
    await done('protection/local-1.png');
    await put('protection/local-2.png', 'alpha_300x500.png');
    await done('protection/local-2.png');
    const notes = lines().filter((l) => l.msg.includes('task scale-in protection'));
    expect(notes).toEqual([expect.objectContaining({ level: 'info', msg: 'ECS_AGENT_URI is not set (not on ECS): task scale-in protection is off' })]);
  });

  it('an agent that cannot be reached is logged once and the jobs still finish', async () => {
    // A port that was free a moment ago: nothing listens there.
    const closed = new FakeAgent();
    const agentUri = await closed.listen();
    await closed.close();
    const { logger, lines } = capturingLogger();
    startWorker({ captioner, logger, taskProtection: new TaskProtection({ agentUri, logger, maxJobMinutes: 15 }) });
    await put('protection/unreachable-1.png', 'wide_1200x100.png');
    await done('protection/unreachable-1.png');
    await put('protection/unreachable-2.png', 'gray_200x200.png');
    await done('protection/unreachable-2.png');
    const warnings = lines().filter((l) => l.msg.includes('ECS agent'));
    expect(warnings).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('cannot reach the ECS agent') })]);
  });
});

import { createHash, randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { Logger } from 'pino';
import { CACHE_KEYS, type Cache } from '../aws/cache.js';
import { ObjectMissingError, ObjectTooLargeError } from '../aws/errors.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ObjectStore } from '../aws/s3.js';
import type { Queue, ReceivedMessage } from '../aws/sqs.js';
import { parseQueueMessage, type ObjectCreated, type QuestionJob } from '../core/events.js';
import { imageIdForKey } from '../core/keys.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import { captionRecordSchema, publicImage, type DoneCaption, type FailureReason, type ImageRecord, type RecordError } from '../core/records.js';
import type { Captioner, Generation, Outcome, QuestionAnswerer } from './captioner.js';
import { ReceiveFailedError, RetryableJobError, WorkerStoppingError } from './errors.js';

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
}

export interface WorkerDeps {
  queue: Queue;
  objects: ObjectStore;
  records: RecordStore;
  cache: Cache;
  captioner: Captioner;
  /** Absent: questions fail with `vqa_unavailable`. */
  answerer?: QuestionAnswerer;
  metrics: Metrics;
  logger: Logger;
  options: WorkerOptions;
}

/** One object of one message, carried through the stages of a batch. */
interface Item {
  message: ReceivedMessage;
  event: ObjectCreated;
  imageId: string;
  log: Logger;
  acceptedAt: number;
  /** Aborts the item's S3 calls at the job deadline (maxJobMs). */
  signal: AbortSignal;
  prompt?: string;
  bytes?: Uint8Array;
  sha256?: string;
  contentType?: string;
  /** Final: nothing more to do for this item (written, or skipped as stale/duplicate). */
  settled: boolean;
  /** An unexpected error: the message stays for redelivery. */
  error?: unknown;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** SQS's largest visibility timeout, counted from the receive. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * How long a message whose job failed unexpectedly stays invisible before its next delivery:
 * visibility · 2^receiveCount (60 s → 2, 4, 8, 16 min), capped at what is left of SQS's 12 h from the receive
 * (less a minute of margin). Such failures are mostly infrastructure (DynamoDB/S3 down, throttled, network), so
 * the backoff must outlast an outage: with the defaults 5 receives span ~30 min, not ~30 s.
 */
export function retryDelaySeconds(receiveCount: number, visibilityTimeoutSeconds: number, heldSeconds: number): number {
  const room = Math.max(0, MAX_VISIBILITY_SECONDS - Math.ceil(heldSeconds) - 60);
  return Math.min(visibilityTimeoutSeconds * 2 ** Math.min(receiveCount, 20), room);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The SQS consumer. Receives up to 10 messages per long poll, keeps the next receive in flight
 * while the model runs, captions every distinct uncached content of a receive in one model call,
 * and deletes a message only after its records are written. See services/worker/README.md.
 */
export class Worker {
  readonly id = randomUUID();
  private readonly o: Required<WorkerOptions>;
  private stopping = false;
  private readonly abort = new AbortController();
  /** Messages received and not yet deleted or released: the heartbeat keeps them invisible. */
  private readonly held = new Map<string, ReceivedMessage>();
  /** Caption claims held while the model runs (renewed by the heartbeat). */
  private readonly claims = new Map<string, { sha256: string; prompt: string | undefined; takenAt: number }>();
  private running: Promise<void> | undefined;
  /** Receives that failed in a row (reset by a successful one). */
  private receiveFailures = 0;
  /** Set when the worker must give up (start() rejects with it). */
  private fatal: Error | undefined;
  /** The caption dedup key's model part (name + precision + checkpoint) and the readable name for records. */
  private readonly captionModel: { name: string; key: string };

  constructor(private readonly deps: WorkerDeps) {
    this.captionModel = { name: deps.captioner.name, key: deps.captioner.dedupKey ?? deps.captioner.name };
    const visibilityTimeoutSeconds = deps.options.visibilityTimeoutSeconds ?? 60;
    this.o = {
      visibilityTimeoutSeconds,
      waitSeconds: 20,
      batchSize: 10,
      claimLeaseMs: visibilityTimeoutSeconds * 1000,
      claimWaitMs: 60_000,
      cacheTtlSeconds: 3_600,
      receiveFailureLimit: 8,
      maxJobMs: 900_000,
      // Options given as undefined keep their defaults.
      ...(Object.fromEntries(Object.entries(deps.options).filter(([, v]) => v !== undefined)) as WorkerOptions),
    };
  }

  /**
   * Starts the receive loop; resolves when it has stopped, rejects (ReceiveFailedError) when the queue could not
   * be polled `receiveFailureLimit` times in a row.
   */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops receiving, finishes the batch in hand, releases prefetched messages; resolves when done. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.abort.abort();
      this.deps.logger.info('worker stopping: no new receives, finishing the job in hand');
    }
    // A loop that gave up has already reported it through start().
    await this.running?.catch(() => undefined);
  }

  private async receive(): Promise<ReceivedMessage[]> {
    try {
      const messages = await this.deps.queue.receive({
        max: this.o.batchSize,
        waitSeconds: this.o.waitSeconds,
        visibilityTimeout: this.o.visibilityTimeoutSeconds,
        signal: this.abort.signal,
      });
      for (const m of messages) this.held.set(m.messageId, m);
      this.receiveFailures = 0;
      return messages;
    } catch (error) {
      if (this.stopping) return [];
      this.receiveFailures += 1;
      if (this.receiveFailures >= this.o.receiveFailureLimit) {
        // Not thrown here: this receive may be a prefetch nobody awaits yet. The loop sees it and gives up.
        this.fatal = new ReceiveFailedError(`${this.receiveFailures} receives in a row failed; last error: ${describe(error)}`, { cause: error });
        this.deps.logger.error({ err: error, failures: this.receiveFailures }, 'receive keeps failing: the worker gives up');
        return [];
      }
      const delayMs = Math.min(1_000 * 2 ** (this.receiveFailures - 1), 30_000);
      this.deps.logger.error({ err: error, failures: this.receiveFailures, limit: this.o.receiveFailureLimit, delayMs }, 'receive failed; backing off');
      await sleep(delayMs, this.abort.signal);
      return [];
    }
  }

  private async loop(): Promise<void> {
    const heartbeat = setInterval(() => void this.heartbeat(), Math.max(1_000, (this.o.visibilityTimeoutSeconds * 1000) / 3));
    this.deps.logger.info({ workerId: this.id, captioner: this.deps.captioner.name, captionKey: this.captionModel.key, vqa: this.deps.answerer?.name ?? null }, 'worker started');
    try {
      let next: Promise<ReceivedMessage[]> | undefined = this.receive();
      while (next) {
        const messages = await next;
        // Prefetch: the next long poll runs while this batch is in the model.
        next = this.stopping || this.fatal ? undefined : this.receive();
        if (messages.length === 0) continue;
        if (this.stopping) {
          await this.release(messages);
          continue;
        }
        try {
          await this.processBatch(messages);
        } catch (error) {
          // processBatch handles its own failures; this is a last line so the loop never dies.
          this.deps.logger.error({ err: error }, 'batch failed unexpectedly; its messages will be redelivered');
          for (const m of messages) this.held.delete(m.messageId);
        }
      }
      if (this.fatal) throw this.fatal;
    } finally {
      clearInterval(heartbeat);
      if (this.held.size > 0) await this.release([...this.held.values()]);
      this.deps.logger.info({ workerId: this.id }, 'worker stopped');
    }
  }

  /** Hands messages back to the queue at once (visibility 0) so another worker takes them. */
  private async release(messages: ReceivedMessage[]): Promise<void> {
    for (const m of messages) this.held.delete(m.messageId);
    try {
      await this.deps.queue.changeVisibility(messages, 0);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not release messages; they reappear after their visibility timeout');
    }
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    // Past the job deadline a message is no longer renewed: it lapses and is redelivered (a hung job cannot hold it).
    const overdue = [...this.held.values()].filter((m) => now - m.receivedAt >= this.o.maxJobMs);
    for (const m of overdue) {
      this.held.delete(m.messageId);
      this.deps.logger.warn({ jobId: m.messageId, maxJobMs: this.o.maxJobMs }, 'job past its deadline: no longer renewed, it will be redelivered');
    }
    const messages = [...this.held.values()];
    try {
      if (messages.length > 0) await this.deps.queue.changeVisibility(messages, this.o.visibilityTimeoutSeconds);
      for (const [key, claim] of this.claims) {
        if (now - claim.takenAt >= this.o.maxJobMs) {
          this.claims.delete(key);
          continue;
        }
        await this.deps.records.renewCaptionClaim(this.captionModel, claim.sha256, claim.prompt, this.id, this.o.claimLeaseMs);
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'visibility heartbeat failed');
    }
  }

  private async deleteMessage(m: ReceivedMessage): Promise<void> {
    await this.deps.queue.delete(m.receiptHandle);
    this.held.delete(m.messageId);
  }

  /**
   * A message whose job failed unexpectedly: visible again after `retryDelaySeconds` (a long backoff that outlasts
   * an infrastructure outage). On its last receive it is made visible at once, so the queue moves it to the DLQ
   * (and the DLQ alarm fires) without waiting out a backoff.
   */
  private async abandon(m: ReceivedMessage): Promise<void> {
    this.held.delete(m.messageId);
    const last = m.receiveCount >= this.deps.options.maxReceiveCount;
    const backoff = last ? 0 : retryDelaySeconds(m.receiveCount, this.o.visibilityTimeoutSeconds, (Date.now() - m.receivedAt) / 1000);
    try {
      await this.deps.queue.changeVisibility([m], backoff);
    } catch {
      // It reappears after its visibility timeout anyway.
    }
  }

  /** Processes one receive: captions, then questions. Never throws; per-message outcomes. */
  async processBatch(messages: ReceivedMessage[]): Promise<void> {
    const items: Item[] = [];
    const questions: { message: ReceivedMessage; job: QuestionJob }[] = [];
    const jobSignal = AbortSignal.timeout(this.o.maxJobMs);
    for (const message of messages) {
      const parsed = parseQueueMessage(message.body);
      const log = this.deps.logger.child({ jobId: message.messageId, receiveCount: message.receiveCount });
      if (parsed.type === 'test') {
        log.info('s3:TestEvent ignored');
        await this.deleteMessage(message).catch((error: unknown) => log.warn({ err: error }, 'delete failed'));
      } else if (parsed.type === 'invalid') {
        // Never deleted silently: it is left for the DLQ (long backoff between receives, no tight retry loop) so the
        // DLQ alarm shows it and it can be inspected.
        log.error({ reason: parsed.reason, body: message.body.slice(0, 2_000) }, 'unparseable message left for the DLQ');
        this.deps.metrics.count(METRICS.failures, 1, { Reason: 'invalid_message' });
        await this.abandon(message);
      } else if (parsed.type === 'question') {
        questions.push({ message, job: parsed.job });
      } else {
        for (const bad of parsed.invalid) {
          // One unreadable record (e.g. a key that is not valid percent-encoding) fails alone; the others go on.
          log.error({ record: bad.index, rawKey: bad.rawKey, reason: bad.reason }, 'S3 event record cannot be processed: skipped');
          this.deps.metrics.count(METRICS.failures, 1, { Reason: 'invalid_event_record' });
        }
        if (parsed.objects.length === 0) {
          log.info({ ignored: parsed.ignored }, 'event without ObjectCreated records ignored');
          await this.deleteMessage(message).catch((error: unknown) => log.warn({ err: error }, 'delete failed'));
        }
        for (const event of parsed.objects) {
          const imageId = imageIdForKey(event.key);
          items.push({ message, event, imageId, log: log.child({ imageId, key: event.key }), acceptedAt: Date.now(), signal: jobSignal, settled: false });
        }
      }
    }
    if (items.length > 0) await this.processObjects(items);
    for (const q of questions) await this.processQuestion(q.message, q.job);
  }

  // ---- objects --------------------------------------------------------------------------------

  private async processObjects(items: Item[]): Promise<void> {
    // 1. Accept (map key -> image, newer sequencer wins) and read the bytes.
    await Promise.all(items.map((item) => this.guard(item, () => this.acceptAndRead(item))));
    // 2. Captions by content hash: cache, table, claim; the model for the distinct misses.
    const open = items.filter((i) => !i.settled && !i.error && i.sha256 !== undefined);
    await this.caption(open);
    // 3. Delete every message whose items all settled; the rest wait for redelivery.
    const byMessage = new Map<string, Item[]>();
    for (const item of items) byMessage.set(item.message.messageId, [...(byMessage.get(item.message.messageId) ?? []), item]);
    for (const group of byMessage.values()) {
      const message = group[0]!.message;
      const failed = group.filter((i) => i.error !== undefined || !i.settled);
      if (failed.length === 0) {
        await this.deleteMessage(message).catch((error: unknown) => group[0]!.log.warn({ err: error }, 'delete failed; the message will be redelivered and found done'));
        continue;
      }
      if (failed.every((i) => i.error instanceof WorkerStoppingError)) {
        // Interrupted by stop() (not a failure): hand the message straight back to the queue.
        group[0]!.log.info('worker stopping: message handed back unfinished');
        await this.release([message]);
        continue;
      }
      const last = message.receiveCount >= this.deps.options.maxReceiveCount;
      for (const item of failed) {
        item.log.error({ err: item.error, lastReceive: last }, last ? 'job failed on its last receive: recorded as failed, message goes to the DLQ' : 'job failed; the message will be redelivered');
        if (last) {
          // Best effort: when this write fails too (the outage that failed the job), the record stays `processing`
          // while the message sits in the DLQ; redriving the DLQ after the outage reprocesses it (README: Failures).
          await this.fail(item, 'processing_error', `processing failed ${message.receiveCount} times; last error: ${describe(item.error)}`).catch((error: unknown) => {
            this.deps.metrics.count(METRICS.failures, 1, { Reason: 'failure_not_recorded' });
            item.log.error({ err: error, imageId: item.imageId, key: item.event.key }, 'could not record the failure: the record stays processing until the DLQ is redriven');
          });
        }
      }
      await this.abandon(message);
    }
  }

  /** Runs a stage of one item; an unexpected error marks the item for redelivery. */
  private async guard(item: Item, stage: () => Promise<void>): Promise<void> {
    try {
      await stage();
    } catch (error) {
      item.error = error;
    }
  }

  private async acceptAndRead(item: Item): Promise<void> {
    const { records, objects, metrics } = this.deps;
    const { event } = item;
    if (event.bucket !== objects.bucket) {
      item.log.error({ bucket: event.bucket, expected: objects.bucket }, 'event for another bucket ignored (check the bucket notification configuration)');
      this.deps.metrics.count(METRICS.failures, 1, { Reason: 'wrong_bucket' });
      item.settled = true;
      return;
    }
    const outcome = await records.acceptObject({ imageId: item.imageId, objectKey: event.key, sequencer: event.sequencer, model: this.deps.captioner.name });
    if (outcome !== 'accepted') {
      item.log.info({ outcome }, outcome === 'stale' ? 'a newer event for this key exists: skipped' : 'event already processed: duplicate delivery skipped');
      item.settled = true;
      return;
    }
    metrics.count(METRICS.queueWaitMs, Math.max(0, item.acceptedAt - event.eventTime.getTime()));
    const image = await records.getImage(item.imageId);
    item.prompt = image?.prompt;
    await this.cacheImage(image);
    if (!(await records.markProcessing(item.imageId, event.sequencer))) {
      item.settled = true;
      return;
    }
    try {
      const head = await objects.head(event.key, item.signal);
      if (head.contentLength > this.deps.options.maxObjectBytes) throw new ObjectTooLargeError(event.key, this.deps.options.maxObjectBytes);
      // A zero-byte object needs no GET (a ranged GET of it is a 416 on S3; the local emulator drops the connection).
      item.bytes = head.contentLength === 0 ? new Uint8Array(0) : await objects.getBounded(event.key, this.deps.options.maxObjectBytes, item.signal);
    } catch (error) {
      if (error instanceof ObjectMissingError) return this.fail(item, 'object_missing', 'the object was deleted before it could be processed');
      if (error instanceof ObjectTooLargeError) return this.fail(item, 'too_large', `the object is larger than ${this.deps.options.maxObjectBytes} bytes`);
      throw error;
    }
    item.sha256 = createHash('sha256').update(item.bytes).digest('hex');
    item.contentType = (await fileTypeFromBuffer(item.bytes).catch(() => undefined))?.mime;
  }

  private async lookupCaption(sha256: string, prompt: string | undefined): Promise<DoneCaption | undefined> {
    const model = this.captionModel;
    const cached = await this.deps.cache.getJson(CACHE_KEYS.caption(model.key, sha256, prompt), (v) => captionRecordSchema.parse(v));
    if (cached?.state === 'done') return cached;
    const stored = await this.deps.records.getCaption(model, sha256, prompt);
    if (stored?.state === 'done') {
      await this.deps.cache.setJson(CACHE_KEYS.caption(model.key, sha256, prompt), stored, 86_400);
      return stored;
    }
    return undefined;
  }

  /** Captions the open items: one lookup per distinct content, one model call per prompt for the misses. */
  private async caption(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    const model = this.captionModel;
    const groups = new Map<string, Item[]>();
    for (const item of items) {
      const key = `${item.sha256}\u0000${item.prompt ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), item]);
    }
    const toInfer: Item[][] = [];
    const waits: Promise<void>[] = [];
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const first = group[0]!;
        const sha256 = first.sha256!;
        try {
          const hit = await this.lookupCaption(sha256, first.prompt);
          if (hit) return this.finishGroup(group, hit, true);
          const claim = await this.deps.records.claimCaption(model, sha256, first.prompt, this.id, this.o.claimLeaseMs);
          if (claim.kind === 'claimed') {
            this.claims.set(`${sha256}\u0000${first.prompt ?? ''}`, { sha256, prompt: first.prompt, takenAt: Date.now() });
            toInfer.push(group);
          } else if (claim.kind === 'done') {
            await this.finishGroup(group, claim.caption, true);
          } else {
            waits.push(this.waitForOtherWorker(group));
          }
        } catch (error) {
          for (const item of group) item.error = error;
        }
      }),
    );
    try {
      await Promise.all([this.infer(toInfer), ...waits]);
    } finally {
      // Whatever happened, no claim of this receive stays with the heartbeat: one still held here was neither
      // completed nor released (an unexpected error), so it is released now.
      for (const group of groups.values()) {
        const first = group[0]!;
        if (this.claims.has(`${first.sha256}\u0000${first.prompt ?? ''}`)) await this.releaseClaim(first);
      }
    }
  }

  /** Runs the model once per prompt over the claimed distinct contents. */
  private async infer(groups: Item[][]): Promise<void> {
    const byPrompt = new Map<string, Item[][]>();
    for (const g of groups) byPrompt.set(g[0]!.prompt ?? '', [...(byPrompt.get(g[0]!.prompt ?? '') ?? []), g]);
    for (const [prompt, promptGroups] of byPrompt) {
      const started = performance.now();
      const options = prompt ? { prompt } : {};
      this.deps.logger.debug({ images: promptGroups.length }, 'model batch started');
      let outcomes: (Outcome | undefined)[];
      try {
        outcomes = await this.deps.captioner.caption(
          promptGroups.map((g) => g[0]!.bytes!),
          options,
        );
      } catch (error) {
        if (promptGroups.length === 1) {
          for (const item of promptGroups[0]!) item.error = error;
          await this.releaseClaim(promptGroups[0]![0]!);
          continue;
        }
        // One input must not take its batch-mates down with it: run them one by one.
        this.deps.logger.warn({ err: error, images: promptGroups.length }, 'model batch failed; retrying its images one by one');
        outcomes = [];
        for (const g of promptGroups) {
          try {
            outcomes.push((await this.deps.captioner.caption([g[0]!.bytes!], options))[0]);
          } catch (single) {
            for (const item of g) item.error = single;
            await this.releaseClaim(g[0]!);
            outcomes.push(undefined);
          }
        }
      }
      const inferenceMs = Math.round(performance.now() - started);
      this.deps.metrics.emit({ [METRICS.inferences]: promptGroups.length, [METRICS.inferenceMs]: inferenceMs });
      this.deps.logger.info({ images: promptGroups.length, inferenceMs, prompt: prompt || undefined }, 'model batch done');
      await Promise.all(
        promptGroups.map(async (g, i) => {
          const outcome = outcomes[i];
          const first = g[0]!;
          if (first.error !== undefined) return;
          try {
            if (!outcome || !outcome.ok) {
              await this.releaseClaim(first);
              const reason: FailureReason = outcome?.reason ?? 'processing_error';
              await Promise.all(g.map((item) => this.fail(item, reason, outcome?.message ?? 'the model returned no result')));
              return;
            }
            const done = await this.completeCaption(first, outcome.generation, Math.round(inferenceMs / promptGroups.length));
            await this.finishGroup(g, done, false);
          } catch (error) {
            for (const item of g) item.error = error;
          }
        }),
      );
    }
  }

  private async completeCaption(first: Item, generation: Generation, inferenceMs: number): Promise<DoneCaption> {
    const model = this.captionModel;
    let done: DoneCaption;
    try {
      done = await this.deps.records.completeCaption(model, first.sha256!, first.prompt, { ...generation, inferenceMs });
    } catch (error) {
      // The claim must not outlive a failed write: stop renewing it and let another delivery take it at once.
      await this.releaseClaim(first);
      throw error;
    } finally {
      this.claims.delete(`${first.sha256}\u0000${first.prompt ?? ''}`);
    }
    await this.deps.cache.setJson(CACHE_KEYS.caption(model.key, first.sha256!, first.prompt), done, 86_400);
    return done;
  }

  private async releaseClaim(first: Item): Promise<void> {
    this.claims.delete(`${first.sha256}\u0000${first.prompt ?? ''}`);
    await this.deps.records.releaseCaptionClaim(this.captionModel, first.sha256!, first.prompt, this.id).catch(() => undefined);
  }

  /** Another worker holds the claim for this content: wait for its caption (or take over a lapsed claim). */
  private async waitForOtherWorker(group: Item[]): Promise<void> {
    const first = group[0]!;
    const model = this.captionModel;
    const deadline = Date.now() + this.o.claimWaitMs;
    let delayMs = 250;
    try {
      while (Date.now() < deadline) {
        await sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())), this.abort.signal);
        delayMs = Math.min(delayMs * 2, 2_000);
        if (this.stopping) throw new WorkerStoppingError('the worker is stopping: the message goes back to the queue');
        const stored = await this.deps.records.getCaption(model, first.sha256!, first.prompt);
        if (stored?.state === 'done') return await this.finishGroup(group, stored, true);
        if (stored === undefined || stored.leaseUntil < Date.now()) {
          const claim = await this.deps.records.claimCaption(model, first.sha256!, first.prompt, this.id, this.o.claimLeaseMs);
          if (claim.kind === 'done') return await this.finishGroup(group, claim.caption, true);
          if (claim.kind === 'claimed') {
            this.claims.set(`${first.sha256}\u0000${first.prompt ?? ''}`, { sha256: first.sha256!, prompt: first.prompt, takenAt: Date.now() });
            return await this.infer([group]);
          }
        }
      }
      throw new RetryableJobError(`another worker still holds the caption claim for ${first.sha256} after ${this.o.claimWaitMs} ms`);
    } catch (error) {
      for (const item of group) item.error = error;
    }
  }

  private async finishGroup(group: Item[], caption: DoneCaption, cacheHit: boolean): Promise<void> {
    if (cacheHit) this.deps.metrics.count(METRICS.cacheHits, group.length);
    else if (group.length > 1) this.deps.metrics.count(METRICS.cacheHits, group.length - 1);
    await Promise.all(
      group.map((item, i) =>
        this.guard(item, () =>
          this.finish(item, {
            status: 'done',
            caption: caption.text,
            tokenIds: caption.tokenIds,
            cacheHit: cacheHit || i > 0,
            inferenceMs: cacheHit || i > 0 ? 0 : caption.inferenceMs,
          }),
        ),
      ),
    );
  }

  private fail(item: Item, reason: FailureReason, message: string): Promise<void> {
    this.deps.metrics.count(METRICS.failures, 1, { Reason: reason });
    return this.finish(item, { status: 'failed', error: { code: reason, message } });
  }

  private async finish(
    item: Item,
    result: { status: 'done'; caption: string; tokenIds: number[]; cacheHit: boolean; inferenceMs: number } | { status: 'failed'; error: RecordError },
  ): Promise<void> {
    const now = Date.now();
    const timingsMs = {
      queueMs: Math.max(0, item.acceptedAt - item.event.eventTime.getTime()),
      totalMs: Math.max(0, now - item.event.eventTime.getTime()),
      ...(result.status === 'done' ? { inferenceMs: result.inferenceMs } : {}),
    };
    const written = await this.deps.records.finishImage(item.imageId, item.event.sequencer, {
      model: this.deps.captioner.name,
      contentSha256: item.sha256,
      contentType: item.contentType,
      contentLength: item.bytes?.byteLength,
      timingsMs,
      ...(result.status === 'done'
        ? { status: 'done', caption: result.caption, tokenIds: result.tokenIds, cacheHit: result.cacheHit }
        : { status: 'failed', error: result.error }),
    });
    item.settled = true;
    if (written === 'superseded') {
      item.log.info('a newer event for this key took the record over: result discarded');
      return;
    }
    this.deps.metrics.count(METRICS.imagesProcessed);
    item.log.info({ status: written.status, cacheHit: written.cacheHit, error: written.error, totalMs: timingsMs.totalMs }, 'image finished');
    await this.cacheImage(written);
  }

  private async cacheImage(image: ImageRecord | undefined): Promise<void> {
    if (!image) return;
    const terminal = image.status === 'done' || image.status === 'failed';
    await this.deps.cache.setJson(CACHE_KEYS.image(image.imageId), publicImage(image), terminal ? this.o.cacheTtlSeconds : 5);
  }

  // ---- questions ------------------------------------------------------------------------------

  private async processQuestion(message: ReceivedMessage, job: QuestionJob): Promise<void> {
    const { records, objects } = this.deps;
    const log = this.deps.logger.child({ jobId: message.messageId, imageId: job.imageId, questionId: job.questionId });
    const failQuestion = async (code: FailureReason, text: string) => {
      this.deps.metrics.count(METRICS.failures, 1, { Reason: code });
      await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], { status: 'failed', error: { code, message: text } });
      log.info({ reason: code }, 'question failed');
    };
    try {
      const question = await records.getQuestion(job.imageId, job.questionId);
      if (!question || question.status === 'done' || question.status === 'failed') {
        log.info({ found: question !== undefined }, 'question job without an open question: deleted');
        return await this.deleteMessage(message);
      }
      const answerer = this.deps.answerer;
      if (!answerer) {
        await failQuestion('vqa_unavailable', 'no VQA model is configured (BLIPLINE_VQA_MODEL)');
        return await this.deleteMessage(message);
      }
      const image = await records.getImage(job.imageId);
      if (!image || image.status === 'failed' || image.status === 'awaiting_upload') {
        await failQuestion('image_failed', image ? `the image is ${image.status}${image.error ? ` (${image.error.code})` : ''}` : 'the image record no longer exists');
        return await this.deleteMessage(message);
      }
      await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], { status: 'processing' });
      let bytes: Uint8Array;
      try {
        bytes = await objects.getBounded(image.objectKey, this.deps.options.maxObjectBytes, AbortSignal.timeout(this.o.maxJobMs));
      } catch (error) {
        if (error instanceof ObjectMissingError) {
          await failQuestion('object_missing', 'the image object no longer exists');
          return await this.deleteMessage(message);
        }
        if (error instanceof ObjectTooLargeError) {
          await failQuestion('too_large', error.message);
          return await this.deleteMessage(message);
        }
        throw error;
      }
      const started = performance.now();
      const outcome = await answerer.ask(bytes, question.question);
      const inferenceMs = Math.round(performance.now() - started);
      if (!outcome.ok) {
        await failQuestion(outcome.reason, outcome.message);
      } else {
        await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], {
          status: 'done',
          answer: outcome.generation.text,
          tokenIds: outcome.generation.tokenIds,
          model: answerer.name,
        });
        this.deps.metrics.emit({ [METRICS.questionsAnswered]: 1, [METRICS.inferenceMs]: inferenceMs });
        log.info({ inferenceMs }, 'question answered');
      }
      await this.deleteMessage(message);
    } catch (error) {
      const last = message.receiveCount >= this.deps.options.maxReceiveCount;
      log.error({ err: error, lastReceive: last }, 'question job failed');
      if (last) await failQuestion('processing_error', `processing failed ${message.receiveCount} times; last error: ${describe(error)}`).catch(() => undefined);
      await this.abandon(message);
    }
  }
}


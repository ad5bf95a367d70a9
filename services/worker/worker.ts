import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ImageEraser } from '../aws/image-eraser.js';
import { NO_PUBLISHER } from '../aws/result-publisher.js';
import type { ReceivedMessage } from '../aws/sqs.js';
import { CaptionBatch } from './caption-batch.js';
import { CaptionClaims } from './caption-claims.js';
import { Heartbeat } from './heartbeat.js';
import { HeldMessages } from './held-messages.js';
import { ImageResults } from './image-results.js';
import { MessageIntake } from './message-intake.js';
import { ObjectJobs } from './object-jobs.js';
import { ObjectReader } from './object-reader.js';
import { ObjectRemovals } from './object-removals.js';
import { resolveOptions, type ResolvedWorkerOptions, type WebhookDeliveryDeps, type WorkerDeps } from './options.js';
import { QuestionJobs } from './questions.js';
import { WebhookDeliveries } from './webhook-deliveries.js';
import { ReceiveLoop } from './receive-loop.js';
import { TaskProtection } from './task-protection.js';
import { runtimeEnv } from '../core/config.js';

export type { WorkerDeps, WorkerOptions } from './options.js';
export { MAX_VISIBILITY_SECONDS, retryDelaySeconds } from './retry-backoff.js';

/**
 * The SQS consumer. Receives up to 10 messages per long poll, keeps the next receive in flight
 * while the model runs, captions every distinct uncached content of a receive in one model call,
 * and deletes a message only after its records are written. Questions come from a queue of their own,
 * polled by a second loop, so a flood of questions never holds up captions (nor the other way round).
 * See services/worker/README.md.
 *
 * This class only wires the parts, one job a module (listed in services/worker/README.md).
 */
export class Worker {
  readonly id = randomUUID();
  /** Aborted by `stop()`: no new receives, the pending long poll and claim waits end. */
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly intake: MessageIntake;
  private readonly questionIntake: MessageIntake;
  private readonly questionsHeld: HeldMessages;
  private readonly objects: ObjectJobs;
  private readonly removals: ObjectRemovals;
  private readonly questions: QuestionJobs;
  private readonly loops: ReceiveLoop[];
  private running: Promise<void> | undefined;

  constructor(deps: WorkerDeps) {
    const { queue, questionQueue, objects, records, cache, captioner, answerer, metrics, logger } = deps;
    const o = resolveOptions(deps.options);
    // The caption dedup key's model part (name + precision + checkpoint) and the readable name for records.
    const captionModel = { name: captioner.name, key: captioner.dedupKey ?? captioner.name, precision: captioner.precision };
    const publisher = deps.publisher ?? NO_PUBLISHER;
    const stopping = this.abort.signal;
    const held = new HeldMessages(queue, logger, o);
    const claims = new CaptionClaims(records, cache, captionModel, this.id, o);
    const results = new ImageResults(records, cache, metrics, captionModel, publisher, { ...o, bucket: objects.bucket });
    const identity = { workerId: this.id, captioner: captioner.name, captionKey: captionModel.key, vqa: answerer?.name ?? null };
    this.logger = logger;
    this.intake = new MessageIntake(held, metrics, logger, o);
    this.objects = new ObjectJobs(
      new ObjectReader(records, objects, metrics, results, captioner.name, o),
      new CaptionBatch(claims, results, captioner, metrics, logger, stopping),
      results,
      held,
      metrics,
      o,
    );
    this.removals = new ObjectRemovals(records, new ImageEraser(records, objects, cache, publisher), held, metrics, logger, { ...o, bucket: objects.bucket });
    const protection = deps.taskProtection ?? new TaskProtection({ agentUri: runtimeEnv('ECS_AGENT_URI'), logger, maxJobMinutes: Math.ceil(o.maxJobMs / 60_000) });
    const captionLoop = new ReceiveLoop(queue, held, new Heartbeat(held, claims, logger, o), protection.holder('captions'), (messages) => this.processBatch(messages), logger, stopping, o, identity);
    this.loops = [captionLoop];
    // Questions: their own queue, messages held (and renewed) apart from the captions'.
    const questionsHeld = questionQueue ? new HeldMessages(questionQueue, logger, o) : held;
    this.questionsHeld = questionsHeld;
    this.questionIntake = new MessageIntake(questionsHeld, metrics, logger, o);
    this.questions = new QuestionJobs(records, objects, answerer, questionsHeld, publisher, metrics, logger, o);
    if (questionQueue) {
      const questionLogger = logger.child({ queue: 'questions' });
      this.loops.push(
        new ReceiveLoop(questionQueue, questionsHeld, new Heartbeat(questionsHeld, undefined, questionLogger, o), protection.holder('questions'), (messages) => this.processQuestions(messages), questionLogger, stopping, o, identity),
      );
    }
    if (deps.webhooks) this.loops.push(this.webhookLoop(deps.webhooks, metrics, stopping, o, identity));
  }

  /**
   * Webhook deliveries: a loop and queue of their own, so a slow receiver never holds up captions or questions. A
   * delivery in hand is handed back on stop, so deliveries never protect the task from scale-in.
   */
  private webhookLoop(w: WebhookDeliveryDeps, metrics: WorkerDeps['metrics'], stopping: AbortSignal, o: ResolvedWorkerOptions, identity: ConstructorParameters<typeof ReceiveLoop>[8]): ReceiveLoop {
    const logger = this.logger.child({ queue: 'webhooks' });
    const lo = { ...o, visibilityTimeoutSeconds: w.visibilityTimeoutSeconds, maxReceiveCount: w.attempts, batchSize: 10 };
    const held = new HeldMessages(w.queue, logger, lo);
    const deliveries = new WebhookDeliveries(held, metrics, logger, { ...w.delivery, attempts: w.attempts });
    const unprotected = { sync: async () => undefined };
    return new ReceiveLoop(w.queue, held, new Heartbeat(held, undefined, logger, lo), unprotected, (messages) => deliveries.process(messages), logger, stopping, lo, identity);
  }

  /**
   * Starts the receive loop; resolves when it has stopped, rejects (ReceiveFailedError) when the queue could not
   * be polled `receiveFailureLimit` times in a row.
   */
  start(): Promise<void> {
    // One loop giving up stops the other (it finishes its batch); the worker then rejects, the process exits
    // and is replaced.
    this.running ??= Promise.allSettled(
      this.loops.map((loop) =>
        loop.run().catch((error: unknown) => {
          this.abort.abort();
          throw error;
        }),
      ),
    ).then((outcomes) => {
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
    });
    return this.running;
  }

  /** Stops receiving, finishes the batch in hand, releases prefetched messages; resolves when done. */
  async stop(): Promise<void> {
    if (!this.abort.signal.aborted) {
      this.abort.abort();
      this.logger.info('worker stopping: no new receives, finishing the job in hand');
    }
    // A loop that gave up has already reported it through start().
    await this.running?.catch(() => undefined);
  }

  /**
   * Processes one receive of the captions queue: removals, then created objects (and question jobs queued there
   * before questions had a queue of their own). Never throws; per-message outcomes.
   */
  async processBatch(messages: ReceivedMessage[]): Promise<void> {
    const { items, removals, questions } = await this.intake.read(messages);
    for (const r of removals) await this.removals.process(r, items.filter((i) => i.message.messageId === r.message.messageId));
    if (items.length > 0) await this.objects.process(items);
    for (const q of questions) await this.questions.process(q.message, q.job);
  }

  /** Processes one receive of the questions queue. */
  async processQuestions(messages: ReceivedMessage[]): Promise<void> {
    const { items, removals, questions } = await this.questionIntake.read(messages);
    const misrouted = new Set([...items.map((i) => i.message), ...removals.map((r) => r.message)]);
    for (const message of misrouted) {
      // An S3 event on the questions queue is a wiring mistake: left for its DLQ, where the alarm shows it.
      this.logger.error({ jobId: message.messageId }, 'S3 event on the questions queue: left for its dead-letter queue');
      await this.questionsHeld.abandon(message);
    }
    for (const q of questions) await this.questions.process(q.message, q.job);
  }
}

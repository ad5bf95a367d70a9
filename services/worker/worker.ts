import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReceivedMessage } from '../aws/sqs.js';
import { CaptionBatch } from './caption-batch.js';
import { CaptionClaims } from './caption-claims.js';
import { Heartbeat } from './heartbeat.js';
import { HeldMessages } from './held-messages.js';
import { ImageResults } from './image-results.js';
import { MessageIntake } from './message-intake.js';
import { ObjectJobs } from './object-jobs.js';
import { ObjectReader } from './object-reader.js';
import { resolveOptions, type WorkerDeps } from './options.js';
import { QuestionJobs } from './questions.js';
import { ReceiveLoop } from './receive-loop.js';
import { TaskProtection } from './task-protection.js';
import { runtimeEnv } from '../core/config.js';

export type { WorkerDeps, WorkerOptions } from './options.js';
export { MAX_VISIBILITY_SECONDS, retryDelaySeconds } from './retry-backoff.js';

/**
 * The SQS consumer. Receives up to 10 messages per long poll, keeps the next receive in flight
 * while the model runs, captions every distinct uncached content of a receive in one model call,
 * and deletes a message only after its records are written. See services/worker/README.md.
 *
 * This class only wires the parts, one job a module (listed in services/worker/README.md).
 */
export class Worker {
  readonly id = randomUUID();
  /** Aborted by `stop()`: no new receives, the pending long poll and claim waits end. */
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly intake: MessageIntake;
  private readonly objects: ObjectJobs;
  private readonly questions: QuestionJobs;
  private readonly loop: ReceiveLoop;
  private running: Promise<void> | undefined;

  constructor(deps: WorkerDeps) {
    const { queue, objects, records, cache, captioner, answerer, metrics, logger } = deps;
    const o = resolveOptions(deps.options);
    // The caption dedup key's model part (name + precision + checkpoint) and the readable name for records.
    const captionModel = { name: captioner.name, key: captioner.dedupKey ?? captioner.name };
    const stopping = this.abort.signal;
    const held = new HeldMessages(queue, logger, o);
    const claims = new CaptionClaims(records, cache, captionModel, this.id, o);
    const results = new ImageResults(records, cache, metrics, captioner.name, o);
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
    this.questions = new QuestionJobs(records, objects, answerer, held, metrics, logger, o);
    const protection = deps.taskProtection ?? new TaskProtection({ agentUri: runtimeEnv('ECS_AGENT_URI'), logger, maxJobMinutes: Math.ceil(o.maxJobMs / 60_000) });
    this.loop = new ReceiveLoop(queue, held, new Heartbeat(held, claims, logger, o), protection, (messages) => this.processBatch(messages), logger, stopping, o, {
      workerId: this.id,
      captioner: captioner.name,
      captionKey: captionModel.key,
      vqa: answerer?.name ?? null,
    });
  }

  /**
   * Starts the receive loop; resolves when it has stopped, rejects (ReceiveFailedError) when the queue could not
   * be polled `receiveFailureLimit` times in a row.
   */
  start(): Promise<void> {
    this.running ??= this.loop.run();
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

  /** Processes one receive: captions, then questions. Never throws; per-message outcomes. */
  async processBatch(messages: ReceivedMessage[]): Promise<void> {
    const { items, questions } = await this.intake.read(messages);
    if (items.length > 0) await this.objects.process(items);
    for (const q of questions) await this.questions.process(q.message, q.job);
  }
}

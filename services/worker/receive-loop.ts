import type { Logger } from 'pino';
import type { Queue, ReceivedMessage } from '../aws/sqs.js';
import { errorMessage, ReceiveFailedError } from './errors.js';
import type { Heartbeat } from './heartbeat.js';
import type { HeldMessages } from './held-messages.js';
import type { ResolvedWorkerOptions } from './options.js';
import { receiveRetryDelayMs, sleep } from './retry-backoff.js';
import type { ProtectionHolder } from './task-protection.js';

/**
 * The long-poll loop: receives a batch, issues the next receive at once (prefetch, in flight while the batch is
 * processed) and hands the batch on; runs the heartbeat meanwhile. Failed receives back off exponentially; after
 * `receiveFailureLimit` in a row `run()` rejects (ReceiveFailedError). On stop (the `stopping` signal) it receives
 * no more, finishes the batch in hand and hands every message still held back to the queue. ECS task scale-in
 * protection is on from before a batch is processed until no message is held (task-protection.ts).
 */
export class ReceiveLoop {
  /** Receives that failed in a row (reset by a successful one). */
  private receiveFailures = 0;
  /** Set when the worker must give up (run() rejects with it). */
  private fatal: Error | undefined;

  constructor(
    private readonly queue: Queue,
    private readonly held: HeldMessages,
    private readonly heartbeat: Heartbeat,
    private readonly protection: ProtectionHolder,
    /** Processes one receive; it handles its own failures. */
    private readonly processBatch: (messages: ReceivedMessage[]) => Promise<void>,
    private readonly logger: Logger,
    /** Aborted by `stop()`: ends the pending long poll and any back-off. */
    private readonly stopping: AbortSignal,
    private readonly options: Pick<ResolvedWorkerOptions, 'batchSize' | 'waitSeconds' | 'visibilityTimeoutSeconds' | 'receiveFailureLimit'>,
    /** The worker and its models, for the start and stop log lines. */
    private readonly identity: { workerId: string; captioner: string; captionKey: string; vqa: string | null },
  ) {}

  async run(): Promise<void> {
    this.heartbeat.start();
    this.logger.info(this.identity, 'worker started');
    try {
      let next: Promise<ReceivedMessage[]> | undefined = this.receive();
      while (next) {
        const messages = await next;
        // Prefetch: the next long poll runs while this batch is in the model.
        next = this.stopping.aborted || this.fatal ? undefined : this.receive();
        if (messages.length === 0) continue;
        if (this.stopping.aborted) {
          await this.held.release(messages);
          continue;
        }
        await this.protection.sync(true);
        try {
          await this.processBatch(messages);
        } catch (error) {
          // processBatch handles its own failures; this is a last line so the loop never dies.
          this.logger.error({ err: error }, 'batch failed unexpectedly; its messages will be redelivered');
          this.held.forget(messages);
        }
        // Still on when the prefetch brought more; off when idle, so scale-in may pick this task.
        await this.protection.sync(this.held.size > 0);
      }
      if (this.fatal) throw this.fatal;
    } finally {
      this.heartbeat.stop();
      if (this.held.size > 0) await this.held.release(this.held.all());
      await this.protection.sync(false);
      this.logger.info({ workerId: this.identity.workerId }, 'worker stopped');
    }
  }

  private async receive(): Promise<ReceivedMessage[]> {
    try {
      const messages = await this.queue.receive({
        max: this.options.batchSize,
        waitSeconds: this.options.waitSeconds,
        visibilityTimeout: this.options.visibilityTimeoutSeconds,
        signal: this.stopping,
      });
      this.held.add(messages);
      this.receiveFailures = 0;
      return messages;
    } catch (error) {
      if (this.stopping.aborted) return [];
      this.receiveFailures += 1;
      if (this.receiveFailures >= this.options.receiveFailureLimit) {
        // Not thrown here: this receive may be a prefetch nobody awaits yet. The loop sees it and gives up.
        this.fatal = new ReceiveFailedError(`${this.receiveFailures} receives in a row failed; last error: ${errorMessage(error)}`, { cause: error });
        this.logger.error({ err: error, failures: this.receiveFailures }, 'receive keeps failing: the worker gives up');
        return [];
      }
      const delayMs = receiveRetryDelayMs(this.receiveFailures);
      this.logger.error({ err: error, failures: this.receiveFailures, limit: this.options.receiveFailureLimit, delayMs }, 'receive failed; backing off');
      await sleep(delayMs, this.stopping);
      return [];
    }
  }
}

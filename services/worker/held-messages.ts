import type { Logger } from 'pino';
import type { Queue, ReceivedMessage } from '../aws/sqs.js';
import type { ResolvedWorkerOptions } from './options.js';
import { retryDelaySeconds } from './retry-backoff.js';

/**
 * The messages received and not yet deleted or released (the heartbeat keeps them invisible), and the queue calls
 * that end a hold: delete, release (visible at once) and abandon (visible after the retry backoff).
 */
export class HeldMessages {
  private readonly held = new Map<string, ReceivedMessage>();

  constructor(
    private readonly queue: Queue,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, 'visibilityTimeoutSeconds' | 'maxReceiveCount'>,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** The messages held now. */
  all(): ReceivedMessage[] {
    return [...this.held.values()];
  }

  add(messages: ReceivedMessage[]): void {
    for (const m of messages) this.held.set(m.messageId, m);
  }

  /** Stops holding messages without a queue call: they reappear after their visibility timeout. */
  forget(messages: ReceivedMessage[]): void {
    for (const m of messages) this.held.delete(m.messageId);
  }

  /** Renews the visibility timeout of messages still in work. */
  async keepInvisible(messages: ReceivedMessage[]): Promise<void> {
    await this.queue.changeVisibility(messages, this.options.visibilityTimeoutSeconds);
  }

  async delete(m: ReceivedMessage): Promise<void> {
    await this.queue.delete(m.receiptHandle);
    this.held.delete(m.messageId);
  }

  /** Hands messages back to the queue at once (visibility 0) so another worker takes them. */
  async release(messages: ReceivedMessage[]): Promise<void> {
    for (const m of messages) this.held.delete(m.messageId);
    try {
      await this.queue.changeVisibility(messages, 0);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release messages; they reappear after their visibility timeout');
    }
  }

  /**
   * A message whose job failed unexpectedly: visible again after `retryDelaySeconds` (a long backoff that outlasts
   * an infrastructure outage). On its last receive it is made visible at once, so the queue moves it to the DLQ
   * (and the DLQ alarm fires) without waiting out a backoff.
   */
  async abandon(m: ReceivedMessage): Promise<void> {
    this.held.delete(m.messageId);
    const last = m.receiveCount >= this.options.maxReceiveCount;
    const backoff = last ? 0 : retryDelaySeconds(m.receiveCount, this.options.visibilityTimeoutSeconds, (Date.now() - m.receivedAt) / 1000);
    try {
      await this.queue.changeVisibility([m], backoff);
    } catch {
      // It reappears after its visibility timeout anyway.
    }
  }
}

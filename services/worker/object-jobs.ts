import { METRICS, type Metrics } from '../core/metrics.js';
import type { CaptionBatch } from './caption-batch.js';
import { errorMessage, WorkerStoppingError } from './errors.js';
import type { HeldMessages } from './held-messages.js';
import type { ImageResults } from './image-results.js';
import { guard, type Item } from './item.js';
import type { ObjectReader } from './object-reader.js';
import type { ResolvedWorkerOptions } from './options.js';

/**
 * The object items of one receive, start to end: accept and read them, caption them, then settle each message:
 * deleted when all its items settled, handed back when interrupted by `stop()`, else left for redelivery with the
 * retry backoff (and recorded `failed: processing_error` on its last receive).
 */
export class ObjectJobs {
  constructor(
    private readonly reader: ObjectReader,
    private readonly captions: CaptionBatch,
    private readonly results: ImageResults,
    private readonly held: HeldMessages,
    private readonly metrics: Metrics,
    private readonly options: Pick<ResolvedWorkerOptions, 'maxReceiveCount'>,
  ) {}

  async process(items: Item[]): Promise<void> {
    // 1. Accept (map key -> image, newer sequencer wins) and read the bytes.
    await Promise.all(items.map((item) => guard(item, () => this.reader.acceptAndRead(item))));
    // 2. Captions by content hash: cache, table, claim; the model for the distinct misses.
    const open = items.filter((i) => !i.settled && !i.error && i.sha256 !== undefined);
    await this.captions.caption(open);
    // 3. Delete every message whose items all settled; the rest wait for redelivery.
    const byMessage = new Map<string, Item[]>();
    for (const item of items) byMessage.set(item.message.messageId, [...(byMessage.get(item.message.messageId) ?? []), item]);
    for (const group of byMessage.values()) {
      const message = group[0]!.message;
      const failed = group.filter((i) => i.error !== undefined || !i.settled);
      if (failed.length === 0) {
        await this.held.delete(message).catch((error: unknown) => group[0]!.log.warn({ err: error }, 'delete failed; the message will be redelivered and found done'));
        continue;
      }
      if (failed.every((i) => i.error instanceof WorkerStoppingError)) {
        // Interrupted by stop() (not a failure): hand the message straight back to the queue.
        group[0]!.log.info('worker stopping: message handed back unfinished');
        await this.held.release([message]);
        continue;
      }
      const last = message.receiveCount >= this.options.maxReceiveCount;
      for (const item of failed) {
        item.log.error({ err: item.error, lastReceive: last }, last ? 'job failed on its last receive: recorded as failed, message goes to the DLQ' : 'job failed; the message will be redelivered');
        if (last) {
          // Best effort: when this write fails too (the outage that failed the job), the record stays `processing`
          // while the message sits in the DLQ; redriving the DLQ after the outage reprocesses it (README: Failures).
          await this.results.fail(item, 'processing_error', `processing failed ${message.receiveCount} times; last error: ${errorMessage(item.error)}`).catch((error: unknown) => {
            this.metrics.count(METRICS.failures, 1, { Reason: 'failure_not_recorded' });
            item.log.error({ err: error, imageId: item.imageId, key: item.event.key }, 'could not record the failure: the record stays processing until the DLQ is redriven');
          });
        }
      }
      await this.held.abandon(message);
    }
  }
}

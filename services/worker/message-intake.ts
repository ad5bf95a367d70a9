import type { Logger } from 'pino';
import type { ReceivedMessage } from '../aws/sqs.js';
import { parseQueueMessage, type ObjectRemoved, type QuestionJob } from '../core/events.js';
import { imageForKey } from '../core/keys.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import type { HeldMessages } from './held-messages.js';
import type { Item } from './item.js';
import type { ResolvedWorkerOptions } from './options.js';

/** A question job and the message that carried it. */
export interface QuestionMessage {
  message: ReceivedMessage;
  job: QuestionJob;
}

/** ObjectRemoved records of one message. */
export interface RemovalMessage {
  message: ReceivedMessage;
  removed: ObjectRemoved[];
}

/**
 * Parses the messages of one receive into work: an item per ObjectCreated record, the removals and the question jobs. Test events
 * and events without ObjectCreated records are deleted; unparseable messages are left for the DLQ; unreadable
 * records of an event are skipped alone.
 */
export class MessageIntake {
  constructor(
    private readonly held: HeldMessages,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, 'maxJobMs' | 'objectIdSecret'>,
  ) {}

  async read(messages: ReceivedMessage[]): Promise<{ items: Item[]; removals: RemovalMessage[]; questions: QuestionMessage[] }> {
    const items: Item[] = [];
    const removals: RemovalMessage[] = [];
    const questions: QuestionMessage[] = [];
    const jobSignal = AbortSignal.timeout(this.options.maxJobMs);
    for (const message of messages) {
      const parsed = parseQueueMessage(message.body);
      const log = this.logger.child({ jobId: message.messageId, receiveCount: message.receiveCount });
      if (parsed.type === 'test') {
        log.info('s3:TestEvent ignored');
        await this.held.delete(message).catch((error: unknown) => log.warn({ err: error }, 'delete failed'));
      } else if (parsed.type === 'invalid') {
        // Never deleted silently: it is left for the DLQ (long backoff between receives, no tight retry loop) so the
        // DLQ alarm shows it and it can be inspected.
        log.error({ reason: parsed.reason, body: message.body.slice(0, 2_000) }, 'unparseable message left for the DLQ');
        this.metrics.count(METRICS.failures, 1, { Reason: 'invalid_message' });
        await this.held.abandon(message);
      } else if (parsed.type === 'question') {
        questions.push({ message, job: parsed.job });
      } else {
        for (const bad of parsed.invalid) {
          // One unreadable record (e.g. a key that is not valid percent-encoding) fails alone; the others go on.
          log.error({ record: bad.index, rawKey: bad.rawKey, reason: bad.reason }, 'S3 event record cannot be processed: skipped');
          this.metrics.count(METRICS.failures, 1, { Reason: 'invalid_event_record' });
        }
        if (parsed.removed.length > 0) removals.push({ message, removed: parsed.removed });
        if (parsed.objects.length === 0 && parsed.removed.length === 0) {
          log.info({ ignored: parsed.ignored }, 'event without ObjectCreated or ObjectRemoved records ignored');
          await this.held.delete(message).catch((error: unknown) => log.warn({ err: error }, 'delete failed'));
        }
        for (const event of parsed.objects) {
          const { imageId, upload } = imageForKey(event.key, this.options.objectIdSecret);
          items.push({ message, event, imageId, upload, log: log.child({ imageId, key: event.key }), acceptedAt: Date.now(), signal: jobSignal, settled: false });
        }
      }
    }
    return { items, removals, questions };
  }
}

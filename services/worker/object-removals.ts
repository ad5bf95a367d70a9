import type { Logger } from 'pino';
import type { ImageEraser } from '../aws/image-eraser.js';
import type { RecordStore } from '../aws/record-store.js';
import { imageForKey } from '../core/keys.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import type { HeldMessages } from './held-messages.js';
import type { Item } from './item.js';
import type { RemovalMessage } from './message-intake.js';
import type { ResolvedWorkerOptions } from './options.js';

/**
 * ObjectRemoved events: the records of a removed object go with it (image, questions, caption item, cache
 * entries). A dropped object's key keeps a tombstone with the removal's sequencer, so an older ObjectCreated event
 * arriving late is stale; a key written again after the removal (a newer sequencer) keeps its new record.
 */
export class ObjectRemovals {
  constructor(
    private readonly records: RecordStore,
    private readonly eraser: ImageEraser,
    private readonly held: HeldMessages,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, 'objectIdSecret'> & { bucket: string },
  ) {}

  /**
   * Erases the records of each removed object, then deletes the message; a failure leaves it for redelivery.
   * `items`: the created objects of the same message (S3 never mixes them; if it did, their job deletes it).
   */
  async process({ message, removed }: RemovalMessage, items: Item[]): Promise<void> {
    const log = this.logger.child({ jobId: message.messageId });
    try {
      for (const event of removed) {
        if (event.bucket !== this.options.bucket) {
          log.error({ bucket: event.bucket }, 'removal for another bucket ignored');
          continue;
        }
        const { imageId, upload } = imageForKey(event.key, this.options.objectIdSecret);
        // An upload's key is written once; a dropped key may be written again later: only its newer record stays.
        const owned = upload || (await this.records.removeObject(event.key, event.sequencer)) !== undefined;
        const image = owned ? await this.records.getImage(imageId) : undefined;
        if (image && image.objectKey === event.key && (upload || (image.sequencer ?? '') <= event.sequencer)) {
          await this.eraser.erase(image, { deleteObject: false });
          this.metrics.count(METRICS.imagesRemoved);
          log.info({ imageId, key: event.key }, 'object removed: its records are erased');
        } else {
          log.info({ key: event.key }, 'object removed: no record of it to erase');
        }
      }
      if (items.length === 0) await this.held.delete(message);
    } catch (error) {
      log.error({ err: error }, 'removal failed; the message will be redelivered');
      for (const item of items) item.error = error;
      if (items.length === 0) await this.held.abandon(message);
    }
  }
}

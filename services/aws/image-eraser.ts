import { CACHE_KEYS, type Cache } from './cache.js';
import type { RecordStore } from './record-store.js';
import type { ObjectStore } from './s3.js';
import type { ImageRecord } from '../core/records.js';
import { imageDeletedEvent, type ImageDeleted } from '../core/result-events.js';
import { NO_PUBLISHER, type ResultPublisher } from './result-publisher.js';

/**
 * Removes an image and everything about it: the object (unless it is already gone), its questions, the caption
 * item its caption came from, its records, and every Redis entry of them. Used by DELETE /v1/images/{id} and by
 * the worker for ObjectRemoved events of dropped objects. Idempotent: running it again finds nothing to do.
 *
 * The `Image Deleted` event is published first: once the records are gone a retry would find nothing to announce,
 * so publishing before erasing is what makes the event at-least-once (a failed erase is retried and publishes the
 * same event id again).
 */
export class ImageEraser {
  constructor(
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    private readonly cache: Cache,
    private readonly publisher: ResultPublisher = NO_PUBLISHER,
  ) {}

  async erase(image: ImageRecord, options: { deleteObject: boolean; reason: ImageDeleted['reason'] }): Promise<void> {
    await this.publisher.publish(imageDeletedEvent(image, this.objects.bucket, options.reason), image.webhook ? { webhook: image.webhook } : {});
    if (options.deleteObject) await this.objects.delete(image.objectKey);
    await this.records.deleteImage(image);
    // The caption item's key is also its Redis key (CACHE_KEYS.caption); questions are never cached.
    const keys = [CACHE_KEYS.image(image.imageId), ...(image.captionKey ? [image.captionKey] : [])];
    await Promise.all(keys.map((k) => this.cache.delete(k)));
  }
}

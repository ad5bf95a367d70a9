import { CACHE_KEYS, type Cache } from './cache.js';
import type { RecordStore } from './record-store.js';
import type { ObjectStore } from './s3.js';
import type { ImageRecord } from '../core/records.js';

/**
 * Removes an image and everything about it: the object (unless it is already gone), its questions, the caption
 * item its caption came from, its records, and every Redis entry of them. Used by DELETE /v1/images/{id} and by
 * the worker for ObjectRemoved events of dropped objects. Idempotent: running it again finds nothing to do.
 */
export class ImageEraser {
  constructor(
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    private readonly cache: Cache,
  ) {}

  async erase(image: ImageRecord, options: { deleteObject: boolean }): Promise<void> {
    if (options.deleteObject) await this.objects.delete(image.objectKey);
    await this.records.deleteImage(image);
    // The caption item's key is also its Redis key (CACHE_KEYS.caption); questions are never cached.
    const keys = [CACHE_KEYS.image(image.imageId), ...(image.captionKey ? [image.captionKey] : [])];
    await Promise.all(keys.map((k) => this.cache.delete(k)));
  }
}

import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import { ObjectMissingError, ObjectTooLargeError } from '../aws/errors.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ObjectStore } from '../aws/s3.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import type { ImageResults } from './image-results.js';
import type { Item } from './item.js';
import type { ResolvedWorkerOptions } from './options.js';

/** Why an event was skipped, for the log. */
const SKIPPED = {
  stale: 'a newer event for this key exists: skipped',
  duplicate: 'event already processed (a duplicate delivery, or a replayed one-shot upload): skipped',
  unknown_upload: 'an uploads/ key without an API upload record (the prefix is the API\'s): not captioned',
} as const;

/**
 * The caption dedup id of a content within its owner's scope: the content hash itself for dropped objects (the
 * operator's), else a hash of owner and content hash.
 */
export function contentIdOf(sha256: string, owner: string | undefined): string {
  return owner === undefined ? sha256 : createHash('sha256').update(`${owner}\u0000${sha256}`).digest('hex');
}

/**
 * Accepts an item's event (key → image, newer sequencer wins; stale and duplicate events settle the item) and reads
 * its object: HeadObject, GetObject bounded to `maxObjectBytes`, sha256 and sniffed type. A missing or too large
 * object fails the item.
 */
export class ObjectReader {
  constructor(
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    private readonly metrics: Metrics,
    private readonly results: ImageResults,
    /** Model name written on records. */
    private readonly modelName: string,
    private readonly options: Pick<ResolvedWorkerOptions, 'maxObjectBytes'>,
  ) {}

  async acceptAndRead(item: Item): Promise<void> {
    const { records, objects, metrics } = this;
    const { maxObjectBytes } = this.options;
    const { event } = item;
    if (event.bucket !== objects.bucket) {
      item.log.error({ bucket: event.bucket, expected: objects.bucket }, 'event for another bucket ignored (check the bucket notification configuration)');
      metrics.count(METRICS.failures, 1, { Reason: 'wrong_bucket' });
      item.settled = true;
      return;
    }
    const outcome = await records.acceptObject({ imageId: item.imageId, objectKey: event.key, sequencer: event.sequencer, model: this.modelName, upload: item.upload });
    if (outcome !== 'accepted') {
      item.log.info({ outcome }, SKIPPED[outcome]);
      item.settled = true;
      return;
    }
    metrics.count(METRICS.queueWaitMs, Math.max(0, item.acceptedAt - event.eventTime.getTime()));
    const image = await records.getImage(item.imageId);
    item.prompt = image?.prompt;
    item.owner = image?.owner;
    await this.results.cacheImage(image);
    if (!(await records.markProcessing(item.imageId, event.sequencer))) {
      item.settled = true;
      return;
    }
    try {
      const head = await objects.head(event.key, item.signal);
      if (head.contentLength > maxObjectBytes) throw new ObjectTooLargeError(event.key, maxObjectBytes);
      // A zero-byte object needs no GET (a ranged GET of it is a 416 on S3; the local emulator drops the connection).
      item.bytes = head.contentLength === 0 ? new Uint8Array(0) : await objects.getBounded(event.key, maxObjectBytes, item.signal);
    } catch (error) {
      if (error instanceof ObjectMissingError) return this.results.fail(item, 'object_missing', 'the object was deleted before it could be processed');
      if (error instanceof ObjectTooLargeError) return this.results.fail(item, 'too_large', `the object is larger than ${maxObjectBytes} bytes`);
      throw error;
    }
    item.sha256 = createHash('sha256').update(item.bytes).digest('hex');
    item.contentId = contentIdOf(item.sha256, item.owner);
    item.contentType = (await fileTypeFromBuffer(item.bytes).catch(() => undefined))?.mime;
  }
}

import { CACHE_KEYS, type Cache } from '../aws/cache.js';
import type { RecordStore } from '../aws/record-store.js';
import { PK } from '../core/keys.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import { cachedImage, type DoneCaption, type FailureReason, type ImageRecord, type RecordError } from '../core/records.js';
import { guard, type Item } from './item.js';
import type { ResolvedWorkerOptions } from './options.js';

/** Writes the final image records of items (done or failed, conditional on the sequencer) and caches them. */
export class ImageResults {
  constructor(
    private readonly records: RecordStore,
    private readonly cache: Cache,
    private readonly metrics: Metrics,
    /** Model name written on records and the model part of the caption dedup key. */
    private readonly model: { name: string; key: string },
    private readonly options: Pick<ResolvedWorkerOptions, 'cacheTtlSeconds'>,
  ) {}

  /**
   * Finishes the items of one content with its caption: the first item inferred it unless `cacheHit`, the others
   * reuse it (counted as cache hits).
   */
  async finishGroup(group: Item[], caption: DoneCaption, cacheHit: boolean): Promise<void> {
    if (cacheHit) this.metrics.count(METRICS.cacheHits, group.length);
    else if (group.length > 1) this.metrics.count(METRICS.cacheHits, group.length - 1);
    await Promise.all(
      group.map((item, i) =>
        guard(item, () =>
          this.finish(item, {
            status: 'done',
            caption: caption.text,
            tokenIds: caption.tokenIds,
            cacheHit: cacheHit || i > 0,
            inferenceMs: cacheHit || i > 0 ? 0 : caption.inferenceMs,
          }),
        ),
      ),
    );
  }

  fail(item: Item, reason: FailureReason, message: string): Promise<void> {
    this.metrics.count(METRICS.failures, 1, { Reason: reason });
    return this.finish(item, { status: 'failed', error: { code: reason, message } });
  }

  private async finish(
    item: Item,
    result: { status: 'done'; caption: string; tokenIds: number[]; cacheHit: boolean; inferenceMs: number } | { status: 'failed'; error: RecordError },
  ): Promise<void> {
    const now = Date.now();
    const timingsMs = {
      queueMs: Math.max(0, item.acceptedAt - item.event.eventTime.getTime()),
      totalMs: Math.max(0, now - item.event.eventTime.getTime()),
      ...(result.status === 'done' ? { inferenceMs: result.inferenceMs } : {}),
    };
    const written = await this.records.finishImage(item.imageId, item.event.sequencer, {
      model: this.model.name,
      contentSha256: item.sha256,
      contentType: item.contentType,
      contentLength: item.bytes?.byteLength,
      timingsMs,
      ...(result.status === 'done'
        ? { status: 'done', caption: result.caption, tokenIds: result.tokenIds, cacheHit: result.cacheHit, captionKey: PK.caption(this.model.key, item.contentId ?? '', item.prompt) }
        : { status: 'failed', error: result.error }),
    });
    item.settled = true;
    if (written === 'superseded') {
      item.log.info('a newer event for this key took the record over: result discarded');
      return;
    }
    this.metrics.count(METRICS.imagesProcessed);
    item.log.info({ status: written.status, cacheHit: written.cacheHit, error: written.error, totalMs: timingsMs.totalMs }, 'image finished');
    await this.cacheImage(written);
  }

  /** Caches an image's public record: final ones for `cacheTtlSeconds`, others for 5 s. */
  async cacheImage(image: ImageRecord | undefined): Promise<void> {
    if (!image) return;
    const terminal = image.status === 'done' || image.status === 'failed';
    await this.cache.setJson(CACHE_KEYS.image(image.imageId), cachedImage(image), terminal ? this.options.cacheTtlSeconds : 5);
  }
}

import { CACHE_KEYS, type Cache } from '../aws/cache.js';
import type { ClaimOutcome, RecordStore } from '../aws/record-store.js';
import { captionRecordSchema, type DoneCaption } from '../core/records.js';
import type { Generation } from './captioner.js';
import { RetryableJobError, WorkerStoppingError } from './errors.js';
import type { ResolvedWorkerOptions } from './options.js';
import { sleep } from './retry-backoff.js';

/** Cache TTL of a finished caption (by content hash). */
const CAPTION_CACHE_TTL_SECONDS = 86_400;

/** The dedup key of a caption within one model: content hash and prompt. */
export const contentKey = (sha256: string | undefined, prompt: string | undefined): string => `${sha256}\u0000${prompt ?? ''}`;

/**
 * Captions deduplicated by content hash across workers: the lookup (Redis, then DynamoDB), the conditional claim
 * that makes one worker infer a content, the claims this worker holds while the model runs (renewed by the
 * heartbeat), their completion or release, and the wait for a claim held by another worker.
 */
export class CaptionClaims {
  /** Caption claims held while the model runs (renewed by the heartbeat). */
  private readonly claims = new Map<string, { sha256: string; prompt: string | undefined; takenAt: number }>();

  constructor(
    private readonly records: RecordStore,
    private readonly cache: Cache,
    /** The caption dedup key's model part (name + precision + checkpoint) and the readable name for records. */
    private readonly model: { name: string; key: string },
    private readonly workerId: string,
    private readonly options: Pick<ResolvedWorkerOptions, 'claimLeaseMs' | 'claimWaitMs'>,
  ) {}

  /** A finished caption of this content: Redis, else DynamoDB (then put in Redis). */
  async lookup(sha256: string, prompt: string | undefined): Promise<DoneCaption | undefined> {
    const model = this.model;
    const cached = await this.cache.getJson(CACHE_KEYS.caption(model.key, sha256, prompt), (v) => captionRecordSchema.parse(v));
    if (cached?.state === 'done') return cached;
    const stored = await this.records.getCaption(model, sha256, prompt);
    if (stored?.state === 'done') {
      await this.cache.setJson(CACHE_KEYS.caption(model.key, sha256, prompt), stored, CAPTION_CACHE_TTL_SECONDS);
      return stored;
    }
    return undefined;
  }

  /** Tries to claim the content; a claim taken is held (and renewed) until completed or released. */
  async claim(sha256: string, prompt: string | undefined): Promise<ClaimOutcome> {
    const claim = await this.records.claimCaption(this.model, sha256, prompt, this.workerId, this.options.claimLeaseMs);
    if (claim.kind === 'claimed') this.claims.set(contentKey(sha256, prompt), { sha256, prompt, takenAt: Date.now() });
    return claim;
  }

  /** Whether this worker still holds the claim of the content. */
  holds(sha256: string | undefined, prompt: string | undefined): boolean {
    return this.claims.has(contentKey(sha256, prompt));
  }

  /** Writes the caption of a claimed content (ending the claim) and caches it. */
  async complete(sha256: string, prompt: string | undefined, generation: Generation, inferenceMs: number): Promise<DoneCaption> {
    const model = this.model;
    let done: DoneCaption;
    try {
      done = await this.records.completeCaption(model, sha256, prompt, { ...generation, inferenceMs });
    } catch (error) {
      // The claim must not outlive a failed write: stop renewing it and let another delivery take it at once.
      await this.release(sha256, prompt);
      throw error;
    } finally {
      this.claims.delete(contentKey(sha256, prompt));
    }
    await this.cache.setJson(CACHE_KEYS.caption(model.key, sha256, prompt), done, CAPTION_CACHE_TTL_SECONDS);
    return done;
  }

  /** Gives a claim up at once (best effort), so another delivery can take it. */
  async release(sha256: string, prompt: string | undefined): Promise<void> {
    this.claims.delete(contentKey(sha256, prompt));
    await this.records.releaseCaptionClaim(this.model, sha256, prompt, this.workerId).catch(() => undefined);
  }

  /**
   * Renews the lease of every claim held; a claim taken `maxJobMs` or more ago is no longer renewed (it lapses and
   * another delivery takes it over). Throws when a renewal fails (the rest wait for the next heartbeat).
   */
  async renew(now: number, maxJobMs: number): Promise<void> {
    for (const [key, claim] of this.claims) {
      if (now - claim.takenAt >= maxJobMs) {
        this.claims.delete(key);
        continue;
      }
      await this.records.renewCaptionClaim(this.model, claim.sha256, claim.prompt, this.workerId, this.options.claimLeaseMs);
    }
  }

  /**
   * Another worker holds the claim for this content: polls (250 ms doubling to 2 s) for its caption, or takes over
   * a lapsed claim. Throws WorkerStoppingError when `stopping` aborts, RetryableJobError after `claimWaitMs`.
   */
  async waitForOtherWorker(sha256: string, prompt: string | undefined, stopping: AbortSignal): Promise<Exclude<ClaimOutcome, { kind: 'busy' }>> {
    const model = this.model;
    const deadline = Date.now() + this.options.claimWaitMs;
    let delayMs = 250;
    while (Date.now() < deadline) {
      await sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())), stopping);
      delayMs = Math.min(delayMs * 2, 2_000);
      if (stopping.aborted) throw new WorkerStoppingError('the worker is stopping: the message goes back to the queue');
      const stored = await this.records.getCaption(model, sha256, prompt);
      if (stored?.state === 'done') return { kind: 'done', caption: stored };
      if (stored === undefined || stored.leaseUntil < Date.now()) {
        const claim = await this.claim(sha256, prompt);
        if (claim.kind !== 'busy') return claim;
      }
    }
    throw new RetryableJobError(`another worker still holds the caption claim for ${sha256} after ${this.options.claimWaitMs} ms`);
  }
}

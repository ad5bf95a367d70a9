import type { Logger } from 'pino';
import { METRICS, type Metrics } from '../core/metrics.js';
import type { FailureReason } from '../core/records.js';
import { contentKey, type CaptionClaims } from './caption-claims.js';
import type { Captioner, Outcome } from './captioner.js';
import type { ImageResults } from './image-results.js';
import type { Item } from './item.js';

/**
 * Captions the read items of a receive: one lookup and claim per distinct content (owner-scoped content id + prompt), one model call
 * per prompt over the claimed misses, the contents claimed by other workers awaited.
 */
export class CaptionBatch {
  constructor(
    private readonly claims: CaptionClaims,
    private readonly results: ImageResults,
    private readonly captioner: Captioner,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Aborted by `stop()`: ends the waits for other workers' claims. */
    private readonly stopping: AbortSignal,
  ) {}

  /** Captions the open items: one lookup per distinct content, one model call per prompt for the misses. */
  async caption(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    const groups = new Map<string, Item[]>();
    for (const item of items) {
      const key = contentKey(item.contentId, item.prompt);
      groups.set(key, [...(groups.get(key) ?? []), item]);
    }
    const toInfer: Item[][] = [];
    const waits: Promise<void>[] = [];
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const first = group[0]!;
        const contentId = first.contentId!;
        try {
          const hit = await this.claims.lookup(contentId, first.prompt);
          if (hit) return this.results.finishGroup(group, hit, true);
          const claim = await this.claims.claim(contentId, first.prompt);
          if (claim.kind === 'claimed') {
            toInfer.push(group);
          } else if (claim.kind === 'done') {
            await this.results.finishGroup(group, claim.caption, true);
          } else {
            waits.push(this.waitForOtherWorker(group));
          }
        } catch (error) {
          for (const item of group) item.error = error;
        }
      }),
    );
    try {
      await Promise.all([this.infer(toInfer), ...waits]);
    } finally {
      // Whatever happened, no claim of this receive stays with the heartbeat: one still held here was neither
      // completed nor released (an unexpected error), so it is released now.
      for (const group of groups.values()) {
        const first = group[0]!;
        if (this.claims.holds(first.contentId, first.prompt)) await this.releaseClaim(first);
      }
    }
  }

  /** Runs the model once per prompt over the claimed distinct contents. */
  private async infer(groups: Item[][]): Promise<void> {
    const byPrompt = new Map<string, Item[][]>();
    for (const g of groups) byPrompt.set(g[0]!.prompt ?? '', [...(byPrompt.get(g[0]!.prompt ?? '') ?? []), g]);
    for (const [prompt, promptGroups] of byPrompt) {
      const started = performance.now();
      const options = prompt ? { prompt } : {};
      this.logger.debug({ images: promptGroups.length }, 'model batch started');
      let outcomes: (Outcome | undefined)[];
      try {
        outcomes = await this.captioner.caption(
          promptGroups.map((g) => g[0]!.bytes!),
          options,
        );
      } catch (error) {
        if (promptGroups.length === 1) {
          for (const item of promptGroups[0]!) item.error = error;
          await this.releaseClaim(promptGroups[0]![0]!);
          continue;
        }
        // One input must not take its batch-mates down with it: run them one by one.
        this.logger.warn({ err: error, images: promptGroups.length }, 'model batch failed; retrying its images one by one');
        outcomes = [];
        for (const g of promptGroups) {
          try {
            outcomes.push((await this.captioner.caption([g[0]!.bytes!], options))[0]);
          } catch (single) {
            for (const item of g) item.error = single;
            await this.releaseClaim(g[0]!);
            outcomes.push(undefined);
          }
        }
      }
      const inferenceMs = Math.round(performance.now() - started);
      this.metrics.emit({ [METRICS.inferences]: promptGroups.length, [METRICS.inferenceMs]: inferenceMs });
      this.logger.info({ images: promptGroups.length, inferenceMs, prompt: prompt || undefined }, 'model batch done');
      await Promise.all(
        promptGroups.map(async (g, i) => {
          const outcome = outcomes[i];
          const first = g[0]!;
          if (first.error !== undefined) return;
          try {
            if (!outcome || !outcome.ok) {
              await this.releaseClaim(first);
              const reason: FailureReason = outcome?.reason ?? 'processing_error';
              await Promise.all(g.map((item) => this.results.fail(item, reason, outcome?.message ?? 'the model returned no result')));
              return;
            }
            const done = await this.claims.complete(first.contentId!, first.prompt, outcome.generation, Math.round(inferenceMs / promptGroups.length));
            await this.results.finishGroup(g, done, false);
          } catch (error) {
            for (const item of g) item.error = error;
          }
        }),
      );
    }
  }

  private releaseClaim(first: Item): Promise<void> {
    return this.claims.release(first.contentId!, first.prompt);
  }

  /** Another worker holds the claim for this content: wait for its caption (or take over a lapsed claim). */
  private async waitForOtherWorker(group: Item[]): Promise<void> {
    const first = group[0]!;
    try {
      const result = await this.claims.waitForOtherWorker(first.contentId!, first.prompt, this.stopping);
      if (result.kind === 'done') return await this.results.finishGroup(group, result.caption, true);
      return await this.infer([group]);
    } catch (error) {
      for (const item of group) item.error = error;
    }
  }
}

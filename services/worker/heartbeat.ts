import type { Logger } from 'pino';
import type { CaptionClaims } from './caption-claims.js';
import type { HeldMessages } from './held-messages.js';
import type { ResolvedWorkerOptions } from './options.js';

/**
 * Every third of the visibility timeout (at least 1 s): renews the visibility of the held messages, then the leases
 * of the caption claims. Past the job deadline (`maxJobMs` from the receive, or from the claim) neither is renewed
 * any more: they lapse and are redelivered. A failed renewal is logged and tried again on the next beat.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly held: HeldMessages,
    /** The caption claims to renew too (the captions loop's); undefined for the questions loop. */
    private readonly claims: CaptionClaims | undefined,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, 'visibilityTimeoutSeconds' | 'maxJobMs'>,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.beat(), Math.max(1_000, (this.options.visibilityTimeoutSeconds * 1000) / 3));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(): Promise<void> {
    const { maxJobMs } = this.options;
    const now = Date.now();
    // Past the job deadline a message is no longer renewed: it lapses and is redelivered (a hung job cannot hold it).
    const overdue = this.held.all().filter((m) => now - m.receivedAt >= maxJobMs);
    for (const m of overdue) {
      this.held.forget([m]);
      this.logger.warn({ jobId: m.messageId, maxJobMs }, 'job past its deadline: no longer renewed, it will be redelivered');
    }
    const messages = this.held.all();
    try {
      if (messages.length > 0) await this.held.keepInvisible(messages);
      await this.claims?.renew(now, maxJobMs);
    } catch (error) {
      this.logger.warn({ err: error }, 'visibility heartbeat failed');
    }
  }
}

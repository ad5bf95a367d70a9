import type { Logger } from 'pino';
import type { ReceivedMessage } from '../aws/sqs.js';
import type { ObjectCreated } from '../core/events.js';

/** One object of one message, carried through the stages of a batch. */
export interface Item {
  message: ReceivedMessage;
  event: ObjectCreated;
  imageId: string;
  /** An API upload (`uploads/<id>`, one-shot) rather than an object dropped by another writer. */
  upload: boolean;
  /** The image's owner (from its upload record); undefined for dropped objects (the operator's). */
  owner?: string;
  log: Logger;
  acceptedAt: number;
  /** Aborts the item's S3 calls at the job deadline (maxJobMs). */
  signal: AbortSignal;
  prompt?: string;
  bytes?: Uint8Array;
  sha256?: string;
  /**
   * The caption dedup id: the content hash within the owner's scope, so identical images are inferred once per
   * owner and nobody learns from a caption's speed or a field whether another owner uploaded the same picture.
   */
  contentId?: string;
  contentType?: string;
  /** Final: nothing more to do for this item (written, or skipped as stale/duplicate). */
  settled: boolean;
  /** An unexpected error: the message stays for redelivery. */
  error?: unknown;
}

/** Runs a stage of one item; an unexpected error marks the item for redelivery. */
export async function guard(item: Item, stage: () => Promise<void>): Promise<void> {
  try {
    await stage();
  } catch (error) {
    item.error = error;
  }
}

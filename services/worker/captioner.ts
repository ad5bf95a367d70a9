import type { FailureReason } from '../core/records.js';

/** What the worker needs from a model run: text and the exact generated token ids. */
export interface Generation {
  text: string;
  tokenIds: number[];
}

/** Per-image result of a batch: a generation, or why the bytes are not a usable image. */
export type Outcome = { ok: true; generation: Generation } | { ok: false; reason: FailureReason; message: string };

/**
 * The narrow face of an image-captioning model the worker depends on (no ONNX here). One call
 * takes a batch of encoded images; a bad image fails alone, never the whole batch.
 */
export interface Captioner {
  /** Model name written on records. */
  readonly name: string;
  /**
   * The model part of the caption dedup key: name, precision and checkpoint hash (`captionModelKey`), so a
   * different precision or checkpoint revision never reuses old captions. @default name
   */
  readonly dedupKey?: string;
  /** What the model was loaded with, when known (told in result events). */
  readonly precision?: 'fp32' | 'int8';
  caption(images: Uint8Array[], options?: { prompt?: string }): Promise<Outcome[]>;
}

/** The narrow face of a visual-question-answering model. */
export interface QuestionAnswerer {
  readonly name: string;
  ask(image: Uint8Array, question: string): Promise<Outcome>;
}

/** What the search algorithms need from a decoder: one step over every row, and cache reordering. */
export interface StepModel {
  readonly vocabSize: number;
  /**
   * Feeds each row's new tokens (the same count for every row: the whole prompt first, then one token)
   * and returns the logits of the last position, row-major `[rows, vocabSize]`.
   */
  step(tokens: readonly (readonly number[])[]): Promise<Float32Array>;
  /** Reorders the cache so that row `i` continues from what row `sources[i]` has seen. */
  reorder(sources: readonly number[]): void;
}

/** Hugging Face generation settings that BLIP captioning uses. */
export interface GenerationSettings {
  /** Decoder prompt: `[DEC]` followed by any text prompt ids. */
  readonly prompt: readonly number[];
  readonly maxNewTokens: number;
  readonly minNewTokens: number;
  /** 1 means no penalty. */
  readonly repetitionPenalty: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
}

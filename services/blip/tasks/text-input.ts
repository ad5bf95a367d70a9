import * as ort from 'onnxruntime-node';
import type { BlipTextConfig } from '../config.js';
import { BlipUsageError } from '../errors.js';
import { TEXT_ENCODER_GRAPH } from '../modeling/text-encoder.js';
import type { BlipTokenizer } from '../tokenization/index.js';

/**
 * Text going into the BLIP text encoder (questions for VQA, candidate texts for matching): tokenized
 * as the Hugging Face processor does (`[CLS] ... [SEP]`), truncated as `truncation=True` would to
 * the model's limit, and padded into one batch.
 */

export interface EncodedText {
  readonly ids: readonly number[];
  /** True when the text was longer than the model accepts and its tail was dropped. */
  readonly truncated: boolean;
}

/** Longest token sequence the text encoder takes: the tokenizer's limit, bounded by the position table. */
export function textLimit(tokenizer: BlipTokenizer, config: BlipTextConfig): number {
  return Math.min(tokenizer.modelMaxLength, config.max_position_embeddings);
}

/**
 * Tokenizes `text` for the text encoder. `what` names the text in errors ("question", "text").
 * Blank text is refused unless `allowEmpty` (it encodes to `[CLS] [SEP]`, as the processor gives).
 */
export function encodeText(
  tokenizer: BlipTokenizer,
  config: BlipTextConfig,
  text: string,
  what: string,
  options: { allowEmpty?: boolean } = {},
): EncodedText {
  if (typeof text !== 'string') throw new BlipUsageError('invalid_input', `the ${what} is not a string`);
  if (!options.allowEmpty && text.trim() === '') throw new BlipUsageError('invalid_input', `the ${what} is empty`);
  const limit = textLimit(tokenizer, config);
  const ids = tokenizer.encode(text, { maxLength: limit });
  // Truncated exactly when the encoding reached the limit and the full text would not have fit.
  const truncated = ids.length === limit && tokenizer.encode(text, { maxLength: limit + 1 }).length > limit;
  return { ids, truncated };
}

/** Right-padded `input_ids` and `attention_mask` `[rows, longest]` as the processor's `padding=True` gives. */
export function textBatchFeeds(rows: readonly (readonly number[])[], padTokenId: number): Record<string, ort.Tensor> {
  const longest = Math.max(...rows.map((row) => row.length));
  const ids = new BigInt64Array(rows.length * longest).fill(BigInt(padTokenId));
  const mask = new BigInt64Array(rows.length * longest);
  rows.forEach((row, i) => {
    row.forEach((id, j) => {
      ids[i * longest + j] = BigInt(id);
      mask[i * longest + j] = 1n;
    });
  });
  return {
    [TEXT_ENCODER_GRAPH.inputIds]: new ort.Tensor('int64', ids, [rows.length, longest]),
    [TEXT_ENCODER_GRAPH.attentionMask]: new ort.Tensor('int64', mask, [rows.length, longest]),
  };
}

import type * as ort from 'onnxruntime-node';
import type { BlipConfig } from '../config.js';
import { TEXT_ENCODER_GRAPH } from '../modeling/text-encoder.js';
import { runSession } from '../runtime/sessions.js';
import type { BlipTokenizer } from '../tokenization/index.js';
import type { ValidatedAskOptions } from './options.js';
import { type EncodedText, encodeText, textBatchFeeds } from './text-input.js';

/**
 * Visual question answering as Hugging Face `BlipForQuestionAnswering.generate`: the question
 * (`[CLS] ... [SEP]`) is encoded by the text encoder cross-attending to each image's vision states;
 * the answer decoder then starts from `[DEC]` and cross-attends to those question states (all of
 * them: `generate` gives the decoder an all-ones question mask), stopping at `[SEP]`. With beams,
 * the question states are repeated per beam, as `generate` expands `encoder_hidden_states`.
 */

/** Decoding from `[DEC]` conditioned on encoder states: the captioning decoder, reused. */
export interface ConditionedDecoder {
  /**
   * Token ids (starting with `[DEC]`) per row of `encoderStates [rows, seq, width]`: greedy when
   * `beams` is 1, else beam search with Hugging Face's semantics.
   */
  generate(encoderStates: ort.Tensor, settings: { beams: number; maxNewTokens: number }): Promise<number[][]>;
}

export interface VqaParts {
  readonly config: BlipConfig;
  readonly tokenizer: BlipTokenizer;
  /** The `question_encoder` graph's session. */
  readonly questionEncoder: ort.InferenceSession;
  readonly decoder: ConditionedDecoder;
}

export interface Answer {
  readonly text: string;
  readonly tokenIds: number[];
  readonly timingsMs: Record<string, number>;
}

/** Tokenizes a question: refuses blank ones, truncates long ones to the model's limit. */
export function encodeQuestion(parts: Pick<VqaParts, 'tokenizer' | 'config'>, question: string): EncodedText {
  return encodeText(parts.tokenizer, parts.config.text_config, question, 'question');
}

/** `question_embeds [images, tokens, hidden]` for one question against each image's vision states. */
export async function encodeQuestionStates(
  parts: Pick<VqaParts, 'tokenizer' | 'questionEncoder'>,
  questionIds: readonly number[],
  imageStates: ort.Tensor,
): Promise<ort.Tensor> {
  const images = imageStates.dims[0] ?? 0;
  const feeds = {
    ...textBatchFeeds(
      Array.from({ length: images }, () => questionIds),
      parts.tokenizer.specialIds.pad,
    ),
    [TEXT_ENCODER_GRAPH.encoderStates]: imageStates,
  };
  const outputs = await runSession(parts.questionEncoder, feeds, 'question encoding');
  const states = outputs[TEXT_ENCODER_GRAPH.output];
  if (!states) throw new Error(`graph output ${TEXT_ENCODER_GRAPH.output} missing`);
  return states;
}

/** Answers one already-tokenized question about every image whose vision states are given. */
export async function answerQuestion(
  parts: VqaParts,
  question: EncodedText,
  imageStates: ort.Tensor,
  options: ValidatedAskOptions,
): Promise<Answer[]> {
  const started = performance.now();
  const questionStates = await encodeQuestionStates(parts, question.ids, imageStates);
  const encoded = performance.now();
  const sequences = await parts.decoder.generate(questionStates, options);
  const decoded = performance.now();
  const timingsMs = { questionMs: encoded - started, decodeMs: decoded - encoded };
  return sequences.map((tokenIds) => ({ text: parts.tokenizer.decode(tokenIds).trim(), tokenIds, timingsMs: { ...timingsMs } }));
}

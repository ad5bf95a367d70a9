import type * as ort from 'onnxruntime-node';
import type { BlipConfig } from '../config.js';
import { TEXT_ENCODER_GRAPH } from '../modeling/text-encoder.js';
import { decodeFromStates, encodeImages } from '../runtime/captioning.js';
import type { BlipRuntime } from '../runtime/index.js';
import { runSession } from '../runtime/sessions.js';
import type { BlipTokenizer } from '../tokenization/index.js';
import { parseAskOptions, type ValidatedAskOptions } from './options.js';
import { type EncodedText, encodeText, textBatchFeeds } from './text-input.js';

/**
 * Visual question answering as Hugging Face `BlipForQuestionAnswering.generate`: the question
 * (`[CLS] ... [SEP]`) is encoded by the text encoder cross-attending to each image's vision states;
 * the answer decoder then starts from `[DEC]` and cross-attends to those question states (all of
 * them: `generate` gives the decoder an all-ones question mask), stopping at `[SEP]`. With beams,
 * the question states are repeated per beam, as `generate` expands `encoder_hidden_states`.
 * Vision encoding and answer decoding are the captioning runtime's (`runtime/captioning.ts`).
 */

/** A validated question and its options, ready to run on any number of images. */
export interface AskRequest {
  readonly question: EncodedText;
  readonly options: ValidatedAskOptions;
}

export interface AnswerBatch {
  readonly tokenIds: number[][];
  readonly timingsMs: { vision: number; question: number; decode: number };
}

/** Tokenizes a question: refuses blank ones, truncates long ones to the model's limit. */
export function encodeQuestion(parts: { tokenizer: BlipTokenizer; config: BlipConfig }, question: string): EncodedText {
  return encodeText(parts.tokenizer, parts.config.text_config, question, 'question');
}

/** Validates everything about a question before any image is touched. */
export function prepareAsk(config: BlipConfig, tokenizer: BlipTokenizer, question: string, options: unknown): AskRequest {
  return { options: parseAskOptions(options, config.text_config), question: encodeQuestion({ config, tokenizer }, question) };
}

/** `question_embeds [images, tokens, hidden]`: one question against each image's vision states. */
export async function encodeQuestionStates(
  runtime: BlipRuntime,
  padTokenId: number,
  questionIds: readonly number[],
  imageStates: ort.Tensor,
): Promise<ort.Tensor> {
  const images = imageStates.dims[0] ?? 0;
  const feeds = {
    ...textBatchFeeds(
      Array.from({ length: images }, () => questionIds),
      padTokenId,
    ),
    [TEXT_ENCODER_GRAPH.encoderStates]: imageStates,
  };
  const outputs = await runSession(runtime.session(TEXT_ENCODER_GRAPH.name), feeds, 'question encoder');
  const states = outputs[TEXT_ENCODER_GRAPH.output];
  if (!states) throw new Error(`graph output ${TEXT_ENCODER_GRAPH.output} missing`);
  return states;
}

/**
 * Answers one question about each of a batch of preprocessed `[1, 3, S, S]` images, in groups of at
 * most `runtime.decoderRows` decoder rows (images x beams) as captioning does; results do not depend on it.
 */
export async function answerQuestion(
  runtime: BlipRuntime,
  tokenizer: BlipTokenizer,
  images: readonly Float32Array[],
  request: AskRequest,
): Promise<AnswerBatch> {
  const text = runtime.config.text_config;
  const perGroup = runtime.imagesPerDecode(request.options.beams);
  const tokenIds: number[][] = [];
  const timingsMs = { vision: 0, question: 0, decode: 0 };
  for (let first = 0; first < images.length; first += perGroup) {
    const started = performance.now();
    const imageStates = await encodeImages(runtime, images.slice(first, first + perGroup));
    const visionDone = performance.now();
    const questionStates = await encodeQuestionStates(runtime, tokenizer.specialIds.pad, request.question.ids, imageStates);
    const questionDone = performance.now();
    tokenIds.push(
      ...(await decodeFromStates(runtime, questionStates, {
        prompt: [text.bos_token_id],
        beams: request.options.beams,
        maxNewTokens: request.options.maxNewTokens,
        minNewTokens: 0,
        repetitionPenalty: 1,
      })),
    );
    timingsMs.vision += visionDone - started;
    timingsMs.question += questionDone - visionDone;
    timingsMs.decode += performance.now() - questionDone;
  }
  return { tokenIds, timingsMs };
}

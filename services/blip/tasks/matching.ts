import type * as ort from 'onnxruntime-node';
import { BlipUsageError } from '../errors.js';
import { ITC_GRAPH, ITM_GRAPH } from '../modeling/matching-heads.js';
import { TEXT_ENCODER_GRAPH } from '../modeling/text-encoder.js';
import { encodeImages } from '../runtime/captioning.js';
import type { BlipRuntime } from '../runtime/index.js';
import { runSession } from '../runtime/sessions.js';
import type { BlipTokenizer } from '../tokenization/index.js';
import { type EncodedText, encodeText, textBatchFeeds } from './text-input.js';

/**
 * Image-text matching with a `BlipForImageTextRetrieval` checkpoint: for one image's vision states
 * and a list of texts, the ITM logits `[no match, match]` (+ the match probability, their softmax)
 * and the ITC cosine similarity, as Hugging Face computes them with `use_itm_head=True` / `False`.
 */

export interface TextScore {
  text: string;
  /** `itm_head` logits: `[no match, match]`. */
  itmLogits: [number, number];
  /** `softmax(itmLogits)[1]`: how likely the text describes the image. */
  itmProbability: number;
  /** Cosine of the projected, L2-normalised image and text features (`-1..1`). */
  itcCosine: number;
  /** True when the text was cut to the model's token limit. */
  truncated: boolean;
}


/** Texts per run: bounds the cross-attention scores `[texts, heads, tokens, image positions]`. */
const TEXTS_PER_RUN = 32;
/** Texts per call: scoring is linear in their number; beyond this, split the work. */
export const MAX_TEXTS = 256;

/** `softmax([a, b])[1]`, computed stably. */
export function matchProbability([noMatch, match]: readonly [number, number]): number {
  return 1 / (1 + Math.exp(noMatch - match));
}

function output(outputs: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const value = outputs[name];
  if (!value) throw new Error(`graph output ${name} missing`);
  return value.data as Float32Array;
}

export function validateTexts(texts: unknown): string[] {
  if (!Array.isArray(texts) || texts.length === 0) throw new BlipUsageError('invalid_input', 'score needs at least one text');
  if (texts.length > MAX_TEXTS) throw new BlipUsageError('invalid_input', `score takes at most ${MAX_TEXTS} texts per call, got ${texts.length}`);
  return texts.map((text, i) => {
    if (typeof text !== 'string') throw new BlipUsageError('invalid_input', `text ${i + 1} is not a string`);
    return text;
  });
}

/** Tokenizes the texts to score (empty text allowed: `[CLS] [SEP]`, as the processor gives). */
export function encodeTexts(runtime: BlipRuntime, tokenizer: BlipTokenizer, texts: readonly string[]): EncodedText[] {
  return texts.map((text, i) => encodeText(tokenizer, runtime.config.text_config, text, `text ${i + 1}`, { allowEmpty: true }));
}

/**
 * Scores texts against one image's vision states `[1, seq, width]`; the states are fed once per
 * batch of texts and broadcast inside the graphs.
 */
export async function scoreTexts(
  runtime: BlipRuntime,
  tokenizer: BlipTokenizer,
  imageStates: ort.Tensor,
  texts: readonly string[],
): Promise<TextScore[]> {
  if (imageStates.dims[0] !== 1) throw new Error(`scoreTexts takes the states of one image, got batch ${imageStates.dims[0]}`);
  const encoded = encodeTexts(runtime, tokenizer, texts);
  const results: TextScore[] = [];
  for (let start = 0; start < texts.length; start += TEXTS_PER_RUN) {
    const chunk = encoded.slice(start, start + TEXTS_PER_RUN);
    const feeds = {
      ...textBatchFeeds(
        chunk.map((e) => e.ids),
        tokenizer.specialIds.pad,
      ),
      [TEXT_ENCODER_GRAPH.encoderStates]: imageStates,
    };
    const itm = output(await runSession(runtime.session(ITM_GRAPH.name), feeds, 'image-text matching'), ITM_GRAPH.output);
    const itc = output(await runSession(runtime.session(ITC_GRAPH.name), feeds, 'image-text contrastive similarity'), ITC_GRAPH.cosine);
    chunk.forEach((entry, i) => {
      const itmLogits: [number, number] = [itm[2 * i] as number, itm[2 * i + 1] as number];
      results.push({
        text: texts[start + i] as string,
        itmLogits,
        itmProbability: matchProbability(itmLogits),
        itcCosine: itc[i] as number,
        truncated: entry.truncated,
      });
    });
  }
  return results;
}

/** Scores texts against one preprocessed `[1, 3, S, S]` image. */
export async function scoreImage(
  runtime: BlipRuntime,
  tokenizer: BlipTokenizer,
  image: Float32Array,
  texts: readonly string[],
): Promise<{ scores: TextScore[]; timingsMs: { vision: number; match: number } }> {
  const started = performance.now();
  const states = await encodeImages(runtime, [image]);
  const visionDone = performance.now();
  const scores = await scoreTexts(runtime, tokenizer, states, texts);
  return { scores, timingsMs: { vision: visionDone - started, match: performance.now() - visionDone } };
}

import type { BlipTextConfig } from '../config.js';
import { GraphBuilder, type Value } from '../onnx/graph.js';
import { dimension } from '../onnx/ops.js';
import { bertLayer, textEmbeddings } from './text.js';
import type { BuildContext } from './context.js';

/**
 * BLIP's text encoder (Hugging Face `BlipTextModel` without pooler, stored under `text_encoder`):
 * the BERT layers of `text.ts` with bidirectional self-attention over the non-padding tokens and,
 * when image states are given, cross-attention to them in every layer. `BlipForQuestionAnswering`
 * uses it to encode the question against the image (`question_embeds`); `BlipForImageTextRetrieval`
 * uses it with cross-attention for ITM and on the text alone for ITC.
 */

export const TEXT_ENCODER_PREFIX = 'text_encoder';

/** The standalone question/text encoder graph and its value names. */
export const TEXT_ENCODER_GRAPH = {
  name: 'text_encoder',
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  encoderStates: 'encoder_hidden_states',
  output: 'last_hidden_state',
} as const;

/** float32 lowest: what Hugging Face adds to the scores of masked-out keys. */
const MASKED = -3.4028234663852886e38;

/** `attention_mask [batch, seq]` (1 = token, 0 = padding) -> additive `[batch, 1, seq, seq]` self-attention bias. */
export function paddingMask(g: GraphBuilder, attentionMask: Value): Value {
  const keep = g.op('Cast', [attentionMask], { attrs: { to: 9 /* BOOL */ } });
  const additive = g.op('Unsqueeze', [g.op('Where', [keep, g.scalar(0), g.scalar(MASKED)]), g.int64s([1, 2])]);
  const queries = g.op('Concat', [g.int64s([1, 1]), dimension(g, attentionMask, 1), g.int64s([1])], { attrs: { axis: 0 } });
  return g.op('Expand', [additive, queries]);
}

export interface TextEncoderOptions {
  /** Weight prefix of the `BlipTextModel`, `text_encoder` in BLIP VQA and retrieval checkpoints. */
  readonly prefix?: string;
  /** Image states `[batch, image_seq, encoder_hidden_size]` to cross-attend to; absent = text alone. */
  readonly encoderStates?: Value;
}

/** `input_ids`, `attention_mask` (+ image states) -> `last_hidden_state [batch, seq, hidden]`. */
export function buildTextEncoder(
  ctx: BuildContext,
  inputIds: Value,
  attentionMask: Value,
  config: BlipTextConfig,
  options: TextEncoderOptions = {},
): Value {
  const { g } = ctx;
  const prefix = options.prefix ?? TEXT_ENCODER_PREFIX;
  const embeddingsPrefix = `${prefix}.embeddings`;
  const { embeddings } = g.within(embeddingsPrefix, () => textEmbeddings(ctx, inputIds, embeddingsPrefix, config));
  const mask = paddingMask(g, attentionMask);
  let hidden = embeddings;
  for (let layer = 0; layer < config.num_hidden_layers; layer += 1) {
    const layerPrefix = `${prefix}.encoder.layer.${layer}`;
    const encoderStates = options.encoderStates;
    hidden = g.within(layerPrefix, () =>
      bertLayer(ctx, hidden, {
        prefix: layerPrefix,
        config,
        selfAttentionMask: mask,
        ...(encoderStates ? { crossAttention: { encoderStates } } : {}),
      }),
    ).hidden;
  }
  return hidden;
}

/** Declares the text inputs shared by every text-encoder graph. */
export function textEncoderInputs(g: GraphBuilder): { inputIds: Value; attentionMask: Value } {
  return {
    inputIds: g.input(TEXT_ENCODER_GRAPH.inputIds, 'int64', ['batch', 'sequence']),
    attentionMask: g.input(TEXT_ENCODER_GRAPH.attentionMask, 'int64', ['batch', 'sequence']),
  };
}

/** Declares the image-states input; its batch is the text batch or 1 (broadcast to every text). */
export function encoderStatesInput(g: GraphBuilder, config: BlipTextConfig): Value {
  return g.input(TEXT_ENCODER_GRAPH.encoderStates, 'float32', ['image_batch', 'image_sequence', config.encoder_hidden_size]);
}

/**
 * The VQA question encoder: `input_ids`, `attention_mask`, `encoder_hidden_states` (the vision
 * states) -> `last_hidden_state` (Hugging Face's `question_embeds`).
 */
export function buildQuestionEncoderGraph(context: Omit<BuildContext, 'g'>, config: BlipTextConfig, prefix = TEXT_ENCODER_PREFIX): GraphBuilder {
  const g = new GraphBuilder('question_encoder');
  const ctx = { ...context, g };
  const { inputIds, attentionMask } = textEncoderInputs(g);
  const encoderStates = encoderStatesInput(g, config);
  const hidden = buildTextEncoder(ctx, inputIds, attentionMask, config, { prefix, encoderStates });
  g.output(hidden, TEXT_ENCODER_GRAPH.output, 'float32', ['batch', 'sequence', config.hidden_size]);
  return g;
}

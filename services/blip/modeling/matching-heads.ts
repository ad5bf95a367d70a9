import type { BlipConfig } from '../config.js';
import { GraphBuilder, tensor, type Value } from '../onnx/graph.js';
import { gather, mul } from '../onnx/ops.js';
import type { BuildContext } from './context.js';
import { checkpointLinear } from './context.js';
import { buildTextEncoder, encoderStatesInput, TEXT_ENCODER_PREFIX, textEncoderInputs } from './text-encoder.js';

/**
 * The heads of `BlipForImageTextRetrieval` (Hugging Face `modeling_blip.py`):
 * - ITM: the text encoder cross-attending to the image states, then `itm_head` (2 classes: no match,
 *   match) on the first token;
 * - ITC: `vision_proj` of the first image state and `text_proj` of the first token of the text
 *   encoded alone (no cross-attention), each L2-normalised; their dot product is the cosine.
 * Image states may come with batch 1 for a whole batch of texts (attention broadcasts them).
 */

export const ITM_GRAPH = { name: 'itm', output: 'itm_logits' } as const;
export const ITC_GRAPH = { name: 'itc', cosine: 'itc_cosine', textEmbeds: 'text_embeds', imageEmbeds: 'image_embeds' } as const;

/** Weights only `BlipForImageTextRetrieval` checkpoints have. */
export const MATCHING_HEAD_WEIGHTS = ['itm_head.weight', 'vision_proj.weight', 'text_proj.weight'] as const;

/** `torch.nn.functional.normalize` default epsilon. */
const NORMALIZE_EPSILON = 1e-12;

/** `[batch, seq, width]` -> `[batch, width]`, the first position. */
function firstToken(g: GraphBuilder, states: Value): Value {
  return gather(g, states, g.constant(tensor('int64', [], BigInt64Array.of(0n))), 1);
}

/** `x / max(||x||_2, eps)` over the last axis, as `torch.nn.functional.normalize`. */
function l2Normalize(g: GraphBuilder, x: Value): Value {
  const norm = g.op('ReduceL2', [x], { attrs: { axes: [-1], keepdims: 1 } });
  return g.op('Div', [x, g.op('Max', [norm, g.scalar(NORMALIZE_EPSILON)])]);
}

/** `input_ids`, `attention_mask`, `encoder_hidden_states` -> `itm_logits [batch, 2]`. */
export function buildItmGraph(context: Omit<BuildContext, 'g'>, config: BlipConfig): GraphBuilder {
  const g = new GraphBuilder(ITM_GRAPH.name);
  const ctx = { ...context, g };
  const text = config.text_config;
  const { inputIds, attentionMask } = textEncoderInputs(g);
  const encoderStates = encoderStatesInput(g, text);
  const hidden = buildTextEncoder(ctx, inputIds, attentionMask, text, { prefix: TEXT_ENCODER_PREFIX, encoderStates });
  const logits = g.within('itm_head', () => checkpointLinear(ctx, firstToken(g, hidden), 'itm_head'));
  g.output(logits, ITM_GRAPH.output, 'float32', ['batch', 2]);
  return g;
}

/**
 * `input_ids`, `attention_mask`, `encoder_hidden_states` -> `itc_cosine [batch]` plus the normalised
 * `text_embeds [batch, dim]` and `image_embeds [image_batch, dim]`.
 */
export function buildItcGraph(context: Omit<BuildContext, 'g'>, config: BlipConfig): GraphBuilder {
  const g = new GraphBuilder(ITC_GRAPH.name);
  const ctx = { ...context, g };
  const text = config.text_config;
  const dim = config.image_text_hidden_size;
  const { inputIds, attentionMask } = textEncoderInputs(g);
  const encoderStates = encoderStatesInput(g, text);
  const hidden = buildTextEncoder(ctx, inputIds, attentionMask, text, { prefix: TEXT_ENCODER_PREFIX });
  const textEmbeds = g.within('text_proj', () => l2Normalize(g, checkpointLinear(ctx, firstToken(g, hidden), 'text_proj')));
  const imageEmbeds = g.within('vision_proj', () => l2Normalize(g, checkpointLinear(ctx, firstToken(g, encoderStates), 'vision_proj')));
  const cosine = g.op('ReduceSum', [mul(g, textEmbeds, imageEmbeds), g.int64s([-1])], { attrs: { keepdims: 0 } });
  g.output(cosine, ITC_GRAPH.cosine, 'float32', ['batch']);
  g.output(textEmbeds, ITC_GRAPH.textEmbeds, 'float32', ['batch', dim]);
  g.output(imageEmbeds, ITC_GRAPH.imageEmbeds, 'float32', ['image_batch', dim]);
  return g;
}

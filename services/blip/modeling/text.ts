import type { BlipTextConfig } from '../config.js';
import type { GraphBuilder, Value } from '../onnx/graph.js';
import { linear } from '../onnx/linear.js';
import { add, concat, dimension, gather, gelu, squeezeToScalar, weight } from '../onnx/ops.js';
import { type HeadShape, mergeHeads, scaledDotProductAttention, splitHeads } from './attention.js';
import { type BuildContext, checkpointLayerNorm, checkpointLinear } from './context.js';

/**
 * BLIP's BERT text model pieces (Hugging Face `modeling_blip_text.py`): embeddings, post-norm layers
 * with self-attention (causal with a key/value cache for the decoder, bidirectional for encoders) and
 * optional cross-attention to image states, and the LM head. Graph builders combine them.
 */

/** Split-head keys and values, `[batch, heads, seq, headDim]` each. */
export interface KeyValue {
  readonly key: Value;
  readonly value: Value;
}

/** float32 lowest, the value Hugging Face adds where attention is masked out. */
const MASKED = -3.4028234663852886e38;

export const textHeadShape = (config: BlipTextConfig): HeadShape => ({
  heads: config.num_attention_heads,
  headDim: config.hidden_size / config.num_attention_heads,
});

/**
 * Additive causal mask `[queries, pastLength + queries]` for queries at positions
 * `pastLength .. pastLength + queries - 1`: each sees every cached position and itself, not later ones.
 */
export function causalMask(g: GraphBuilder, queries: Value, pastLength: Value): Value {
  const one = g.int64s([1], []);
  const total = add(g, pastLength, queries);
  const queryPositions = g.op('Unsqueeze', [g.op('Range', [pastLength, total, one]), g.int64s([1])]);
  const keyPositions = g.op('Unsqueeze', [g.op('Range', [g.int64s([0], []), total, one]), g.int64s([0])]);
  const future = g.op('Greater', [keyPositions, queryPositions]);
  return g.op('Where', [future, g.scalar(MASKED), g.scalar(0)]);
}

/**
 * `BlipTextEmbeddings`: word + absolute position embeddings (positions start at `pastLength`), LayerNorm.
 * Returns the embeddings and the number of new tokens (an int64 scalar).
 */
export function textEmbeddings(
  ctx: BuildContext,
  inputIds: Value,
  prefix: string,
  config: BlipTextConfig,
  pastLength: Value = ctx.g.int64s([0], []),
): { embeddings: Value; sequenceLength: Value } {
  const { g, weights } = ctx;
  const words = gather(g, weight(g, `${prefix}.word_embeddings.weight`, weights.get(`${prefix}.word_embeddings.weight`)), inputIds);
  const sequenceLength = squeezeToScalar(g, dimension(g, inputIds, 1));
  const positionIds = g.op('Range', [pastLength, add(g, pastLength, sequenceLength), g.int64s([1], [])]);
  const positions = gather(
    g,
    weight(g, `${prefix}.position_embeddings.weight`, weights.get(`${prefix}.position_embeddings.weight`)),
    positionIds,
  );
  const embeddings = checkpointLayerNorm(ctx, add(g, words, positions), `${prefix}.LayerNorm`, config.layer_norm_eps);
  return { embeddings, sequenceLength };
}

/** Keys and values of one attention block (`<prefix>.key`, `<prefix>.value`) projected from `states`. */
export function projectKeyValue(ctx: BuildContext, states: Value, prefix: string, shape: HeadShape): KeyValue {
  return {
    key: splitHeads(ctx.g, checkpointLinear(ctx, states, `${prefix}.key`), shape),
    value: splitHeads(ctx.g, checkpointLinear(ctx, states, `${prefix}.value`), shape),
  };
}

/** `BlipTextSelfOutput` / `BlipTextOutput`: dense, then LayerNorm of the residual sum. */
function denseResidualNorm(ctx: BuildContext, x: Value, residual: Value, prefix: string, eps: number): Value {
  return checkpointLayerNorm(ctx, add(ctx.g, checkpointLinear(ctx, x, `${prefix}.dense`), residual), `${prefix}.LayerNorm`, eps);
}

/** Cross-attention input: keys/values computed beforehand (once per image), or the states to project. */
export type CrossAttentionSource = { readonly keyValue: KeyValue } | { readonly encoderStates: Value };

export interface BertLayerOptions {
  /** Weight prefix of the layer, e.g. `text_decoder.bert.encoder.layer.0`. */
  readonly prefix: string;
  readonly config: BlipTextConfig;
  /** Additive self-attention mask: `causalMask(...)` in a decoder; a padding mask or none in an encoder. */
  readonly selfAttentionMask?: Value;
  /** Cached self-attention keys/values of earlier positions (decoder steps). */
  readonly past?: KeyValue;
  /** Present when the layer cross-attends to image (or question) states. */
  readonly crossAttention?: CrossAttentionSource;
  /** Additive mask over the cross-attended positions. */
  readonly crossAttentionMask?: Value;
}

export interface BertLayerResult {
  readonly hidden: Value;
  /** Self-attention keys/values including `past`: the next step's cache. */
  readonly present: KeyValue;
}

/** One `BlipTextLayer`: self-attention, optional cross-attention, feed-forward; post-norm residuals. */
export function bertLayer(ctx: BuildContext, hidden: Value, options: BertLayerOptions): BertLayerResult {
  const { g } = ctx;
  const { prefix, config } = options;
  const shape = textHeadShape(config);
  const eps = config.layer_norm_eps;

  const selfPrefix = `${prefix}.attention.self`;
  const query = splitHeads(g, checkpointLinear(ctx, hidden, `${selfPrefix}.query`), shape);
  const fresh = projectKeyValue(ctx, hidden, selfPrefix, shape);
  const present = options.past
    ? { key: concat(g, [options.past.key, fresh.key], 2), value: concat(g, [options.past.value, fresh.value], 2) }
    : fresh;
  const selfContext = scaledDotProductAttention(g, query, present.key, present.value, shape, options.selfAttentionMask);
  let states = denseResidualNorm(ctx, mergeHeads(g, selfContext, shape), hidden, `${prefix}.attention.output`, eps);

  if (options.crossAttention) {
    const crossPrefix = `${prefix}.crossattention.self`;
    const source = options.crossAttention;
    const keyValue = 'keyValue' in source ? source.keyValue : projectKeyValue(ctx, source.encoderStates, crossPrefix, shape);
    const crossQuery = splitHeads(g, checkpointLinear(ctx, states, `${crossPrefix}.query`), shape);
    const crossContext = scaledDotProductAttention(g, crossQuery, keyValue.key, keyValue.value, shape, options.crossAttentionMask);
    states = denseResidualNorm(ctx, mergeHeads(g, crossContext, shape), states, `${prefix}.crossattention.output`, eps);
  }

  const intermediate = gelu(g, checkpointLinear(ctx, states, `${prefix}.intermediate.dense`));
  return { hidden: denseResidualNorm(ctx, intermediate, states, `${prefix}.output`, eps), present };
}

/**
 * `BlipTextOnlyMLMHead`: dense, GELU, LayerNorm, then the vocabulary projection (tied to the word
 * embeddings unless the checkpoint stores its own) plus bias. `prefix` is the model, e.g. `text_decoder`.
 */
export function lmHead(ctx: BuildContext, hidden: Value, prefix: string, config: BlipTextConfig): Value {
  const { g, weights } = ctx;
  const head = `${prefix}.cls.predictions`;
  const transformed = checkpointLayerNorm(
    ctx,
    gelu(g, checkpointLinear(ctx, hidden, `${head}.transform.dense`)),
    `${head}.transform.LayerNorm`,
    config.layer_norm_eps,
  );
  return linear(
    g,
    transformed,
    { name: `${head}.decoder`, weight: weights.lmHeadWeight(prefix), bias: weights.lmHeadBias(prefix) },
    { precision: ctx.precision },
  );
}

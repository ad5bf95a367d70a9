import type { BlipTextConfig } from '../config.js';
import type { GraphBuilder, Value } from '../onnx/graph.js';
import { transposeInto } from '../matrix.js';
import { embedding } from '../onnx/embedding.js';
import { type LinearWeights, linear } from '../onnx/linear.js';
import { add, dimension, gather, gelu, squeezeToScalar, weight } from '../onnx/ops.js';
import { type FoldedProjections, type HeadShape, multiHeadAttention, sequenceMajor, splitHeads, statesAttention, withPast } from './attention.js';
import { type BuildContext, checkpointLayerNorm, checkpointLinear, checkpointLinears } from './context.js';

/**
 * BLIP's BERT text model pieces (Hugging Face `modeling_blip_text.py`): embeddings, post-norm layers
 * with self-attention (causal with a key/value cache for the decoder, bidirectional for encoders) and
 * optional cross-attention to image states, and the LM head. Graph builders combine them.
 */

/** Keys and values of one attention block. */
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
 * Additive causal mask `[1, 1, queries, pastLength + queries]` for queries at positions
 * `pastLength .. pastLength + queries - 1`: each sees every cached position and itself, not later ones.
 */
export function causalMask(g: GraphBuilder, queries: Value, pastLength: Value): Value {
  const one = g.int64s([1], []);
  const total = add(g, pastLength, queries);
  const queryPositions = g.op('Unsqueeze', [g.op('Range', [pastLength, total, one]), g.int64s([1])]);
  const keyPositions = g.op('Unsqueeze', [g.op('Range', [g.int64s([0], []), total, one]), g.int64s([0])]);
  const future = g.op('Greater', [keyPositions, queryPositions]);
  return g.op('Unsqueeze', [g.op('Where', [future, g.scalar(MASKED), g.scalar(0)]), g.int64s([0, 1])]);
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
  const words = embedding(g, inputIds, { name: `${prefix}.word_embeddings`, table: weights.get(`${prefix}.word_embeddings.weight`) }, { precision: ctx.precision });
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

/** Keys and values of one attention block (`<prefix>.key`, `<prefix>.value`) projected from `states`, `[batch, seq, hidden]`. */
export function projectKeyValue(ctx: BuildContext, states: Value, prefix: string): KeyValue {
  return { key: checkpointLinear(ctx, states, `${prefix}.key`), value: checkpointLinear(ctx, states, `${prefix}.value`) };
}

/** Cross-attention keys and values split into heads, `[batch, heads, seq, headDim]`: the form computed once per image. */
export function projectKeyValueHeads(ctx: BuildContext, states: Value, prefix: string, shape: HeadShape): KeyValue {
  const { key, value } = projectKeyValue(ctx, states, prefix);
  return { key: splitHeads(ctx.g, key, shape), value: splitHeads(ctx.g, value, shape) };
}

/** `BlipTextSelfOutput` / `BlipTextOutput`: dense, then LayerNorm of the residual sum. */
function denseResidualNorm(ctx: BuildContext, x: Value, residual: Value, prefix: string, eps: number): Value {
  return checkpointLayerNorm(ctx, add(ctx.g, checkpointLinear(ctx, x, `${prefix}.dense`), residual), `${prefix}.LayerNorm`, eps);
}

/**
 * Cross-attention input: keys/values computed beforehand (once per question, split into heads), the
 * states to project, or the states themselves with the key/value projections folded into the query
 * and output sides (`statesAttention`), so no keys/values exist at all.
 */
export type CrossAttentionSource =
  | { readonly keyValue: KeyValue }
  | { readonly encoderStates: Value }
  | { readonly states: EncoderStates };

/** Encoder states `[batch, positions, width]` and the same transposed, `[batch, width, positions]`. */
export interface EncoderStates {
  readonly states: Value;
  readonly transposed: Value;
}

export interface BertLayerOptions {
  /** Weight prefix of the layer, e.g. `text_decoder.bert.encoder.layer.0`. */
  readonly prefix: string;
  readonly config: BlipTextConfig;
  /** Additive self-attention bias `[batch or 1, 1, seq, keys]`: `causalMask(...)` in a decoder; a padding mask or none in an encoder. */
  readonly selfAttentionMask?: Value;
  /** Cached self-attention keys/values of earlier positions, sequence-major `[past, batch, hidden]` (decoder steps). */
  readonly past?: KeyValue;
  /** Present when the layer cross-attends to image (or question) states. */
  readonly crossAttention?: CrossAttentionSource;
}

export interface BertLayerResult {
  readonly hidden: Value;
  /** This call's self-attention keys/values, sequence-major `[seq, batch, hidden]`: what a cache appends. */
  readonly fresh: KeyValue;
}

/**
 * Keys/values `[1 or batch, seq, hidden]` broadcast to the batch of `query` (one image's states scored
 * against several texts): the fused attention wants equal batches.
 */
function broadcastBatch(g: GraphBuilder, { key, value }: KeyValue, query: Value): KeyValue {
  const shape = g.op('Concat', [dimension(g, query, 0), g.int64s([1, 1])], { attrs: { axis: 0 } });
  return { key: g.op('Expand', [key, shape]), value: g.op('Expand', [value, shape]) };
}

/**
 * The key and value projections of `<prefix>.key` / `<prefix>.value` (`[hidden, width]` each) cut
 * per head as `statesAttention` folds them: head h's key rows transposed (`headDim -> width`), its
 * value rows (`width -> headDim`), and the value bias.
 */
function foldedProjections(ctx: BuildContext, prefix: string, { heads, headDim }: HeadShape): FoldedProjections {
  const { g, weights } = ctx;
  const key = weights.get(`${prefix}.key.weight`).data;
  const value = weights.get(`${prefix}.value.weight`).data;
  const width = key.length / (heads * headDim);
  const block = headDim * width;
  // the attention's 1/sqrt(headDim) goes into the key projections (exact for power-of-two head sizes)
  const scale = 1 / Math.sqrt(headDim);
  const keyHead = (head: number): Float32Array =>
    transposeInto(key.subarray(head * block, (head + 1) * block), headDim, width, new Float32Array(block)).map((w) => w * scale);
  const byHead = (make: (head: number) => LinearWeights): LinearWeights[] => Array.from({ length: heads }, (_, head) => make(head));
  return {
    key: byHead((head) => ({ name: `${prefix}.key.head${head}`, weight: { shape: [width, headDim], data: keyHead(head) } })),
    value: byHead((head) => ({ name: `${prefix}.value.head${head}`, weight: { shape: [headDim, width], data: value.subarray(head * block, (head + 1) * block) } })),
    valueBias: weight(g, `${prefix}.value.bias`, weights.get(`${prefix}.value.bias`)),
    width,
    precision: ctx.precision,
  };
}

/** One `BlipTextLayer`: self-attention, optional cross-attention, feed-forward; post-norm residuals. */
export function bertLayer(ctx: BuildContext, hidden: Value, options: BertLayerOptions): BertLayerResult {
  const { g } = ctx;
  const { prefix, config, past } = options;
  const shape = textHeadShape(config);
  const eps = config.layer_norm_eps;

  const selfPrefix = `${prefix}.attention.self`;
  const [query, key, value] = checkpointLinears(ctx, hidden, ['query', 'key', 'value'].map((name) => `${selfPrefix}.${name}`)) as [Value, Value, Value];
  const fresh = { key, value };
  const keys = past ? withPast(g, past.key, fresh.key) : fresh.key;
  const values = past ? withPast(g, past.value, fresh.value) : fresh.value;
  const selfContext = multiHeadAttention(g, query, keys, values, shape, options.selfAttentionMask);
  let states = denseResidualNorm(ctx, selfContext, hidden, `${prefix}.attention.output`, eps);

  if (options.crossAttention) {
    const crossPrefix = `${prefix}.crossattention.self`;
    const source = options.crossAttention;
    const crossQuery = checkpointLinear(ctx, states, `${crossPrefix}.query`);
    let crossContext: Value;
    if ('states' in source) {
      crossContext = statesAttention(g, crossQuery, source.states, foldedProjections(ctx, crossPrefix, shape), shape);
    } else {
      const keyValue = 'keyValue' in source ? source.keyValue : broadcastBatch(g, projectKeyValue(ctx, source.encoderStates, crossPrefix), crossQuery);
      crossContext = multiHeadAttention(g, crossQuery, keyValue.key, keyValue.value, shape);
    }
    states = denseResidualNorm(ctx, crossContext, states, `${prefix}.crossattention.output`, eps);
  }

  const intermediate = gelu(g, checkpointLinear(ctx, states, `${prefix}.intermediate.dense`));
  return {
    hidden: denseResidualNorm(ctx, intermediate, states, `${prefix}.output`, eps),
    fresh: { key: sequenceMajor(g, fresh.key), value: sequenceMajor(g, fresh.value) },
  };
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

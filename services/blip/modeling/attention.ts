import { CONTRIB_DOMAIN, type GraphBuilder, type Value } from '../onnx/graph.js';
import { concat, reshape, transpose } from '../onnx/ops.js';

/** Multi-head attention shared by the vision encoder and the BERT text layers. */

export interface HeadShape {
  readonly heads: number;
  readonly headDim: number;
}

/** `[batch, seq, heads*headDim]` -> `[batch, heads, seq, headDim]`. */
export function splitHeads(g: GraphBuilder, x: Value, { heads, headDim }: HeadShape): Value {
  return transpose(g, reshape(g, x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/**
 * `softmax(q k^T / sqrt(headDim) + bias) v` as onnxruntime's fused contrib MultiHeadAttention:
 * `query [batch, seq, hidden]`; keys and values either `[batch, keys, hidden]` or already split into
 * heads, `[batch, heads, keys, headDim]` (cross-attention keys/values computed once per image);
 * `bias` is additive, `[batch or 1, 1, seq, keys]`. Returns `[batch, seq, hidden]`. Within ~1e-6 of
 * the unfused form, and no `[batch, heads, seq, keys]` score tensors are materialised between nodes.
 */
export function multiHeadAttention(g: GraphBuilder, query: Value, key: Value, value: Value, shape: HeadShape, bias?: Value): Value {
  const inputs: (Value | '')[] = bias ? [query, key, value, '', '', bias] : [query, key, value];
  return g.op('MultiHeadAttention', inputs, { domain: CONTRIB_DOMAIN, attrs: { num_heads: shape.heads } });
}

/**
 * Self-attention keys (or values) of every position, `[batch, past + seq, hidden]`, from a
 * sequence-major cache `[past, batch, hidden]` and this step's `[batch, seq, hidden]`.
 */
export function withPast(g: GraphBuilder, past: Value, fresh: Value): Value {
  return concat(g, [transpose(g, past, [1, 0, 2]), fresh], 1);
}

/** `[batch, seq, hidden]` -> the sequence-major `[seq, batch, hidden]` a cache appends. */
export function sequenceMajor(g: GraphBuilder, x: Value): Value {
  return transpose(g, x, [1, 0, 2]);
}

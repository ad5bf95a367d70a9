import type { GraphBuilder, Value } from '../onnx/graph.js';
import { add, matMul, mul, reshape, softmax, transpose } from '../onnx/ops.js';

/** Multi-head attention pieces shared by the vision encoder and the BERT text layers. */

export interface HeadShape {
  readonly heads: number;
  readonly headDim: number;
}

/** `[batch, seq, heads*headDim]` -> `[batch, heads, seq, headDim]`. */
export function splitHeads(g: GraphBuilder, x: Value, { heads, headDim }: HeadShape): Value {
  return transpose(g, reshape(g, x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/** `[batch, heads, seq, headDim]` -> `[batch, seq, heads*headDim]`. */
export function mergeHeads(g: GraphBuilder, x: Value, { heads, headDim }: HeadShape): Value {
  return reshape(g, transpose(g, x, [0, 2, 1, 3]), [0, 0, heads * headDim]);
}

/**
 * `softmax(q k^T / sqrt(headDim) + mask) v` on split heads. `mask` is additive and broadcasts to
 * `[batch, heads, queries, keys]` (0 where attending is allowed, a very negative number elsewhere).
 */
export function scaledDotProductAttention(
  g: GraphBuilder,
  query: Value,
  key: Value,
  value: Value,
  shape: HeadShape,
  mask?: Value,
): Value {
  const scores = mul(g, matMul(g, query, transpose(g, key, [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(shape.headDim)));
  const probabilities = softmax(g, mask ? add(g, scores, mask) : scores);
  return matMul(g, probabilities, value);
}

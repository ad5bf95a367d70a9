import { CONTRIB_DOMAIN, type GraphBuilder, type Value } from '../onnx/graph.js';
import { type LinearWeights, linear, type Precision } from '../onnx/linear.js';
import { int8GroupedLinear } from '../quant/linear-int8.js';
import { add, concat, dimension, matMul, mul, reshape, softmax, transpose } from '../onnx/ops.js';

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
 * heads, `[batch, heads, keys, headDim]` (cross-attention keys/values computed once per question);
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

/** Per-head key/value projections folded into the attention (see `statesAttention`). */
export interface FoldedProjections {
  /** Per head, `headDim -> width`: head h's rows of the key projection, transposed. */
  readonly key: readonly LinearWeights[];
  /** Per head, `width -> headDim`: head h's rows of the value projection. */
  readonly value: readonly LinearWeights[];
  /** `[heads * headDim]` */
  readonly valueBias: Value;
  /** the encoder states' width */
  readonly width: number;
  /** of the per-head projections; the products with the states are float32 */
  readonly precision: Precision;
}

/**
 * Attention of `query [batch, seq, hidden]` to encoder states `[batch, positions, width]` without
 * projecting the states into keys and values. With `K_h = S Wk_h^T + bk_h` and `V_h = S Wv_h^T + bv_h`:
 * - scores: `q_h K_h^T = (q_h Wk_h) S^T + q_h bk_h`; the last term is the same for every position, so
 *   softmax drops it;
 * - context: `p V_h = (p S) Wv_h^T + bv_h`, the probabilities summing to 1.
 *
 * Per generated token and layer this costs two products with the states (`[positions x width]` by
 * `[width x seq*heads]`, float32: they are the attention scores and their mixing) instead of reading
 * the layer's keys and values; per image nothing at all. The states are the whole per-image input,
 * 1.7 MiB at BLIP-base against 42.5 MiB of keys/values for 12 layers, which took 70-111 ms (int8) to
 * compute per image. Both products keep the states as the left operand, which ONNX Runtime's GEMM
 * reads in place (the right operand, packed on every run, is small); hence the transposed states as a
 * second input rather than a Transpose node, which ONNX Runtime would fuse into the product.
 */
export function statesAttention(
  g: GraphBuilder,
  query: Value,
  { states, transposed }: { states: Value; transposed: Value },
  projections: FoldedProjections,
  { heads, headDim }: HeadShape,
): Value {
  // Layouts are chosen so that every Transpose moves whole rows (ONNX Runtime's fast path) and each
  // head's projection runs once over all batch x seq rows.
  const width = projections.width;
  const rowsOf = (x: Value): Value => g.op('Reshape', [x, g.op('Concat', [dimension(g, query, 0), g.int64s([-1, width])], { attrs: { axis: 0 } })]);
  // [batch, seq, hidden] -> [batch * seq, heads, headDim]; the key projections carry 1/sqrt(headDim)
  const q = reshape(g, query, [-1, heads, headDim]);
  // q_h Wk_h for every head: [heads, batch * seq, width] -> [batch * seq, heads, width]; int8 quantises
  // each head's slice of the query on its own scale, as their ranges differ by head
  const projectKeys = (x: Value): Value => transpose(g, perHead(g, transpose(g, x, [1, 0, 2]), projections.key, projections.precision), [1, 0, 2]);
  const folded = rowsOf(projections.precision === 'int8' ? perRowScaled(g, q, projectKeys) : projectKeys(q));
  // scores, positions first: [batch, positions, seq * heads] (the product's right side is small)
  const probabilities = softmax(g, matMul(g, states, transpose(g, folded, [0, 2, 1])), 1);
  // p S per head: [batch, width, seq * heads] -> [heads, batch * seq, width]
  const mixed = transpose(g, reshape(g, transpose(g, matMul(g, transposed, probabilities), [0, 2, 1]), [-1, heads, width]), [1, 0, 2]);
  // x Wv_h^T: [heads, batch * seq, headDim] -> [batch, seq, hidden]
  const context = g.op('Reshape', [transpose(g, perHead(g, mixed, projections.value, projections.precision), [1, 0, 2]), g.op('Shape', [query])]);
  return add(g, context, projections.valueBias);
}

/**
 * `project(x / m) * m` with `m` each row's largest magnitude (over the last axis): a per-tensor
 * activation quantisation inside `project` then has every row on the same range, in effect one scale
 * per row. The scale stays in `x`'s own layout, so no Transpose carries it.
 */
function perRowScaled(g: GraphBuilder, x: Value, project: (x: Value) => Value): Value {
  const rowMax = g.op('Max', [g.op('ReduceMax', [g.op('Abs', [x])], { attrs: { axes: [-1], keepdims: 1 } }), g.scalar(1e-30)]);
  return mul(g, project(g.op('Div', [x, rowMax])), rowMax);
}

/**
 * `x [heads, rows, in]` through each head's own linear layer -> `[heads, rows, out]`. int8: one batched
 * product (`int8GroupedLinear`). float32: one two-dimensional product per head, as ONNX Runtime pre-packs
 * a constant 2-D weight once where a batched float32 product re-packs every head's weight on every run,
 * four times the bytes of the int8 form.
 */
function perHead(g: GraphBuilder, x: Value, heads: readonly LinearWeights[], precision: Precision): Value {
  if (precision === 'int8') return int8GroupedLinear(g, x, heads);
  const parts = g.node('Split', [x, g.int64s(heads.map(() => 1))], { outputs: heads.length, attrs: { axis: 0 } });
  return concat(g, heads.map((head, index) => linear(g, parts[index] as Value, head, { precision })), 0);
}

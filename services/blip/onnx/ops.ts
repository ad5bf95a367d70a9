import type { FloatTensor } from '../checkpoint/safetensors.js';
import { CONTRIB_DOMAIN, float, type GraphBuilder, tensor, type Value } from './graph.js';

/** Typed helpers for the ONNX operators the BLIP graphs use. */

/** Stores a checkpoint tensor as a float32 initializer. */
export function weight(g: GraphBuilder, name: string, value: FloatTensor, dims: readonly number[] = value.shape): Value {
  return g.initializer(name, tensor('float32', dims, value.data));
}

export const add = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Add', [a, b]);
export const mul = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Mul', [a, b]);
export const matMul = (g: GraphBuilder, a: Value, b: Value): Value => g.op('MatMul', [a, b]);

export function reshape(g: GraphBuilder, x: Value, shape: readonly number[]): Value {
  return g.op('Reshape', [x, g.int64s(shape)]);
}

export function transpose(g: GraphBuilder, x: Value, perm: readonly number[]): Value {
  return g.op('Transpose', [x], { attrs: { perm } });
}

export function concat(g: GraphBuilder, values: readonly Value[], axis: number): Value {
  return g.op('Concat', values, { attrs: { axis } });
}

export function softmax(g: GraphBuilder, x: Value, axis = -1): Value {
  return g.op('Softmax', [x], { attrs: { axis } });
}

export function gather(g: GraphBuilder, data: Value, indices: Value, axis = 0): Value {
  return g.op('Gather', [data, indices], { attrs: { axis } });
}

/** The size of dimension `axis` of `x` as an int64 scalar. */
export function dimension(g: GraphBuilder, x: Value, axis: number): Value {
  return g.op('Shape', [x], { attrs: { start: axis, end: axis + 1 } });
}

export function squeezeToScalar(g: GraphBuilder, x: Value): Value {
  return g.op('Squeeze', [x, g.int64s([0])]);
}

/** `LayerNorm(x) * scale + bias` over the last axis (weights `<prefix>.weight`, `<prefix>.bias`). */
export function layerNorm(g: GraphBuilder, x: Value, scale: Value, bias: Value, epsilon: number): Value {
  return g.op('LayerNormalization', [x, scale, bias], { attrs: { axis: -1, epsilon: float(epsilon) } });
}

/** Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (onnxruntime's contrib Gelu is the erf form). */
export function gelu(g: GraphBuilder, x: Value): Value {
  return g.op('Gelu', [x], { domain: CONTRIB_DOMAIN });
}

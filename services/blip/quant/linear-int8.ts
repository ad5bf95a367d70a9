// The int8 form of a linear layer: weights quantised per output channel at compile time,
// activations quantised per tensor at run time. Emitted as standard ONNX operators
// (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul by the product of the scales -> Add bias),
// the pattern onnxruntime fuses into its DynamicQuantizeMatMul kernel at graph optimisation level
// "extended" and above.
import type { FloatTensor } from '../checkpoint/safetensors.js';
import { ELEMENT_TYPES, type GraphBuilder, tensor, type Value } from '../onnx/graph.js';
import { quantizeLinearWeight } from './quantize.js';

export interface Int8LinearWeights {
  readonly name: string;
  /** PyTorch `nn.Linear` layout: `[out_features, in_features]`. */
  readonly weight: FloatTensor;
  readonly bias?: FloatTensor;
}

/** Weight bits of the int8 graphs; 7 ("reduced range") is safe on CPUs without VNNI. */
export type WeightBits = 7 | 8;
export const DEFAULT_WEIGHT_BITS: WeightBits = 7;

export function int8Linear(g: GraphBuilder, x: Value, params: Int8LinearWeights, bits: WeightBits = DEFAULT_WEIGHT_BITS): Value {
  const [outFeatures, inFeatures] = params.weight.shape;
  if (outFeatures === undefined || inFeatures === undefined || params.weight.shape.length !== 2) {
    throw new Error(`linear weight must be 2-D, got [${params.weight.shape.join(', ')}]`);
  }
  const q = quantizeLinearWeight(params.weight.data, outFeatures, inFeatures, bits);
  const weightQ = g.initializer(`${params.name}.weight_int8`, tensor('int8', [inFeatures, outFeatures], q.values));
  const weightScale = g.initializer(`${params.name}.weight_scale`, tensor('float32', [outFeatures], q.scales));
  const weightZero = g.initializer(`${params.name}.weight_zero_point`, tensor('int8', [outFeatures], new Int8Array(outFeatures)));
  const [xq, xScale, xZero] = g.node('DynamicQuantizeLinear', [x], { outputs: 3 }) as [Value, Value, Value];
  const accumulated = g.op('MatMulInteger', [xq, weightQ, xZero, weightZero]);
  const asFloat = g.op('Cast', [accumulated], { attrs: { to: ELEMENT_TYPES.float32 } });
  const scale = g.op('Mul', [xScale, weightScale]);
  const product = g.op('Mul', [asFloat, scale]);
  if (!params.bias) return product;
  return g.op('Add', [product, g.initializer(`${params.name}.bias`, tensor('float32', [outFeatures], params.bias.data))]);
}

/**
 * `x [groups, rows, in]` through each group's own int8 linear layer (no bias) -> `[groups, rows, out]`
 * as one batched MatMulInteger: the weights stacked `[groups, in, out]` with per-group, per-output-channel
 * scales. One node where a product per group needs a Split, the products and a Concat around them: at
 * one decoder row the per-head projections of the folded cross-attention are 48 kB each, and the
 * operators around them cost more than the products (ONNX Runtime packs a batched weight on every run,
 * which costs less than the operators it saves).
 *
 * Activations are quantised per tensor.
 */
export function int8GroupedLinear(
  g: GraphBuilder,
  x: Value,
  groups: readonly Int8LinearWeights[],
  bits: WeightBits = DEFAULT_WEIGHT_BITS,
): Value {
  const [first] = groups;
  if (!first || first.weight.shape.length !== 2) throw new Error('grouped linear needs 2-D weights');
  const [outFeatures = 0, inFeatures = 0] = first.weight.shape;
  const block = outFeatures * inFeatures;
  const values = new Int8Array(groups.length * block);
  const scales = new Float32Array(groups.length * outFeatures);
  groups.forEach((group, index) => {
    const [out, inp] = group.weight.shape;
    if (out !== outFeatures || inp !== inFeatures || group.bias) throw new Error(`grouped linear ${group.name}: every group [${outFeatures}, ${inFeatures}] without bias`);
    const q = quantizeLinearWeight(group.weight.data, outFeatures, inFeatures, bits);
    values.set(q.values, index * block);
    scales.set(q.scales, index * outFeatures);
  });
  const name = first.name.replace(/\.head0$/, '.heads');
  const weightQ = g.initializer(`${name}.weight_int8`, tensor('int8', [groups.length, inFeatures, outFeatures], values));
  const weightScale = g.initializer(`${name}.weight_scale`, tensor('float32', [groups.length, 1, outFeatures], scales));
  const [xq, xScale, xZero] = g.node('DynamicQuantizeLinear', [x], { outputs: 3 }) as [Value, Value, Value];
  const accumulated = g.op('MatMulInteger', [xq, weightQ, xZero]);
  return g.op('Mul', [g.op('Cast', [accumulated], { attrs: { to: ELEMENT_TYPES.float32 } }), g.op('Mul', [xScale, weightScale])]);
}

import type { FloatTensor } from '../checkpoint/safetensors.js';
import { CONTRIB_DOMAIN, type GraphBuilder, tensor, type Value } from './graph.js';
import { add } from './ops.js';
import { int8Linear } from '../quant/linear-int8.js';

/** Numeric format of the weights of linear layers. */
export type Precision = 'fp32' | 'int8';

export interface LinearWeights {
  /** Initializer name stem, normally the checkpoint prefix (e.g. `...attention.self.query`). */
  readonly name: string;
  /** PyTorch `nn.Linear` layout: `[out_features, in_features]`. */
  readonly weight: FloatTensor;
  readonly bias?: FloatTensor;
}

/**
 * `x @ weight^T + bias` over the last axis of `x`. Every matrix multiplication by a checkpoint weight
 * in the BLIP graphs goes through this one function, so a quantised variant replaces only this.
 * float32: onnxruntime's `FusedMatMul` with `transB` reads the weight in its checkpoint layout, so
 * nothing is transposed at compile time and tied weights (LM head = word embeddings) are stored once.
 */
export function linear(g: GraphBuilder, x: Value, params: LinearWeights, options: { precision: Precision }): Value {
  if (options.precision === 'int8') return int8Linear(g, x, params);
  const [outFeatures, inFeatures] = params.weight.shape;
  if (outFeatures === undefined || inFeatures === undefined || params.weight.shape.length !== 2) {
    throw new Error(`linear weight must be 2-D, got [${params.weight.shape.join(', ')}]`);
  }
  const weight = g.initializer(`${params.name}.weight`, tensor('float32', [outFeatures, inFeatures], params.weight.data));
  const product = g.op('FusedMatMul', [x, weight], { domain: CONTRIB_DOMAIN, attrs: { transB: 1 } });
  if (!params.bias) return product;
  return add(g, product, g.initializer(`${params.name}.bias`, tensor('float32', [outFeatures], params.bias.data)));
}

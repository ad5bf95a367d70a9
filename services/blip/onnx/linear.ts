import type { FloatTensor } from '../checkpoint/safetensors.js';
import { type GraphBuilder, tensor, type Value } from './graph.js';
import { add, matMul } from './ops.js';
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

/** Returns `[in, out]`, the transpose of a row-major `[out, in]` matrix. */
function transposed(weight: FloatTensor): Float32Array {
  const [rows, columns] = weight.shape;
  if (rows === undefined || columns === undefined || weight.shape.length !== 2) {
    throw new Error(`linear weight must be 2-D, got [${weight.shape.join(', ')}]`);
  }
  const out = new Float32Array(rows * columns);
  const source = weight.data;
  for (let r = 0; r < rows; r += 1) {
    const row = r * columns;
    for (let c = 0; c < columns; c += 1) out[c * rows + r] = source[row + c] as number;
  }
  return out;
}

/**
 * `x @ weight^T + bias` over the last axis of `x`. Every matrix multiplication by a checkpoint weight
 * in the BLIP graphs goes through this one function, so a quantised variant replaces only this.
 */
export function linear(g: GraphBuilder, x: Value, params: LinearWeights, options: { precision: Precision }): Value {
  if (options.precision === 'int8') return int8Linear(g, x, params);
  const [outFeatures, inFeatures] = params.weight.shape as [number, number];
  const weightT = g.initializer(`${params.name}.weight_t`, tensor('float32', [inFeatures, outFeatures], transposed(params.weight)));
  const product = matMul(g, x, weightT);
  if (!params.bias) return product;
  return add(g, product, g.initializer(`${params.name}.bias`, tensor('float32', [outFeatures], params.bias.data)));
}

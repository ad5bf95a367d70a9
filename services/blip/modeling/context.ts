import type { CheckpointWeights } from '../checkpoint/index.js';
import type { GraphBuilder, Value } from '../onnx/graph.js';
import { type Precision, linear } from '../onnx/linear.js';
import { layerNorm, weight } from '../onnx/ops.js';

/** What every layer builder needs: the graph under construction, the checkpoint and the precision. */
export interface BuildContext {
  readonly g: GraphBuilder;
  readonly weights: CheckpointWeights;
  readonly precision: Precision;
}

/** `nn.Linear` stored in the checkpoint as `<prefix>.weight` and `<prefix>.bias`. */
export function checkpointLinear(ctx: BuildContext, x: Value, prefix: string): Value {
  const { weights } = ctx;
  const bias = `${prefix}.bias`;
  return linear(
    ctx.g,
    x,
    { name: prefix, weight: weights.get(`${prefix}.weight`), ...(weights.has(bias) ? { bias: weights.get(bias) } : {}) },
    { precision: ctx.precision },
  );
}

/** `nn.LayerNorm` stored as `<prefix>.weight` and `<prefix>.bias`. */
export function checkpointLayerNorm(ctx: BuildContext, x: Value, prefix: string, epsilon: number): Value {
  const { g, weights } = ctx;
  const scale = weight(g, `${prefix}.weight`, weights.get(`${prefix}.weight`));
  const bias = weight(g, `${prefix}.bias`, weights.get(`${prefix}.bias`));
  return layerNorm(g, x, scale, bias, epsilon);
}

import type { CheckpointWeights } from '../checkpoint/index.js';
import type { GraphBuilder, Value } from '../onnx/graph.js';
import { concatFloat32 } from '../matrix.js';
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

/**
 * Several `nn.Linear` layers over the same input (`<prefix>.weight`, `<prefix>.bias` each) as one
 * product with their weights stacked, split back into one output per layer. The same arithmetic per
 * output channel (and, int8, one activation scale, as the layers would share anyway); one kernel call
 * streams all the weights instead of one call per layer.
 */
export function checkpointLinears(ctx: BuildContext, x: Value, prefixes: readonly string[]): Value[] {
  const { g, weights } = ctx;
  const parts = prefixes.map((prefix) => ({ weight: weights.get(`${prefix}.weight`), bias: weights.get(`${prefix}.bias`) }));
  const inFeatures = parts[0]?.weight.shape[1];
  const outFeatures = parts.map(({ weight: w }) => w.shape[0] ?? 0);
  if (inFeatures === undefined || parts.some(({ weight: w }) => w.shape.length !== 2 || w.shape[1] !== inFeatures)) {
    throw new Error(`${prefixes.join(', ')}: stacked linear layers need 2-D weights of one input width`);
  }
  const total = outFeatures.reduce((a, b) => a + b, 0);
  const stacked = linear(
    g,
    x,
    {
      name: prefixes.join('+'),
      weight: { shape: [total, inFeatures], data: concatFloat32(parts.map((p) => p.weight.data)) },
      bias: { shape: [total], data: concatFloat32(parts.map((p) => p.bias.data)) },
    },
    { precision: ctx.precision },
  );
  return g.node('Split', [stacked, g.int64s(outFeatures)], { outputs: prefixes.length, attrs: { axis: -1 } });
}

/** `nn.LayerNorm` stored as `<prefix>.weight` and `<prefix>.bias`. */
export function checkpointLayerNorm(ctx: BuildContext, x: Value, prefix: string, epsilon: number): Value {
  const { g, weights } = ctx;
  const scale = weight(g, `${prefix}.weight`, weights.get(`${prefix}.weight`));
  const bias = weight(g, `${prefix}.bias`, weights.get(`${prefix}.bias`));
  return layerNorm(g, x, scale, bias, epsilon);
}

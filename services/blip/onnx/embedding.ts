import type { FloatTensor } from '../checkpoint/safetensors.js';
import { int8Embedding } from '../quant/embedding-int8.js';
import type { GraphBuilder, Value } from './graph.js';
import type { Precision } from './linear.js';
import { gather, weight } from './ops.js';

/**
 * Rows `ids` of an embedding table `[rows, width]` (`<name>.weight` in the checkpoint): a Gather of the
 * float32 table, or at int8 of the per-row int8 table scaled back (quant/embedding-int8.ts).
 */
export function embedding(g: GraphBuilder, ids: Value, params: { readonly name: string; readonly table: FloatTensor }, options: { precision: Precision }): Value {
  if (options.precision === 'int8') return int8Embedding(g, ids, params);
  return gather(g, weight(g, `${params.name}.weight`, params.table), ids);
}

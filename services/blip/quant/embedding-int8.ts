// The int8 form of an embedding lookup: the table quantised per row at compile time (8 bits, one
// scale per token), rows gathered as int8 and scaled back to float32 after the Gather. A quarter of
// the float32 table's bytes: the table is read straight from the memory-mapped external data, where
// every token looked up keeps its pages (and the kernel's fault-around neighbours) resident, so over
// a long-running worker the float32 table of BLIP-base (30524 x 768, 94 MB) ends up resident whole.
import type { FloatTensor } from '../checkpoint/safetensors.js';
import { ELEMENT_TYPES, type GraphBuilder, tensor, type Value } from '../onnx/graph.js';
import { quantizeRowsInt8 } from './quantize.js';

export function int8Embedding(g: GraphBuilder, ids: Value, params: { readonly name: string; readonly table: FloatTensor }): Value {
  const [rows, width] = params.table.shape;
  if (rows === undefined || width === undefined || params.table.shape.length !== 2) {
    throw new Error(`embedding table must be 2-D, got [${params.table.shape.join(', ')}]`);
  }
  const q = quantizeRowsInt8(params.table.data, rows, width);
  const values = g.initializer(`${params.name}.weight_int8`, tensor('int8', [rows, width], q.values));
  const scales = g.initializer(`${params.name}.weight_scale`, tensor('float32', [rows, 1], q.scales));
  const gathered = g.op('Cast', [g.op('Gather', [values, ids], { attrs: { axis: 0 } })], { attrs: { to: ELEMENT_TYPES.float32 } });
  return g.op('Mul', [gathered, g.op('Gather', [scales, ids], { attrs: { axis: 0 } })]);
}

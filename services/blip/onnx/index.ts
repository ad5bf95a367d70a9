/** ONNX graph builder: typed nodes and initializers, operator helpers, the one `linear` and `embedding`, and the writer. */
export { CONTRIB_DOMAIN, type Dim, type ElementType, float, GraphBuilder, OPSET, tensor, type TensorValue, Value } from './graph.js';
export { embedding } from './embedding.js';
export { type LinearWeights, linear, type Precision } from './linear.js';
export * as ops from './ops.js';
export { writeModel } from './serialize.js';

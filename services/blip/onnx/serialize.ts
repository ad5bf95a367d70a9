import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { CONTRIB_DOMAIN, type Dim, ELEMENT_TYPES, type GraphBuilder, inlineTensorProto, OPSET } from './graph.js';

/** The ONNX protobuf classes (encode/decode). */
export const { onnx } = onnxProto;

/** Initializers at least this large go to the external data file instead of the protobuf. */
const EXTERNAL_DATA_THRESHOLD_BYTES = 1024;
/** External tensors start on page boundaries so onnxruntime can map them. */
const EXTERNAL_DATA_ALIGNMENT = 4096;
const IR_VERSION = 8;

function valueInfo(name: string, type: keyof typeof ELEMENT_TYPES, dims: readonly Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[type],
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  });
}

/**
 * Writes `graph` to `file` (an .onnx model) and its large initializers, raw and unencoded, to
 * `<file>.data` beside it as ONNX external data. onnxruntime loads the pair from the model path.
 */
export async function writeModel(graph: GraphBuilder, file: string): Promise<void> {
  const dataFile = `${file}.data`;
  const location = path.basename(dataFile);
  const handle = await open(dataFile, 'w');
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  try {
    let offset = 0;
    for (const { name, tensor } of graph.initializers) {
      const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
      if (bytes.byteLength < EXTERNAL_DATA_THRESHOLD_BYTES) {
        initializers.push(inlineTensorProto(name, tensor));
        continue;
      }
      offset = Math.ceil(offset / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
      await handle.write(bytes, 0, bytes.byteLength, offset);
      initializers.push(
        onnx.TensorProto.create({
          name,
          dims: [...tensor.dims],
          dataType: ELEMENT_TYPES[tensor.type],
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.byteLength) },
          ],
        }),
      );
      offset += bytes.byteLength;
    }
  } finally {
    await handle.close();
  }
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'blipline',
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: CONTRIB_DOMAIN, version: 1 },
    ],
    graph: onnx.GraphProto.create({
      name: graph.name,
      node: graph.nodes,
      initializer: initializers,
      input: graph.inputs.map(({ name, type, dims }) => valueInfo(name, type, dims)),
      output: graph.outputs.map(({ name, type, dims }) => valueInfo(name, type, dims)),
    }),
  });
  await writeFile(file, onnx.ModelProto.encode(model).finish());
}

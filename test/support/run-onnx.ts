// Runs one model in a process of its own, for tests that need ONNX Runtime started in another
// environment (the AVX2 kernels of services/bench/isa): input `x`, output `y`, both float32.
// usage: node --import tsx test/support/run-onnx.ts MODEL INPUT.f32 DIMS OUTPUT.f32   (DIMS like 2,7,64)
import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { z } from 'zod';

const [model, input, dims, output] = z.tuple([z.string(), z.string(), z.string(), z.string()]).parse(process.argv.slice(2));
const bytes = readFileSync(input);
const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
const y = (await session.run({ x: new ort.Tensor('float32', x, dims.split(',').map(Number)) })).y!.data as Float32Array;
writeFileSync(output, new Uint8Array(y.buffer, y.byteOffset, y.byteLength));

// Regenerates services/blip/processing/wasm/resample-wasm.ts from resample.wat (run after editing it):
//   npx tsx bin/build-resample-wasm.ts
import { writeFile } from 'node:fs/promises';
import { compileResampleWat, RESAMPLE_WASM_MODULE, renderModuleSource } from '../services/blip/processing/wasm/build.js';

const bytes = await compileResampleWat();
await writeFile(RESAMPLE_WASM_MODULE, renderModuleSource(bytes));
process.stdout.write(`wrote ${RESAMPLE_WASM_MODULE} (${bytes.length} bytes of WebAssembly)\n`);

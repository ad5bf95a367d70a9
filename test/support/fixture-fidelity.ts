// The int8-against-float32 fidelity of the captioning fixture (services/bench/fidelity.ts), for
// test/blip/precision.test.ts: in its own process too, where ONNX Runtime must start in another
// environment (the AVX2 kernels of services/bench/isa).
// usage: node --import tsx test/support/fixture-fidelity.ts CACHE_DIR   (prints the summaries as JSON)
import { z } from 'zod';
import { uniformPlan } from '../../services/bench/captioning-graphs.js';
import { type FidelitySummary, measureFidelity } from '../../services/bench/fidelity.js';
import { captioningModelDir, captioningReference, readF32 } from './fixtures.js';

/** All int8, and int8 vision with a float32 decoder, against all float32 on the fixture's reference paths. */
export async function fixtureFidelity(cacheDir: string): Promise<FidelitySummary[]> {
  const cases = captioningReference().cases.map((c) => ({
    name: c.image,
    pixels: readF32(`pixel_values/${c.image}.f32`),
    tokenIds: c.teacher_forced.input_ids,
  }));
  if (cases.length === 0) throw new Error('the captioning fixture has no reference cases');
  return measureFidelity({ checkpointDir: captioningModelDir, plans: [uniformPlan('int8'), { vision: 'int8', decoder: 'fp32' }], cases, threads: 2, cacheDir });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cacheDir] = z.tuple([z.string()]).parse(process.argv.slice(2));
  process.stdout.write(JSON.stringify(await fixtureFidelity(cacheDir)));
}

import { createHash } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BlipCheckpoint } from '../checkpoint/index.js';
import { BlipCheckpointError, BlipRuntimeError } from '../errors.js';
import { checkHeadWeights, GRAPH_BUILDER_VERSION, GRAPH_SETS } from '../modeling/graphs.js';
import type { Precision } from '../onnx/linear.js';

/**
 * Compiled graphs on disk: `<cacheDir>/<key>/<graph>.onnx` (+ `.onnx.data`), where the key hashes the
 * checkpoint's SHA-256, its config, the precision and the builder version. A directory appears only
 * once complete (built beside it, then renamed), so concurrent starts never read half-written graphs.
 */

export interface CompiledGraphs {
  readonly dir: string;
  /** Model file of each graph, by graph name. */
  readonly files: Readonly<Record<string, string>>;
  readonly cacheHit: boolean;
  readonly compileMs: number;
}

export function graphCacheKey(checkpoint: BlipCheckpoint, precision: Precision): string {
  return createHash('sha256')
    .update(JSON.stringify({ builder: GRAPH_BUILDER_VERSION, weights: checkpoint.sha256, config: checkpoint.config, precision }))
    .digest('hex')
    .slice(0, 32);
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

export async function compileGraphs(
  checkpoint: BlipCheckpoint,
  options: { cacheDir: string; precision: Precision; logger?: Logger },
): Promise<CompiledGraphs> {
  const started = performance.now();
  const key = graphCacheKey(checkpoint, options.precision);
  const dir = path.join(options.cacheDir, `${checkpoint.config.kind}-${options.precision}-${key}`);
  const specs = GRAPH_SETS[checkpoint.config.kind];
  const files = Object.fromEntries(specs.map((spec) => [spec.name, path.join(dir, `${spec.name}.onnx`)]));
  const log = options.logger?.child({ component: 'graph-cache', dir });

  if (await exists(dir)) {
    const expected = Object.values(files).flatMap((file) => [file, `${file}.data`]);
    if ((await Promise.all(expected.map(exists))).every(Boolean)) {
      const compileMs = performance.now() - started;
      log?.info({ cacheHit: true, compileMs }, 'reusing compiled graphs');
      return { dir, files, cacheHit: true, compileMs };
    }
    log?.warn('compiled graphs incomplete (files removed?); compiling again');
    await rm(dir, { recursive: true, force: true });
  }

  log?.info({ cacheHit: false, graphs: specs.map((spec) => spec.name) }, 'compiling graphs');
  const staging = `${dir}.building-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await mkdir(staging, { recursive: true });
    const { writeModel } = await import('../onnx/serialize.js'); // the protobuf encoder, only when compiling
    const weights = await checkpoint.loadWeights();
    checkHeadWeights(checkpoint.config, weights);
    for (const spec of specs) {
      const graph = spec.build({ weights, precision: options.precision }, checkpoint.config);
      await writeModel(graph, path.join(staging, `${spec.name}.onnx`));
    }
    await rename(staging, dir).catch(async (error: unknown) => {
      if (!(await exists(dir))) throw error; // otherwise another process finished the same graphs first
      await rm(staging, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof BlipCheckpointError) throw error;
    throw new BlipRuntimeError('graph_build_failed', `compiling the ${checkpoint.config.kind} graphs failed: ${String(error)}`, { cause: error });
  }
  const compileMs = performance.now() - started;
  log?.info({ cacheHit: false, compileMs }, 'compiled graphs');
  return { dir, files, cacheHit: false, compileMs };
}

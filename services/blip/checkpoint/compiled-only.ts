import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BlipCheckpointError } from '../errors.js';

/**
 * A checkpoint folder whose weights were removed once its graphs were compiled (the worker image keeps only
 * what the worker loads). `.blipline-compiled.json` stands in for the weights: it records their SHA-256, which
 * keys the compiled-graph cache, and the precision compiled. Such a folder starts from the cache only; anything
 * that needs the weights (another precision, a new builder version) fails with `weights_removed`.
 */
export const COMPILED_ONLY_MARKER = '.blipline-compiled.json';

const markerSchema = z.object({
  checkpointSha256: z.string().regex(/^[0-9a-f]{64}$/),
  precision: z.enum(['fp32', 'int8']),
  removed: z.array(z.string().regex(/^[^/\\]+$/)).min(1),
});
export type CompiledOnlyMarker = z.infer<typeof markerSchema>;

/** The marker of `dir`, or undefined when the folder has none; an unreadable marker is an error. */
export async function readCompiledOnlyMarker(dir: string): Promise<CompiledOnlyMarker | undefined> {
  const file = path.join(dir, COMPILED_ONLY_MARKER);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = markerSchema.safeParse((() => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  })());
  if (!parsed.success) throw new BlipCheckpointError('invalid_weights', `${file} is not a valid compiled-only marker: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Removes the weight files of `dir` after its graphs were compiled, leaving the marker in their place. */
export async function removeCompiledWeights(dir: string, weightFiles: readonly string[], marker: Omit<CompiledOnlyMarker, 'removed'>): Promise<CompiledOnlyMarker> {
  const removed = weightFiles.map((file) => path.basename(file));
  const full: CompiledOnlyMarker = { ...marker, removed };
  // The marker first: a folder is never left with neither weights nor marker.
  await writeFile(path.join(dir, COMPILED_ONLY_MARKER), `${JSON.stringify(full, null, 2)}\n`);
  for (const name of removed) await rm(path.join(dir, name), { force: true });
  return full;
}

export function weightsRemovedError(dir: string, marker: CompiledOnlyMarker): BlipCheckpointError {
  return new BlipCheckpointError(
    'weights_removed',
    `${dir} holds only compiled ${marker.precision} graphs (its weights were removed after compiling): run it at precision ${marker.precision} with the graph cache it was prepared with, or prepare the model again from its checkpoint`,
  );
}

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeEnv } from './config.js';

/** The repository root (this file is services/core/paths.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The tiny fixture checkpoints: BLIPLINE_FIXTURES, else ../shared/fixtures/blip-tiny next to the repository. */
export function fixturesDir(): string {
  return runtimeEnv('BLIPLINE_FIXTURES') ?? path.resolve(repoRoot, '../shared/fixtures/blip-tiny');
}

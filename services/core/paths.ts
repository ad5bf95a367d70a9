import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is services/core/paths.ts): the one place that computes it. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `name` in the root package.json: what marks the repository root (and /app in the worker image). */
const PACKAGE_NAME = 'blipline';

function packageName(manifest: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined; // no package.json here, or not one of ours
  }
}

/**
 * The nearest folder at or above `start` whose package.json is named "blipline", if any. Walking up
 * (rather than a fixed `../..`) gives the same root whether this module runs from its source file
 * (services/core/paths.ts, through tsx) or from a bundle (dist/blipline.mjs and its chunks,
 * .cache/blipline/bench/), and /app in the worker image.
 */
export function findRepoRoot(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (packageName(path.join(dir, 'package.json')) === PACKAGE_NAME) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The repository root: the one place that computes it. A self-contained bundle with no package.json
 * above it (the API's Lambda bundle in /var/task) gets its own folder; the Lambda reads nothing from
 * the root (BLIPLINE_WEB_DIR points at the page copied into the bundle).
 */
export const repoRoot = findRepoRoot(here) ?? here;

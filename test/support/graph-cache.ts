import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/**
 * Setup file of every test file (vitest.config.ts `setupFiles`): the compiled-graph cache
 * (BLIPLINE_CACHE_DIR) is a scratch folder of the test file, removed after it, so no test reads or
 * writes the repository's own `.cache/blipline/graphs` (a stale graph there would go unnoticed). Every
 * `loadBlip` without a `cacheDir` and every child process that inherits the environment uses it.
 */
const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'blipline-test-graphs-'));
process.env.BLIPLINE_CACHE_DIR = cacheDir;

afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

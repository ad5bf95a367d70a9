import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll } from 'vitest';
import { bundle, CLI_ENTRY, type BundleResult } from '../../services/build/cli-bundle.js';
import { repoRoot } from './fixtures.js';

/**
 * Bundles the CLI exactly as `npm run build:cli` does (services/build/cli-bundle.ts), into a scratch
 * folder `.cache/blipline/<prefix>XXXXXX/` removed after the test file. It lies under the repository,
 * as dist/ does, because the bundle imports its packages from the repository's node_modules.
 */
export async function scratchCliBundle(prefix: string): Promise<BundleResult & { dir: string }> {
  const parent = path.join(repoRoot, '.cache/blipline');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, prefix));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return { dir, ...(await bundle({ entry: CLI_ENTRY, outDir: dir, name: 'blipline' })) };
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../support/fixtures.js';

/** Committed screenshots the page is compared with (`BLIPLINE_UPDATE_BASELINES=1` rewrites them). */
export const BASELINE_DIR = path.join(repoRoot, 'test/web/baselines');
/** A pixel differs when its colour distance passes pixelmatch's threshold (0..1; anti-aliasing is ignored). */
const PIXEL_THRESHOLD = 0.1;
/** Share of differing pixels tolerated: font hinting and anti-aliasing, never a real change of the page. */
export const MAX_DIFF_RATIO = 0.002;

export interface VisualResult {
  name: string;
  diffRatio: number;
  width: number;
  height: number;
}

/**
 * Screenshots the page (viewport, animations off) and compares it with `baselines/<name>.png`. With
 * BLIPLINE_UPDATE_BASELINES=1 the screenshot becomes the baseline instead (unless `mayUpdate` is false). A missing baseline is an error that says
 * how to make it; a size change counts as a full difference. The difference image goes to `diffDir`.
 */
export async function compareWithBaseline(page: Page, name: string, diffDir: string, options: { mayUpdate?: boolean } = {}): Promise<VisualResult> {
  const actual = PNG.sync.read(await page.screenshot({ animations: 'disabled' }));
  const file = path.join(BASELINE_DIR, `${name}.png`);
  if (process.env.BLIPLINE_UPDATE_BASELINES === '1' && options.mayUpdate !== false) {
    mkdirSync(BASELINE_DIR, { recursive: true });
    writeFileSync(file, PNG.sync.write(actual));
    return { name, diffRatio: 0, width: actual.width, height: actual.height };
  }
  if (!existsSync(file)) throw new Error(`no baseline ${path.relative(repoRoot, file)}: run BLIPLINE_UPDATE_BASELINES=1 npx vitest run test/web/e2e.test.ts and commit it`);
  const expected = PNG.sync.read(readFileSync(file));
  if (expected.width !== actual.width || expected.height !== actual.height) return { name, diffRatio: 1, width: actual.width, height: actual.height };
  const diff = new PNG({ width: actual.width, height: actual.height });
  const differing = pixelmatch(expected.data, actual.data, diff.data, actual.width, actual.height, { threshold: PIXEL_THRESHOLD });
  mkdirSync(diffDir, { recursive: true });
  writeFileSync(path.join(diffDir, `${name}-diff.png`), PNG.sync.write(diff));
  return { name, diffRatio: differing / (actual.width * actual.height), width: actual.width, height: actual.height };
}

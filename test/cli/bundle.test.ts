import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_NODE_FLAGS } from '../../services/build/cli-bundle.js';
import { findRepoRoot } from '../../services/core/paths.js';
import { scratchCliBundle } from '../support/bundle.js';
import { scratchCli, type CliRun } from '../support/cli.js';
import { captioningModelDir, captioningReference, fixturePath, repoRoot } from '../support/fixtures.js';

// The worker image runs the CLI as a bundle on plain Node (Dockerfile.inference); this builds it as
// `npm run build:cli` does and checks it against the tsx CLI that every other CLI test runs.
const cli = await scratchCli('blipline-cli-bundle-');
const built = await scratchCliBundle('bundle-test-');
const node = path.join(repoRoot, 'node_modules/.bin/node');

/** Runs the bundled CLI with plain Node (no tsx), as the image's CMD does. */
async function runBundle(args: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(node, [...BUNDLE_NODE_FLAGS, built.file, ...args], {
      cwd: os.tmpdir(), // nothing may depend on the working directory
      env: { ...process.env, BLIPLINE_CACHE_DIR: cli.cacheDir, LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliRun;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** npm package names a bundle output imports when loaded, following its static imports (not `import()`). */
function staticPackages(metafile: Metafile, output: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of metafile.outputs[file]?.imports ?? []) {
      if (imported.kind !== 'import-statement') continue;
      if (!imported.external) visit(imported.path);
      else if (!imported.path.startsWith('node:')) packages.add(imported.path.split('/').slice(0, imported.path.startsWith('@') ? 2 : 1).join('/'));
    }
  };
  visit(output);
  return packages;
}

describe('the bundled CLI (dist/blipline.mjs)', { timeout: 180_000 }, () => {
  const outputs = Object.entries(built.metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
  const outputOf = (source: string) => outputs.find(([, output]) => output.entryPoint === source)?.[0] ?? '';

  it('loads each subcommand and the ONNX serializer as chunks of their own; what the image runs needs production dependencies only', () => {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const production = new Set(Object.keys(manifest.dependencies));
    expect(outputOf('bin/blipline.ts')).toBe(path.relative(repoRoot, built.file));
    expect(staticPackages(built.metafile, outputOf('bin/blipline.ts'))).toEqual(new Set(['zod']));
    for (const command of ['worker', 'prepare-model', 'caption', 'ask', 'score']) {
      const chunk = outputOf(`services/cli/${command}.ts`);
      expect(chunk, command).not.toBe('');
      for (const name of staticPackages(built.metafile, chunk)) expect(production.has(name), `${command} imports ${name}`).toBe(true);
    }
    // Without code splitting every command would import these at start.
    expect(staticPackages(built.metafile, outputOf('services/cli/dev.ts'))).toContain('fauxqs');
    expect(staticPackages(built.metafile, outputOf('services/cli/worker.ts'))).not.toContain('onnx-proto');
    expect(outputOf('services/blip/onnx/serialize.ts')).not.toBe('');
  });

  it('finds the repository root from its own folder', () => {
    expect(findRepoRoot(built.dir)).toBe(repoRoot);
    expect(findRepoRoot(os.tmpdir())).toBeUndefined();
  });

  it('captions a fixture image on plain Node exactly as the tsx CLI does, compiling the graphs on first use', async () => {
    const image = fixturePath('images/photo_chelsea.jpg');
    const chelsea = captioningReference().cases.find((c) => c.image === 'photo_chelsea.jpg');
    const args = ['caption', image, '--model', captioningModelDir, '--max-new-tokens', '20'];

    // An empty graph cache: the first run compiles, which loads the serializer chunk (`await import`).
    const first = await runBundle([...args, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout.trim())).toMatchObject({ image, text: chelsea?.greedy.text, tokenIds: chelsea?.greedy.output_ids, cacheHit: false });

    const bundled = await runBundle(args);
    const tsx = await cli.run(args);
    expect([bundled.code, bundled.stderr]).toEqual([0, '']);
    expect([tsx.code, tsx.stderr]).toEqual([0, '']);
    expect(bundled.stdout).toBe(tsx.stdout);
    expect(bundled.stdout).toBe(`${chelsea?.greedy.text}\n`); // one image: the caption alone
  });

  it('reports errors as the tsx CLI does', async () => {
    const missing = ['caption', path.join(cli.dir, 'missing.jpg'), '--model', captioningModelDir];
    const [bundled, tsx] = await Promise.all([runBundle(missing), cli.run(missing)]);
    expect(bundled.code).toBe(1);
    expect([bundled.code, bundled.stdout, bundled.stderr]).toEqual([tsx.code, tsx.stdout, tsx.stderr]);
  });
});

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import { bundle as buildBundle, BUNDLE_ENV, BUNDLE_NODE_FLAGS, CLI_ENTRY } from '../../services/build/cli-bundle.js';
import { blipBaseImageBytes, IMAGE_GOAL_BYTES, mb, RUNTIME_CONTENTS_BUDGET_BYTES } from '../../services/build/image-budget.js';
import { isTargetArch, pruneRuntimeNodeModules } from '../../services/build/runtime-prune.js';
import { COMMANDS } from '../../services/cli/commands.js';
import { scratchCliBundle } from '../support/bundle.js';
import { fixturePath } from '../support/fixtures.js';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  /** `FROM --platform=...` */
  platform: string | undefined;
  instructions: Instruction[];
}

const text = readFileSync(path.join(REPO_ROOT, 'Dockerfile.inference'), 'utf8');

/** Joins continuation lines, drops comments, splits into instructions and stages. */
function parse(source: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const logical = source
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const [, platform, from = '', name] = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, platform, instructions: [] });
    } else if (stages.length === 0) globalArgs.push(instruction);
    else stages[stages.length - 1]?.instructions.push(instruction);
  }
  return { globalArgs, stages };
}

const { globalArgs, stages } = parse(text);
const argDefault = (instructions: Instruction[], name: string) =>
  instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith(`${name}=`))?.args.slice(name.length + 1);
const runtime = stages[stages.length - 1];
const stageNamed = (name: string) => stages.find((s) => s.name === name);
const copies = (s: Stage | undefined) => s?.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args) ?? [];
/** A RUN's shell command without its flags (`--mount=...`). */
const shellOf = (run: Instruction) => run.args.replace(/^(--[\w-]+=\S+\s+)+/, '');
const runsOf = (s: Stage | undefined) => s?.instructions.filter((i) => i.keyword === 'RUN') ?? [];
const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('Dockerfile.inference', () => {
  it('is multi-stage from one pinned node:22 slim base, the same Node release the project tests on', () => {
    const base = argDefault(globalArgs, 'NODE_IMAGE') ?? '';
    expect(base).toMatch(/^node:22\.\d+\.\d+-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/);
    const nodeDevDependency = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string };
    expect(base).toContain(`node:${nodeDevDependency.version}-`);
    expect(stages.map((s) => s.name)).toEqual(['deps', 'build', 'runtime-deps', 'models', 'runtime']);
    const names = new Set(stages.map((s) => s.name));
    for (const stage of stages) expect(stage.from === '${NODE_IMAGE}' || names.has(stage.from), stage.from).toBe(true);
    expect(runtime?.from).toBe('${NODE_IMAGE}');
  });

  it('installs from the lockfile: production dependencies only for the image, all of them only to build the bundle', () => {
    const installs = stages.map((s) => [s.name, s.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args)).map((i) => i.args)]);
    expect(installs).toEqual([
      ['deps', [expect.stringMatching(/^npm ci --omit=dev --ignore-scripts /)]],
      ['build', [expect.stringMatching(/^npm ci --ignore-scripts /)]],
      ['runtime-deps', []],
      ['models', []],
      ['runtime', []],
    ]);
    // --ignore-scripts: npm ci would run the root `prepare` script, which needs the dev tools left out.
    // The runtime's node_modules are the deps stage's (target platform), pruned in runtime-deps, and nothing else;
    // from the build stage it takes dist/ only.
    expect(copies(stageNamed('runtime-deps'))).toEqual(['--from=deps /app/node_modules /runtime/node_modules']);
    expect(runsOf(stageNamed('runtime-deps')).map(shellOf)).toEqual(['node_modules/.bin/tsx bin/prune-runtime.ts /runtime/node_modules "$TARGETARCH"']);
    expect(copies(runtime).filter((c) => c.includes('node_modules'))).toEqual(['--from=runtime-deps /runtime/node_modules ./node_modules']);
    expect(copies(runtime).filter((c) => c.includes('--from=build'))).toEqual(['--from=build /app/dist ./dist']);
    // The production install runs on the target platform; bundling and compiling run natively on the builder's.
    expect(stageNamed('deps')?.platform).toBeUndefined();
    expect(runtime?.platform).toBeUndefined();
    expect(stageNamed('build')?.platform).toBe('$BUILDPLATFORM');
    expect(stageNamed('runtime-deps')?.from).toBe('build');
    expect(stageNamed('models')?.from).toBe('build');
  });

  it('builds the CLI bundle with the npm script `prepare` runs too, and the image runs nothing but the bundle', () => {
    const build = stageNamed('build');
    expect(build?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).at(-1)).toBe('npm run build:cli');
    expect(manifest.scripts['build:cli']).toBe('tsx bin/build-cli.ts');
    expect(manifest.scripts.prepare).toMatch(/npm run build:web && npm run build:cli$/);
    expect(copies(runtime)).not.toContain(expect.stringMatching(/\b(bin|services|tsconfig\.json)\b/));
    // No tsx anywhere at run time: every `node` command starts the bundle with the bundle's flags.
    const instructions = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN' || i.keyword === 'CMD').map((i) => i.args));
    const commands = instructions.flatMap((args) => [...args.matchAll(/\bnode\b[^;]*?blipline\.mjs/g)].map((m) => m[0]));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) expect([`node ${BUNDLE_NODE_FLAGS.join(' ')} dist/blipline.mjs`, `node", ${BUNDLE_NODE_FLAGS.map((f) => `"${f}"`).join(', ')}, "dist/blipline.mjs`]).toContain(command);
  });

  it('fetches and compiles both checkpoints by Hub id at build time with the project CLI, keeping only the compiled graphs', () => {
    const models = stages.find((s) => s.name === 'models');
    expect(argDefault(models?.instructions ?? [], 'CAPTION_MODEL')).toBe('Salesforce/blip-image-captioning-base');
    expect(argDefault(models?.instructions ?? [], 'VQA_MODEL')).toBe('Salesforce/blip-vqa-base');
    expect(argDefault(models?.instructions ?? [], 'PRECISION')).toBe('int8');
    const runs = runsOf(models).map((i) => i.args).join('\n');
    expect(runs).toContain('node --enable-source-maps --max-semi-space-size=2 dist/blipline.mjs prepare-model --model "$CAPTION_MODEL" --out /models/caption --precision "$PRECISION" --remove-weights');
    expect(runs).toContain('node --enable-source-maps --max-semi-space-size=2 dist/blipline.mjs prepare-model --model "$VQA_MODEL" --out /models/vqa --precision "$PRECISION" --remove-weights');
    expect(runtime?.instructions.some((i) => i.keyword === 'COPY' && /--from=models\b.*\/models \/models/.test(i.args))).toBe(true);
  });

  it('takes a Hub token only as the build secret hf_token, mounted for the downloads, never as an argument or a layer', () => {
    const all = stages.flatMap((s) => s.instructions);
    expect(all.filter((i) => i.keyword === 'ARG' || i.keyword === 'ENV').map((i) => i.args).join(' ')).not.toMatch(/TOKEN/i);
    const downloads = runsOf(stageNamed('models'));
    expect(downloads).toHaveLength(2);
    for (const run of downloads) {
      expect(run.args).toMatch(/^--mount=type=secret,id=hf_token /);
      // The token lives in the environment of the one command, read from the mounted secret.
      expect(shellOf(run)).toContain('HF_TOKEN="$(cat /run/secrets/hf_token 2>/dev/null || true)" node ');
    }
    expect(runsOf(runtime)).toEqual([]);
  });

  it('runs the worker as the non-root node user, in exec form, with the models it was built with', () => {
    const users = runtime?.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args) ?? [];
    expect(users).toEqual(['node']);
    const last = runtime?.instructions[runtime.instructions.length - 1];
    expect(last).toEqual({ keyword: 'CMD', args: '["node", "--enable-source-maps", "--max-semi-space-size=2", "dist/blipline.mjs", "worker"]' });
    const env = runtime?.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ') ?? '';
    expect(env).toContain('NODE_ENV=production');
    expect(env).toContain('BLIPLINE_MODEL=/models/caption');
    expect(env).toContain('BLIPLINE_CACHE_DIR=/models/graphs');
    // the environment the benchmark and `npm run load` give their bundles
    for (const [name, value] of Object.entries(BUNDLE_ENV)) expect(env).toContain(`${name}=${value}`);
  });

  it('has no HEALTHCHECK and says why', () => {
    expect(stages.flatMap((s) => s.instructions).some((i) => i.keyword === 'HEALTHCHECK')).toBe(false);
    expect(text).toMatch(/# No HEALTHCHECK: .*\n(#.*\n)*/);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('is an allowlist of what the image copies, with node_modules and web sources kept out', () => {
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    expect(allowed.sort()).toEqual(['.npmrc', 'bin', 'package-lock.json', 'package.json', 'services', 'tsconfig.json']);
    expect(lines).toContain('**/node_modules');
    expect(lines).toContain('services/web');
  });

  it('allows everything the Dockerfile copies from the context', () => {
    const copied = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .map((p) => p.replace(/\/$/, ''));
    const allowed = new Set(lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1)));
    for (const file of copied) expect(allowed.has(file), file).toBe(true);
  });
});

// What the build stage's `npm run build:cli` makes, in a scratch folder instead of dist/.
const bundle = await scratchCliBundle('dockerfile-test-');

describe('the image build step, run here with the fixture checkpoints', () => {
  const models = stages.find((s) => s.name === 'models');
  const runs = runsOf(models).map(shellOf);
  const work = mkdtempSync(path.join(tmpdir(), 'blipline-image-'));
  // The Dockerfile's own RUN commands, with the Hub ids swapped for the fixture folders (a local folder is used as
  // is), /models moved under a temporary directory and dist/ for the scratch bundle; no hf_token secret is mounted.
  const env = {
    ...process.env,
    CAPTION_MODEL: fixturePath('blip-tiny-captioning'),
    VQA_MODEL: fixturePath('blip-tiny-vqa'),
    PRECISION: argDefault(models?.instructions ?? [], 'PRECISION') ?? '',
    BLIPLINE_CACHE_DIR: path.join(work, 'graphs'),
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  };
  let prepared: { kind: string; dir: string; precision: string; graphs: string; removedWeights: string[] }[] = [];
  beforeAll(() => {
    const outputs = runs.map((command) =>
      execFileSync('bash', ['-ec', command.replaceAll('/models/', `${work}/`).replaceAll('dist/blipline.mjs', bundle.file)], { cwd: REPO_ROOT, env, encoding: 'utf8' }),
    );
    prepared = outputs.map((o) => JSON.parse(o.trim().split('\n').pop() ?? '{}') as (typeof prepared)[number]);
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const bundled = (args: string[], extraEnv: Record<string, string> = {}) =>
    spawnSync(process.execPath, [...BUNDLE_NODE_FLAGS, bundle.file, ...args], { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8' });

  it('uses only subcommands the blipline CLI has', () => {
    const used = [...text.matchAll(/dist\/blipline\.mjs"?,?\s*"?([a-z-]+)/g)].map((m) => m[1]);
    expect(new Set(used)).toEqual(new Set(['prepare-model', 'worker']));
    for (const name of used) expect(COMMANDS[name ?? ''], name).toBeDefined();
  });

  it("prepares both models exactly as the Dockerfile's RUN lines say, keeps no weights, and a second start reuses the graphs", () => {
    expect(prepared.map((p) => [p.kind, p.dir, p.precision, p.removedWeights])).toEqual([
      ['captioning', path.join(work, 'caption'), 'int8', ['model.safetensors']],
      ['vqa', path.join(work, 'vqa'), 'int8', ['model.safetensors']],
    ]);
    for (const p of prepared) {
      expect(p.graphs.startsWith(path.join(work, 'graphs'))).toBe(true);
      const files = readdirSync(p.dir);
      expect(files).toEqual(expect.arrayContaining(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', '.blipline-compiled.json']));
      expect(files.filter((f) => f.endsWith('.safetensors') || f.endsWith('.bin'))).toEqual([]);
    }
    // Only graphs of the configured precision were compiled.
    expect(readdirSync(path.join(work, 'graphs')).filter((d) => !d.endsWith('.json')).sort()).toEqual([path.basename(prepared[0]?.graphs ?? ''), path.basename(prepared[1]?.graphs ?? '')].sort());
    expect(prepared.every((p) => path.basename(p.graphs).includes('-int8-'))).toBe(true);

    // What a task does at start: load /models/caption with the same cache dir, compiling nothing.
    const again = bundled(['prepare-model', '--model', path.join(work, 'caption'), '--precision', 'int8']);
    expect(again.status, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout.trim()) as { graphs: string }).graphs).toBe(prepared[0]?.graphs);
    expect(again.stderr).toContain('"cacheHit":true');
    expect(again.stderr).not.toContain('compiling graphs');

    // Another precision would need the weights: one line that says so.
    const fp32 = bundled(['prepare-model', '--model', path.join(work, 'caption'), '--precision', 'fp32']);
    expect(fp32.status).toBe(1);
    expect(fp32.stderr.trim().split('\n').at(-1)).toMatch(/holds only compiled int8 graphs \(its weights were removed after compiling\)/);
  });

  it(`the runtime stage's contents (without the base image) fit ${mb(RUNTIME_CONTENTS_BUDGET_BYTES)}, and captioning runs from them`, async () => {
    // The runtime stage, assembled as its COPY lines say: node_modules (the production install, pruned as
    // runtime-deps does), package.json, dist/ (the bundle) and /models, in a folder of its own.
    const app = path.join(REPO_ROOT, '.cache/blipline', `image-app-${process.pid}`);
    rmSync(app, { recursive: true, force: true });
    mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    try {
      for (const dir of productionPackageDirs()) {
        mkdirSync(path.dirname(path.join(app, 'node_modules', dir)), { recursive: true });
        execFileSync('cp', ['-al', path.join(REPO_ROOT, 'node_modules', dir), path.join(app, 'node_modules', dir)]);
      }
      const arch = process.arch;
      if (!isTargetArch(arch)) throw new Error(`no onnxruntime-node build for ${arch}`);
      const removed = await pruneRuntimeNodeModules(path.join(app, 'node_modules'), arch);
      expect(removed).toEqual(expect.arrayContaining(['onnxruntime-web', 'tsx']));
      copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(app, 'package.json'));
      await buildBundle({ entry: CLI_ENTRY, outDir: path.join(app, 'dist'), name: 'blipline' });
      cpSync(work, path.join(app, 'models'), { recursive: true });

      // The worker's start-up path on these contents only: compiled graphs, pruned packages.
      const caption = spawnSync(process.execPath, [...BUNDLE_NODE_FLAGS, 'dist/blipline.mjs', 'caption', fixturePath('images', 'photo_coffee.jpg'), '--model', path.join(app, 'models/caption'), '--precision', 'int8', '--json'], {
        cwd: app,
        env: { ...env, BLIPLINE_CACHE_DIR: path.join(app, 'models/graphs'), BLIPLINE_PRECISION: 'int8' },
        encoding: 'utf8',
      });
      expect(caption.status, caption.stderr).toBe(0);
      expect(JSON.parse(caption.stdout.trim()) as { cacheHit: boolean; tokenIds: number[] }).toMatchObject({ cacheHit: true, tokenIds: expect.arrayContaining([30522]) });

      const sizes = { nodeModules: duBytes(path.join(app, 'node_modules')), dist: duBytes(path.join(app, 'dist')), models: duBytes(path.join(app, 'models')) };
      const total = sizes.nodeModules + sizes.dist + sizes.models + duBytes(path.join(app, 'package.json'));
      process.stdout.write(`runtime contents (fixture models): ${JSON.stringify(Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, mb(v)])))}\n`);
      expect(total).toBeLessThan(RUNTIME_CONTENTS_BUDGET_BYTES);
      // With BLIP-base captioning + VQA at int8, the base image and the same packages and bundle.
      const blipBase = blipBaseImageBytes(sizes.nodeModules + sizes.dist);
      process.stdout.write(`runtime image with BLIP-base int8 captioning + VQA: ${mb(blipBase)}\n`);
      expect(blipBase).toBeLessThan(IMAGE_GOAL_BYTES);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

/** Top-level package folders of the production install (what `npm ci --omit=dev` puts in node_modules). */
function productionPackageDirs(): string[] {
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const root = `${path.join(REPO_ROOT, 'node_modules')}${path.sep}`;
  const dirs = new Set<string>();
  for (const line of listed.split('\n')) {
    if (!line.startsWith(root)) continue;
    const [first = '', second = ''] = line.slice(root.length).split(path.sep);
    dirs.add(first.startsWith('@') ? `${first}/${second}` : first);
  }
  expect(dirs.size).toBeGreaterThan(50);
  return [...dirs];
}

/** Apparent size in bytes of a file or folder, as an image layer stores it. */
function duBytes(target: string): number {
  return Number(execFileSync('du', ['-sb', target], { encoding: 'utf8' }).split('\t')[0]);
}

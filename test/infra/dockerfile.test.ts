import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import { BUNDLE_ENV, BUNDLE_NODE_FLAGS } from '../../services/build/cli-bundle.js';
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
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
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
const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('Dockerfile.inference', () => {
  it('is multi-stage from one pinned node:22 slim base, the same Node release the project tests on', () => {
    const base = argDefault(globalArgs, 'NODE_IMAGE') ?? '';
    expect(base).toMatch(/^node:22\.\d+\.\d+-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/);
    const nodeDevDependency = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string };
    expect(base).toContain(`node:${nodeDevDependency.version}-`);
    expect(stages.map((s) => s.name)).toEqual(['deps', 'build', 'models', 'runtime']);
    const names = new Set(stages.map((s) => s.name));
    for (const stage of stages) expect(stage.from === '${NODE_IMAGE}' || names.has(stage.from), stage.from).toBe(true);
    expect(runtime?.from).toBe('${NODE_IMAGE}');
  });

  it('installs from the lockfile: production dependencies only for the image, all of them only to build the bundle', () => {
    const installs = stages.map((s) => [s.name, s.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args)).map((i) => i.args)]);
    expect(installs).toEqual([
      ['deps', [expect.stringMatching(/^npm ci --omit=dev --ignore-scripts /)]],
      ['build', [expect.stringMatching(/^npm ci --ignore-scripts /)]],
      ['models', []],
      ['runtime', []],
    ]);
    // --ignore-scripts: npm ci would run the root `prepare` script, which needs the dev tools left out.
    // The runtime's node_modules come from the deps stage and nowhere else; from the build stage it takes dist/ only.
    expect(copies(runtime).filter((c) => c.includes('node_modules'))).toEqual(['--from=deps /app/node_modules ./node_modules']);
    expect(copies(runtime).filter((c) => c.includes('--from=build'))).toEqual(['--from=build /app/dist ./dist']);
    expect(stageNamed('models')?.from).toBe('deps');
  });

  it('builds the CLI bundle with the npm script `prepare` runs too, and the image runs nothing but the bundle', () => {
    const build = stageNamed('build');
    expect(build?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).at(-1)).toBe('npm run build:cli');
    expect(manifest.scripts['build:cli']).toBe('tsx bin/build-cli.ts');
    expect(manifest.scripts.prepare).toMatch(/npm run build:web && npm run build:cli$/);
    expect(copies(stageNamed('models'))).toEqual(['--from=build /app/dist ./dist']);
    expect(copies(runtime)).not.toContain(expect.stringMatching(/\b(bin|services|tsconfig\.json)\b/));
    // No tsx anywhere at run time: every `node` command starts the bundle with the bundle's flags.
    const instructions = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN' || i.keyword === 'CMD').map((i) => i.args));
    const commands = instructions.flatMap((args) => [...args.matchAll(/\bnode\b[^;]*?blipline\.mjs/g)].map((m) => m[0]));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) expect([`node ${BUNDLE_NODE_FLAGS.join(' ')} dist/blipline.mjs`, `node", ${BUNDLE_NODE_FLAGS.map((f) => `"${f}"`).join(', ')}, "dist/blipline.mjs`]).toContain(command);
  });

  it('fetches and compiles both checkpoints by Hub id at build time with the project CLI', () => {
    const models = stages.find((s) => s.name === 'models');
    expect(argDefault(models?.instructions ?? [], 'CAPTION_MODEL')).toBe('Salesforce/blip-image-captioning-base');
    expect(argDefault(models?.instructions ?? [], 'VQA_MODEL')).toBe('Salesforce/blip-vqa-base');
    expect(argDefault(models?.instructions ?? [], 'PRECISION')).toBe('int8');
    const runs = models?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n') ?? '';
    expect(runs).toContain('node --enable-source-maps --max-semi-space-size=2 dist/blipline.mjs prepare-model --model "$CAPTION_MODEL" --out /models/caption --precision "$PRECISION"');
    expect(runs).toContain('node --enable-source-maps --max-semi-space-size=2 dist/blipline.mjs prepare-model --model "$VQA_MODEL" --out /models/vqa --precision "$PRECISION"');
    expect(runtime?.instructions.some((i) => i.keyword === 'COPY' && /--from=models\b.*\/models \/models/.test(i.args))).toBe(true);
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
  const runs = models?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args) ?? [];
  const work = mkdtempSync(path.join(tmpdir(), 'blipline-image-'));
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });
  it('uses only subcommands the blipline CLI has', () => {
    const used = [...text.matchAll(/dist\/blipline\.mjs"?,?\s*"?([a-z-]+)/g)].map((m) => m[1]);
    expect(new Set(used)).toEqual(new Set(['prepare-model', 'worker']));
    for (const name of used) expect(COMMANDS[name ?? ''], name).toBeDefined();
  });

  it("prepares both models exactly as the Dockerfile's RUN lines say, and a second start reuses the graphs", () => {
    // The Dockerfile's own RUN commands, with the Hub ids swapped for the fixture folders (a local
    // folder is used as is), /models moved under a temporary directory and dist/ for the scratch bundle.
    const env = {
      ...process.env,
      CAPTION_MODEL: fixturePath('blip-tiny-captioning'),
      VQA_MODEL: fixturePath('blip-tiny-vqa'),
      PRECISION: argDefault(models?.instructions ?? [], 'PRECISION') ?? '',
      BLIPLINE_CACHE_DIR: path.join(work, 'graphs'),
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    };
    const outputs = runs.map((command) =>
      execFileSync('bash', ['-ec', command.replaceAll('/models/', `${work}/`).replaceAll('dist/blipline.mjs', bundle.file)], { cwd: REPO_ROOT, env, encoding: 'utf8' }),
    );
    const prepared = outputs.map((o) => JSON.parse(o.trim().split('\n').pop() ?? '{}') as { kind: string; dir: string; precision: string; graphs: string });
    expect(prepared.map((p) => [p.kind, p.dir, p.precision])).toEqual([
      ['captioning', path.join(work, 'caption'), 'int8'],
      ['vqa', path.join(work, 'vqa'), 'int8'],
    ]);
    for (const p of prepared) expect(p.graphs.startsWith(path.join(work, 'graphs'))).toBe(true);

    // What a task does at start: load /models/caption with the same cache dir, compiling nothing.
    const again = spawnSync(process.execPath, [...BUNDLE_NODE_FLAGS, bundle.file, 'prepare-model', '--model', path.join(work, 'caption'), '--precision', 'int8'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
    });
    expect(again.status, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout.trim()) as { graphs: string }).graphs).toBe(prepared[0]?.graphs);
    expect(again.stderr).toContain('"cacheHit":true');
    expect(again.stderr).not.toContain('compiling graphs');
  });
});

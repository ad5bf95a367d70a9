import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import { COMMANDS } from '../../services/cli/commands.js';
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

describe('Dockerfile.inference', () => {
  it('is multi-stage from one pinned node:22 slim base, the same Node release the project tests on', () => {
    const base = argDefault(globalArgs, 'NODE_IMAGE') ?? '';
    expect(base).toMatch(/^node:22\.\d+\.\d+-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/);
    const nodeDevDependency = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string };
    expect(base).toContain(`node:${nodeDevDependency.version}-`);
    expect(stages.map((s) => s.name)).toEqual(['deps', 'models', 'runtime']);
    const names = new Set(stages.map((s) => s.name));
    for (const stage of stages) expect(stage.from === '${NODE_IMAGE}' || names.has(stage.from), stage.from).toBe(true);
    expect(runtime?.from).toBe('${NODE_IMAGE}');
  });

  it('installs production dependencies only, from the lockfile', () => {
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
    const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm ci --omit=dev --ignore-scripts/);
    // --ignore-scripts: npm ci would run the root `prepare` script, which needs the dev tools left out.
    // The runtime's node_modules come from that stage and nowhere else.
    const copies = runtime?.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args) ?? [];
    expect(copies.filter((c) => c.includes('node_modules'))).toEqual(['--from=deps /app/node_modules ./node_modules']);
  });

  it('fetches and compiles both checkpoints by Hub id at build time with the project CLI', () => {
    const models = stages.find((s) => s.name === 'models');
    expect(argDefault(models?.instructions ?? [], 'CAPTION_MODEL')).toBe('Salesforce/blip-image-captioning-base');
    expect(argDefault(models?.instructions ?? [], 'VQA_MODEL')).toBe('Salesforce/blip-vqa-base');
    expect(argDefault(models?.instructions ?? [], 'PRECISION')).toBe('int8');
    const runs = models?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n') ?? '';
    expect(runs).toContain('node bin/blipline.mjs prepare-model --model "$CAPTION_MODEL" --out /models/caption --precision "$PRECISION"');
    expect(runs).toContain('node bin/blipline.mjs prepare-model --model "$VQA_MODEL" --out /models/vqa --precision "$PRECISION"');
    expect(runtime?.instructions.some((i) => i.keyword === 'COPY' && /--from=models\b.*\/models \/models/.test(i.args))).toBe(true);
  });

  it('runs the worker as the non-root node user, in exec form, with the models it was built with', () => {
    const users = runtime?.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args) ?? [];
    expect(users).toEqual(['node']);
    const last = runtime?.instructions[runtime.instructions.length - 1];
    expect(last).toEqual({ keyword: 'CMD', args: '["node", "bin/blipline.mjs", "worker"]' });
    const env = runtime?.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ') ?? '';
    expect(env).toContain('NODE_ENV=production');
    expect(env).toContain('BLIPLINE_MODEL=/models/caption');
    expect(env).toContain('BLIPLINE_CACHE_DIR=/models/graphs');
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

describe('the image build step, run here with the fixture checkpoints', () => {
  const models = stages.find((s) => s.name === 'models');
  const runs = models?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args) ?? [];
  const work = mkdtempSync(path.join(tmpdir(), 'blipline-image-'));
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('uses only subcommands the blipline CLI has', () => {
    const used = [...text.matchAll(/bin\/blipline\.mjs"?,?\s*"?([a-z-]+)/g)].map((m) => m[1]);
    expect(new Set(used)).toEqual(new Set(['prepare-model', 'worker']));
    for (const name of used) expect(COMMANDS[name ?? ''], name).toBeDefined();
  });

  it("prepares both models exactly as the Dockerfile's RUN lines say, and a second start reuses the graphs", () => {
    // The Dockerfile's own RUN commands, with the Hub ids swapped for the fixture folders (a local
    // folder is used as is) and /models moved under a temporary directory.
    const env = {
      ...process.env,
      CAPTION_MODEL: fixturePath('blip-tiny-captioning'),
      VQA_MODEL: fixturePath('blip-tiny-vqa'),
      PRECISION: argDefault(models?.instructions ?? [], 'PRECISION') ?? '',
      BLIPLINE_CACHE_DIR: path.join(work, 'graphs'),
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    };
    const outputs = runs.map((command) =>
      execFileSync('bash', ['-ec', command.replaceAll('/models/', `${work}/`)], { cwd: REPO_ROOT, env, encoding: 'utf8' }),
    );
    const prepared = outputs.map((o) => JSON.parse(o.trim().split('\n').pop() ?? '{}') as { kind: string; dir: string; precision: string; graphs: string });
    expect(prepared.map((p) => [p.kind, p.dir, p.precision])).toEqual([
      ['captioning', path.join(work, 'caption'), 'int8'],
      ['vqa', path.join(work, 'vqa'), 'int8'],
    ]);
    for (const p of prepared) expect(p.graphs.startsWith(path.join(work, 'graphs'))).toBe(true);

    // What a task does at start: load /models/caption with the same cache dir, compiling nothing.
    const again = spawnSync(process.execPath, ['bin/blipline.mjs', 'prepare-model', '--model', path.join(work, 'caption'), '--precision', 'int8'], {
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

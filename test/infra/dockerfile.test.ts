import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';

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
    expect(installs[0]).toMatch(/npm ci --omit=dev/);
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

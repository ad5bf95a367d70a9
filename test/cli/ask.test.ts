import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runAsk } from '../../services/cli/ask.js';
import { captioningModelDir, fixturePath, repoRoot } from '../support/fixtures.js';
import { vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// `blipline ask` end to end through the real entry point, as `npx blipline ask` runs it.

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-cli-ask-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function blipline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/node'), ['bin/blipline.mjs', ...args], {
      cwd: repoRoot,
      env: { ...process.env, BLIPLINE_CACHE_DIR: path.join(scratch, 'graphs'), LOG_LEVEL: 'warn', BLIPLINE_VQA_MODEL: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Runs the command in this process (no interpreter start-up), capturing what it prints. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  vi.stubEnv('BLIPLINE_CACHE_DIR', path.join(scratch, 'graphs'));
  try {
    const code = await runAsk(args.slice(1));
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    vi.unstubAllEnvs();
  }
}

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
const cases = vqaReference();

describe('blipline ask', () => {
  it('--pixel-values --beams 3 --json answers every image with the reference beam ids', async () => {
    const question = 'How many dogs are there?';
    const asked = cases.filter((c) => c.question === question);
    const pixels = asked.map((c) => fixturePath('pixel_values', `${c.image}.f32`));
    const run = await blipline([
      'ask', ...pixels.flatMap((p) => ['--pixel-values', p]), '--question', question,
      '--model', vqaModelDir, '--beams', '3', '--max-new-tokens', '10', '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => [l.image, l.question, l.tokenIds])).toEqual(asked.map((c, i) => [pixels[i], question, c.beam3.output_ids]));
    expect(lines[0]?.timingsMs).toEqual(expect.objectContaining({ question: expect.any(Number), decode: expect.any(Number) }));
  });

  it('answers an image file greedily as plain text', async () => {
    const testCase = cases.find((c) => c.image === 'photo_chelsea.jpg' && c.question === 'what is the person doing?')!;
    const run = await inProcess(['ask', fixturePath('images', testCase.image), '--question', testCase.question, '--model', vqaModelDir, '--max-new-tokens', '10']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${testCase.greedy.text}\n`);
  });

  it.each([
    ['a captioning checkpoint', ['--model', captioningModelDir, '--question', 'what?'], 1, 'is a captioning checkpoint (BlipForConditionalGeneration); this needs a vqa checkpoint'],
    ['an empty question', ['--model', vqaModelDir, '--question', ' '], 2, 'the question is empty'],
    ['a missing image', ['--model', vqaModelDir, '--question', 'what?', 'missing.jpg'], 1, 'missing.jpg: no such file'],
  ])('fails on %s with one line and a non-zero exit', async (_what, args, code, message) => {
    const image = args.includes('missing.jpg') ? [] : [fixturePath('images/photo_chelsea.jpg')];
    const run = await inProcess(['ask', ...image, ...args]);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });
});

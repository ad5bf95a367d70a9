import { describe, expect, it } from 'vitest';
import { type CliRun, runNode } from '../support/cli.js';

// `npm run bench`, `npm run load` and bin/measure-batching.ts answer bad arguments with the reason and their usage (exit 2),
// before measuring anything; --help prints the usage alone.

const tool = (script: string, args: string[]): Promise<CliRun> => runNode(['--import', 'tsx', script, ...args]);

describe('benchmark and load tool arguments', () => {
  it.each([
    ['bin/bench.ts', ['--bogus'], /^bench: Unknown option '--bogus'/],
    ['bin/bench.ts', ['--precision', 'fp16'], /^bench: .*expected one of "fp32"\|"int8".*precisions/],
    ['bin/bench.ts', ['--runs', '0'], /^bench: .*>=1.*runs/],
    ['bin/bench.ts', ['--kernels', 'avx512'], /^bench: .*kernels/],
    ['bin/bench.ts', ['--profile-step', '--rows', '0'], /^bench: .*>=1.*rows/],
    ['bin/load.ts', ['--images', '0'], /^load: .*images/],
    ['bin/measure-batching.ts', ['--threads', 'two'], /^measure-batching: .*threads/],
  ])('%s %s', async (script, args, reason) => {
    const run = await tool(script, args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, usage] = run.stderr.trim().split('\n');
    expect(first).toMatch(reason);
    expect(usage).toMatch(/^usage: (npm run (bench|load) --|npx tsx bin\/measure-batching\.ts)/);
  });

  it('prints the usage for --help and exits 0', async () => {
    const run = await tool('bin/bench.ts', ['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run bench -- \[options\]\n(.*\n)*  --kernels avx2 /);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliInputError, CliUsageError, reportCliError } from '../../services/cli/errors.js';
import { ConfigError } from '../../services/core/errors.js';
import { type CliRun, runCli } from '../support/cli.js';
import { captioningModelDir, fixturePath } from '../support/fixtures.js';

// One error hierarchy, one reporter: usage errors exit 2, runtime failures exit 1, always one stderr line.

const blipline = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runCli(args, { LOG_LEVEL: 'warn', ...env });

describe('blipline exit codes and error lines', () => {
  it.each([
    ['an unknown command', ['paint'], {}, 2, /^blipline: unknown command "paint"/],
    ['a malformed flag', ['caption', 'x.jpg', '--beams', 'two'], {}, 2, /^blipline caption: --beams must be a whole number/],
    ['a usage error of ask', ['ask', 'x.jpg'], {}, 2, /^blipline ask: --question is required/],
    ['a usage error of the candidate flags', ['caption', 'x.jpg', '--rerank'], {}, 2, /^blipline caption: --rerank needs --candidates N/],
    ['a missing file', ['caption', 'missing.jpg', '--model', captioningModelDir], {}, 1, /^blipline caption: missing\.jpg: no such file/],
    ['an invalid LOG_LEVEL', ['caption', '--pixel-values', fixturePath('pixel_values/photo_chelsea.jpg.f32'), '--model', captioningModelDir], { LOG_LEVEL: 'loud' }, 1, /^blipline caption: invalid environment: LOG_LEVEL: must be one of/],
    ['arguments to worker', ['worker', 'extra'], {}, 2, /^blipline worker: unexpected arguments: extra/],
  ])('%s', async (_what, args, env, code, line) => {
    const run = await blipline(args, env);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(line);
  });
});

describe('reportCliError', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  function report(command: string, error: unknown): { code: number; stderr: string } {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    const code = reportCliError(command, error);
    vi.restoreAllMocks();
    return { code, stderr: err.join('') };
  }

  it('maps the hierarchy to exit codes with one line each', () => {
    expect(report('caption', new CliUsageError('no image given'))).toEqual({ code: 2, stderr: 'blipline caption: no image given\n' });
    expect(report('caption', new CliInputError('a.jpg: no such file'))).toEqual({ code: 1, stderr: 'blipline caption: a.jpg: no such file\n' });
    expect(report('dev', new ConfigError(['BLIPLINE_PRECISION: must be fp32 or int8', 'PORT: must be a port number']))).toEqual({
      code: 1,
      stderr: 'blipline dev: invalid environment: BLIPLINE_PRECISION: must be fp32 or int8; PORT: must be a port number\n',
    });
  });

  it('prints an unexpected error in one line, with its stack only at LOG_LEVEL=debug', () => {
    vi.stubEnv('LOG_LEVEL', 'warn');
    const quiet = report('ask', new TypeError('boom\nsecond line'));
    expect(quiet).toEqual({ code: 1, stderr: 'blipline ask: unexpected error: boom second line\n' });
    vi.stubEnv('LOG_LEVEL', 'debug');
    const loud = report('ask', new TypeError('boom'));
    expect(loud.code).toBe(1);
    expect(loud.stderr.split('\n')[0]).toBe('blipline ask: unexpected error: boom');
    expect(loud.stderr).toMatch(/\n {4}at /);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, vi } from 'vitest';
import { repoRoot } from './fixtures.js';

/** Runs `blipline` subcommands in tests, each test file with its own scratch graph cache. */

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A subcommand's entry (`runCaption`, `runAsk`, ...): arguments after the subcommand name -> exit code. */
export type CliCommand = (argv: string[]) => Promise<number>;

export interface ScratchCli {
  /** The scratch folder, removed after the test file. */
  readonly dir: string;
  /** `<dir>/graphs`: the compiled-graph cache (BLIPLINE_CACHE_DIR) of every run. */
  readonly cacheDir: string;
  /** Runs the real CLI entry point in a child process, as `npx blipline` does (LOG_LEVEL warn). */
  run(args: string[], env?: Record<string, string>): Promise<CliRun>;
  /** Runs a subcommand in this process (no interpreter start-up), capturing what it prints. */
  inProcess(command: CliCommand, argv: string[]): Promise<CliRun>;
}

/**
 * Makes a scratch folder named `<prefix>XXXXXX` in the system temp folder (removed by `afterAll`)
 * and returns runners whose graph cache lives in it. `env` is added to every child process run.
 */
export async function scratchCli(prefix: string, env: Record<string, string> = {}): Promise<ScratchCli> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const cacheDir = path.join(dir, 'graphs');
  return {
    dir,
    cacheDir,
    run: (args, extra = {}) => runCli(args, { BLIPLINE_CACHE_DIR: cacheDir, LOG_LEVEL: 'warn', ...env, ...extra }),
    inProcess: (command, argv) => runInProcess(command, argv, cacheDir),
  };
}

/** Runs `bin/blipline.mjs` under the project's Node with `env` added to this process's environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runNode(['bin/blipline.mjs', ...args], env);
}

/** Runs the project's Node with `args` in the repository root, `env` added to this process's environment. */
export async function runNode(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/node'), args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliRun;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Runs `command(argv)` in this process with BLIPLINE_CACHE_DIR set to `cacheDir`, capturing stdout and stderr. */
export async function runInProcess(command: CliCommand, argv: string[], cacheDir: string): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  vi.stubEnv('BLIPLINE_CACHE_DIR', cacheDir);
  try {
    const code = await command(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    vi.unstubAllEnvs();
  }
}

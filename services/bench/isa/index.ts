// Runs the benchmark and the load run on the kernels of issue 4's reference machines (AVX2 only, no
// AVX-512, VNNI or AMX) on hosts that have more: ONNX Runtime picks its kernels from CPUID when it
// loads, so avx2-only.c, preloaded, hides the wider features from the whole process.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const KERNEL_SETS = ['native', 'avx2'] as const;
export type KernelSet = (typeof KERNEL_SETS)[number];

/** How this host can run AVX2 kernels: as they are, with the wider features hidden, or not at all. */
export type Avx2Kernels = { kind: 'native' } | { kind: 'emulated'; preload: string } | { kind: 'unavailable'; reason: string };

const SHIM_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'avx2-only.c');
/** CPU flags whose kernels MLAS prefers to its AVX2 ones. */
const WIDER_THAN_AVX2 = ['avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'];
/** Set in the re-run process, so that it does not re-run itself. */
const RERUN_MARKER = 'BLIPLINE_BENCH_KERNELS';

function cpuFlags(): Set<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return new Set();
  const flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((line) => line.startsWith('flags'));
  return new Set(flags?.split(':')[1]?.trim().split(/\s+/) ?? []);
}

/** Compiles the shim once per source version into `cacheDir/isa/` (needs a C compiler: `cc`, or `$CC`). */
function compileShim(cacheDir: string): string {
  const source = readFileSync(SHIM_SOURCE);
  const dir = path.join(cacheDir, 'isa');
  const library = path.join(dir, `avx2-only-${createHash('sha256').update(source).digest('hex').slice(0, 12)}.so`);
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  const partial = `${library}.${process.pid}.tmp`;
  const compiler = process.env.CC ?? 'cc';
  try {
    execFileSync(compiler, ['-O2', '-Wall', '-shared', '-fPIC', '-o', partial, SHIM_SOURCE, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`compiling ${path.basename(SHIM_SOURCE)} with ${compiler} failed${stderr ? `: ${stderr}` : ''}`);
  }
  renameSync(partial, library);
  return library;
}

export function avx2Kernels(cacheDir: string): Avx2Kernels {
  const flags = cpuFlags();
  if (!flags.has('avx2')) return { kind: 'unavailable', reason: 'this host is not an x86-64 Linux machine with AVX2' };
  if (!WIDER_THAN_AVX2.some((flag) => flags.has(flag))) return { kind: 'native' };
  if (!flags.has('cpuid_fault')) {
    return { kind: 'unavailable', reason: 'this CPU has AVX-512, VNNI or AMX and no CPUID faulting (cpuid_fault) to hide them' };
  }
  return { kind: 'emulated', preload: compileShim(cacheDir) };
}

/** `env` with `library` preloaded ahead of whatever it preloads already. */
export function preloadEnv(env: NodeJS.ProcessEnv, library: string): NodeJS.ProcessEnv {
  return { ...env, LD_PRELOAD: [library, env.LD_PRELOAD].filter(Boolean).join(':') };
}

/** The kernel set this process was re-run for (see `runOnKernels`), or `native`. */
export function activeKernels(): KernelSet {
  return z.enum(KERNEL_SETS).default('native').parse(process.env[RERUN_MARKER]);
}

/**
 * Makes this command run on `kernels`. Resolves `undefined` when this process already does (go on),
 * or else with the exit code of the same command re-run with the shim preloaded (exit with it).
 * Throws when the host cannot run AVX2 kernels.
 */
export async function runOnKernels(kernels: KernelSet, cacheDir: string): Promise<number | undefined> {
  if (kernels === 'native' || activeKernels() === kernels) return undefined;
  const avx2 = avx2Kernels(cacheDir);
  if (avx2.kind === 'unavailable') throw new Error(`cannot run on AVX2 kernels: ${avx2.reason}`);
  if (avx2.kind === 'native') return undefined;
  const env = { ...preloadEnv(process.env, avx2.preload), [RERUN_MARKER]: kernels };
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

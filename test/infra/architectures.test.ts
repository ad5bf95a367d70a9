import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import { ONNXRUNTIME_ARCH, UNUSED_RUNTIME_PACKAGES } from '../../services/build/runtime-prune.js';

/**
 * `-c workerArchitecture=arm64` (Graviton) and the default x86_64 build the same Dockerfile with
 * `--platform linux/<arch>`: the deps stage runs `npm ci --omit=dev` as the target platform, so npm picks each
 * native package's build for that CPU from the lockfile. These tests check that the lockfile has a linux build of
 * every native dependency for both CPUs (glibc: the image is Debian bookworm), whichever machine wrote it.
 */
interface LockEntry {
  version?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  cpu?: string[];
  os?: string[];
  libc?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
const entry = (name: string): LockEntry | undefined => lock.packages[`node_modules/${name}`];
const CPUS = ['x64', 'arm64'] as const;

/** Native packages the runtime stage loads, per CPU: the package that depends on them and their names. */
const RUNTIME_NATIVE = {
  sharp: (cpu: string) => [`@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`],
} as const;
/** The build stage (the builder's own platform) needs esbuild's binary for the CLI bundle. */
const BUILD_NATIVE = {
  esbuild: (cpu: string) => [`@esbuild/linux-${cpu}`],
} as const;

function expectLinuxBuild(parent: string, name: string, cpu: string): void {
  const wanted = entry(parent)?.optionalDependencies?.[name];
  expect(wanted, `${parent} lists ${name}`).toBeDefined();
  const pkg = entry(name);
  expect(pkg, `package-lock.json has ${name}`).toBeDefined();
  expect(pkg?.version, name).toBe(wanted);
  expect(pkg?.os, name).toEqual(['linux']);
  expect(pkg?.cpu, name).toEqual([cpu]);
  if (pkg?.libc !== undefined) expect(pkg.libc, name).toEqual(['glibc']);
  // npm ci fetches exactly this build on the target (the registry comes from the npm configuration).
  expect(pkg?.integrity, name).toMatch(/^sha512-/);
}

describe('package-lock.json: linux builds of every native dependency for x86_64 and arm64', () => {
  it('is a lockfile npm ci reads with every package of every platform (lockfileVersion 3)', () => {
    expect(lock.lockfileVersion).toBe(3);
  });

  for (const cpu of CPUS) {
    it(`runtime stage, ${cpu}: sharp's linux-${cpu} (glibc) binaries at the versions sharp asks for`, () => {
      for (const [parent, names] of Object.entries(RUNTIME_NATIVE)) {
        expect(entry(parent)?.dev, `${parent} is a production dependency`).not.toBe(true);
        for (const name of names(cpu)) expectLinuxBuild(parent, name, cpu);
      }
    });

    it(`build stage, ${cpu}: esbuild's linux-${cpu} binary`, () => {
      for (const [parent, names] of Object.entries(BUILD_NATIVE)) for (const name of names(cpu)) expectLinuxBuild(parent, name, cpu);
    });
  }

  it('onnxruntime-node is one package with both linux builds inside; the image keeps the target one (runtime-prune.ts)', () => {
    const version = entry('onnxruntime-node')?.version;
    const installed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(version);
    const bin = path.join(REPO_ROOT, 'node_modules/onnxruntime-node/bin');
    const napi = readdirSync(bin);
    expect(napi.length).toBeGreaterThan(0);
    for (const dir of napi) {
      for (const cpu of CPUS) {
        for (const file of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) expect(existsSync(path.join(bin, dir, 'linux', cpu, file)), `${dir}/linux/${cpu}/${file}`).toBe(true);
      }
    }
    // Docker's TARGETARCH names map onto those folders.
    expect(ONNXRUNTIME_ARCH.amd64).toBe('x64');
    expect(ONNXRUNTIME_ARCH.arm64).toBe('arm64');
  });

  it('has no other production package with a CPU- or OS-specific build the runtime could miss', () => {
    const known = new Set<string>([...Object.values(RUNTIME_NATIVE).flatMap((f) => CPUS.flatMap((cpu) => f(cpu))), ...Object.values(BUILD_NATIVE).flatMap((f) => CPUS.flatMap((cpu) => f(cpu)))]);
    const linuxGlibc = Object.entries(lock.packages)
      .filter(([key, pkg]) => key.startsWith('node_modules/') && pkg.dev !== true && (pkg.os?.includes('linux') ?? false) && (pkg.libc === undefined || pkg.libc.includes('glibc')))
      .filter(([, pkg]) => pkg.cpu?.some((cpu) => (CPUS as readonly string[]).includes(cpu)))
      .map(([key]) => key.slice('node_modules/'.length));
    expect(linuxGlibc.length).toBeGreaterThan(0);
    for (const name of linuxGlibc) expect(known.has(name) || UNUSED_RUNTIME_PACKAGES.some((p) => name === p || name.startsWith(`${p}/`)), name).toBe(true);
  });
});

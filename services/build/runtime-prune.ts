import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * What the worker image's production node_modules carry that the worker never loads, and the pass that removes
 * it (Dockerfile.inference, stage runtime-deps; measured in test/infra/image-size.test.ts).
 *
 * - Packages no runtime code imports: onnxruntime-web (a dependency of @huggingface/transformers, whose Node
 *   build imports onnxruntime-node and carries its own copy of the web runtime's glue), and tsx with its
 *   esbuild (the image runs the prebuilt bundle on plain Node), and type declarations.
 * - onnxruntime-node's binaries for other systems and the other CPU architecture: the package ships macOS,
 *   Windows and both Linux builds (about 290 MB); the task needs `bin/napi-v*` + `linux/<arch>` only.
 */
export const UNUSED_RUNTIME_PACKAGES = ['onnxruntime-web', 'tsx', 'esbuild', '@esbuild', '@types'] as const;

/** Docker's TARGETARCH (or Node's `process.arch`) to onnxruntime-node's folder name. */
export const ONNXRUNTIME_ARCH = { amd64: 'x64', x64: 'x64', arm64: 'arm64' } as const;
export type TargetArch = keyof typeof ONNXRUNTIME_ARCH;

export function isTargetArch(value: string): value is TargetArch {
  return Object.hasOwn(ONNXRUNTIME_ARCH, value);
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Removes what the worker never loads from `nodeModules`; returns the removed paths, relative to it. */
export async function pruneRuntimeNodeModules(nodeModules: string, arch: TargetArch): Promise<string[]> {
  if (!(await isDir(path.join(nodeModules, 'onnxruntime-node')))) {
    throw new Error(`${nodeModules} has no onnxruntime-node: not the worker's production node_modules`);
  }
  const removed: string[] = [];
  const remove = async (relative: string) => {
    await rm(path.join(nodeModules, relative), { recursive: true, force: true });
    removed.push(relative);
  };
  for (const name of UNUSED_RUNTIME_PACKAGES) {
    if (await isDir(path.join(nodeModules, name))) await remove(name);
  }
  const keepArch = ONNXRUNTIME_ARCH[arch];
  const binRoot = path.join('onnxruntime-node', 'bin');
  let kept = 0;
  for (const napi of await readdir(path.join(nodeModules, binRoot))) {
    for (const system of await readdir(path.join(nodeModules, binRoot, napi))) {
      const systemDir = path.join(binRoot, napi, system);
      if (system !== 'linux') {
        await remove(systemDir);
        continue;
      }
      for (const cpu of await readdir(path.join(nodeModules, systemDir))) {
        if (cpu === keepArch) kept += 1;
        else await remove(path.join(systemDir, cpu));
      }
    }
  }
  if (kept === 0) throw new Error(`onnxruntime-node in ${nodeModules} has no linux/${keepArch} build: the worker could not load it`);
  return removed;
}

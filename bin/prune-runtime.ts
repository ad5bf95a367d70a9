// Dockerfile.inference (stage runtime-deps): `tsx bin/prune-runtime.ts NODE_MODULES TARGETARCH` removes from the
// worker's production node_modules what it never loads (services/build/runtime-prune.ts).
import { isTargetArch, pruneRuntimeNodeModules } from '../services/build/runtime-prune.js';

const [nodeModules, arch] = process.argv.slice(2);
if (nodeModules === undefined || arch === undefined || !isTargetArch(arch)) {
  process.stderr.write('usage: tsx bin/prune-runtime.ts NODE_MODULES amd64|arm64\n');
  process.exit(2);
}
const removed = await pruneRuntimeNodeModules(nodeModules, arch);
process.stdout.write(`removed ${removed.length} paths from ${nodeModules}: ${removed.join(', ')}\n`);

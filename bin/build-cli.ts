// `npm run build:cli`: bundles the blipline CLI into dist/blipline.mjs (+ dist/chunks/), which the
// worker image runs as `node --enable-source-maps --max-semi-space-size=2 dist/blipline.mjs worker`.
import path from 'node:path';
import { bundle, CLI_ENTRY, CLI_OUT_DIR } from '../services/build/cli-bundle.js';

const { file, metafile } = await bundle({ entry: CLI_ENTRY, outDir: CLI_OUT_DIR, name: 'blipline' });
const chunks = Object.keys(metafile.outputs).filter((output) => output.endsWith('.mjs')).length - 1;
process.stdout.write(`${path.relative(process.cwd(), file)} (+ ${chunks} chunks)\n`);

import { loadBlip } from '../blip/index.js';
import { createLogger } from '../core/logger.js';
import { cliCommand, CliInputError } from './errors.js';
import { readSources, toImageInputs } from './image-inputs.js';
import { parseScoreArgs, SCORE_USAGE } from './task-args.js';

/**
 * `blipline score IMAGE --text TEXT...`: image-text matching with a BlipForImageTextRetrieval
 * checkpoint (--model, else Salesforce/blip-itm-base-coco). Prints per text the ITM match
 * probability, the ITC cosine and the text; with --json one object per text and line:
 * `{"image", "text", "itmLogits": [noMatch, match], "itmProbability", "itcCosine"}`.
 */
export const runScore = cliCommand('score', async (argv: string[]): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${SCORE_USAGE}\n`);
    return 0;
  }
  const args = parseScoreArgs(argv);
  const read = await readSources([args.image]);
  const model = await loadBlip({
    model: args.model,
    kind: 'retrieval',
    ...(args.precision ? { precision: args.precision } : {}),
    ...(args.threads ? { threads: args.threads } : {}),
    logger: createLogger({ name: 'blipline-cli', destination: process.stderr, defaultLevel: 'warn' }),
  });
  try {
    const [image] = await toImageInputs(read, model.startup.modelDir);
    if (!image) throw new CliInputError('no image given');
    const scores = await model.score(image, args.texts);
    for (const score of scores) {
      if (args.json) {
        const { text, itmLogits, itmProbability, itcCosine, truncated } = score;
        const line = { image: args.image.path, text, itmLogits, itmProbability, itcCosine, ...(truncated ? { truncated } : {}) };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } else {
        process.stdout.write(`match ${score.itmProbability.toFixed(4)}  cosine ${score.itcCosine.toFixed(4)}  ${score.text}\n`);
      }
    }
    return 0;
  } finally {
    await model.dispose();
  }
});

import { loadBlip } from '../blip/index.js';
import { createLogger } from '../core/logger.js';
import { cliCommand } from './errors.js';
import { readSources, toImageInputs } from './image-inputs.js';
import { ASK_USAGE, parseAskArgs } from './task-args.js';

/**
 * `blipline ask IMAGE... --question TEXT`: visual question answering with a BlipForQuestionAnswering
 * checkpoint (--model, else BLIPLINE_VQA_MODEL, else Salesforce/blip-vqa-base). Prints the answer
 * (`IMAGE: answer` for several images); with --json one object per image and line:
 * `{"image", "question", "text", "tokenIds", "timingsMs", "cacheHit"}`.
 */
export const runAsk = cliCommand('ask', async (argv: string[]): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${ASK_USAGE}\n`);
    return 0;
  }
  const args = parseAskArgs(argv);
  const read = await readSources(args.images);
  const loadStarted = performance.now();
  const model = await loadBlip({
    model: args.model,
    kind: 'vqa',
    ...(args.precision ? { precision: args.precision } : {}),
    ...(args.threads ? { threads: args.threads } : {}),
    logger: createLogger({ name: 'blipline-cli', destination: process.stderr, defaultLevel: 'warn' }),
  });
  const loadMs = performance.now() - loadStarted;
  try {
    const images = await toImageInputs(read, model.startup.modelDir);
    const results = await model.ask(images, args.question, {
      ...(args.beams ? { beams: args.beams } : {}),
      ...(args.maxNewTokens ? { maxNewTokens: args.maxNewTokens } : {}),
    });
    if (results[0]?.truncated && !args.json) process.stderr.write('blipline ask: note: the question was truncated to the model\'s token limit\n');
    results.forEach((result, index) => {
      const image = args.images[index]?.path ?? '';
      if (args.json) {
        const timingsMs = { ...result.timingsMs, load: loadMs, compile: model.startup.compileMs };
        const line = {
          image,
          question: args.question,
          text: result.text,
          tokenIds: result.tokenIds,
          timingsMs,
          cacheHit: model.startup.cacheHit,
          ...(result.truncated ? { truncated: true } : {}),
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } else {
        process.stdout.write(results.length === 1 ? `${result.text}\n` : `${image}: ${result.text}\n`);
      }
    });
    return 0;
  } finally {
    await model.dispose();
  }
});

import { runWorker as run } from '../worker/main.js';
import { cliCommand, CliUsageError } from './errors.js';

/** `blipline worker`: the SQS consumer (configured from the environment; see services/worker/README.md). */
export const runWorker = cliCommand('worker', async (argv: string[]): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: blipline worker\n\nConsumes the queue with the models from BLIPLINE_MODEL (and BLIPLINE_VQA_MODEL); configuration from the environment. SIGTERM finishes the job in hand and exits 0.\n');
    return 0;
  }
  if (argv.length > 0) {
    throw new CliUsageError(`unexpected arguments: ${argv.join(' ')} (configuration comes from the environment)`);
  }
  return run();
});

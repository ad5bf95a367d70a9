import { ConfigError } from '../core/errors.js';
import { runWorker as run } from '../worker/main.js';

/** `blipline worker`: the SQS consumer (configured from the environment; see services/worker/README.md). */
export async function runWorker(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: blipline worker\n\nConsumes the queue with the models from BLIPLINE_MODEL (and BLIPLINE_VQA_MODEL); configuration from the environment. SIGTERM finishes the job in hand and exits 0.\n');
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`blipline worker: unexpected arguments: ${argv.join(' ')} (configuration comes from the environment)\n`);
    return 2;
  }
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`blipline worker: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`blipline worker: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

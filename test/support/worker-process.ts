import { spawnWorker as spawn, type WorkerProcess, type WorkerProcessOptions } from '../../services/load/worker-process.js';
import { fixturePath } from './fixtures.js';

/**
 * `blipline worker` as a real child process on the tiny fixture models (implementation in
 * services/load/worker-process.ts, shared with `npm run load`): ready/exit promises, SIGKILL/SIGTERM,
 * its log lines, its `Inferences` EMF metric and its peak RSS.
 */
export { WorkerProcess, type ExitInfo, type WorkerLine } from '../../services/load/worker-process.js';

export const CAPTIONING_FIXTURE = fixturePath('blip-tiny-captioning');
export const VQA_FIXTURE = fixturePath('blip-tiny-vqa');

/** Starts a worker child on the stack's env; the captioning fixture by default, VQA only when `vqaModel` is given. */
export function spawnWorker(options: Omit<WorkerProcessOptions, 'model'> & { model?: string }): WorkerProcess {
  return spawn({ ...options, model: options.model ?? CAPTIONING_FIXTURE });
}

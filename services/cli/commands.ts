/**
 * The `blipline` subcommands. Each lives in its own file and exports `(argv) => Promise<exitCode>`;
 * it is imported only when run, so one command's dependencies never slow another's start.
 */
export type Command = (argv: string[]) => Promise<number>;

export interface CommandEntry {
  readonly summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  caption: { summary: 'caption images', load: async () => (await import('./caption.js')).runCaption },
  ask: { summary: 'answer a question about images (VQA)', load: async () => (await import('./ask.js')).runAsk },
  preprocess: {
    summary: "write images' model inputs as raw float32 tensors",
    load: async () => (await import('./preprocess.js')).runPreprocess,
  },
  score: { summary: 'score how well texts match an image (ITM/ITC)', load: async () => (await import('./score.js')).runScore },
  'prepare-model': {
    summary: 'fetch a checkpoint and compile its graphs ahead of time',
    load: async () => (await import('./prepare-model.js')).runPrepareModel,
  },
  dev: { summary: 'run the whole system locally', load: async () => (await import('./dev.js')).runDev },
  worker: { summary: 'consume the job queue', load: async () => (await import('./worker.js')).runWorker },
};

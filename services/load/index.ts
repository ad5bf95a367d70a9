export { runLoad, percentile, type LoadOptions, type LoadReport, type HttpReport } from './run.js';
export { makeLoadImages, type LoadImage } from './images.js';
export { spawnWorker, WorkerProcess, type WorkerProcessOptions, type WorkerLine, type ExitInfo } from './worker-process.js';

import type { DownloadProgress } from '../blip/index.js';

/**
 * Download progress on stderr: a line redrawn in place on a terminal, otherwise one line per file
 * when it completes (so logs stay readable).
 */
export function downloadProgressReporter(stream: NodeJS.WriteStream = process.stderr): (progress: DownloadProgress) => void {
  const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);
  let current = '';
  return ({ file, loaded, total }) => {
    const done = total !== undefined && loaded >= total;
    const amount = total ? `${megabytes(loaded)}/${megabytes(total)} MB (${Math.floor((100 * loaded) / total)}%)` : `${megabytes(loaded)} MB`;
    if (stream.isTTY) {
      stream.write(`\rdownloading ${file}: ${amount}${done ? '\n' : ''}`);
    } else if (done && current !== file) {
      stream.write(`downloaded ${file}: ${amount}\n`);
    }
    if (done) current = file;
  };
}

/**
 * Browser-direct upload to S3 with XMLHttpRequest (fetch has no upload progress events), for both
 * shapes the API hands out: a presigned PUT (signed headers) or a presigned POST (policy fields).
 */
import { TransferError } from '../errors.js';
import type { PresignedUpload } from '../api/schemas.js';
import { classifyS3Failure, describeS3Failure, parseS3Error } from './s3-errors.js';

/** Headers the browser sets itself and refuses from scripts (Content-Length is still what was signed). */
const FORBIDDEN = new Set(['content-length', 'host', 'connection', 'accept-encoding', 'expect']);

export type ProgressListener = (loaded: number, total: number) => void;

export function transfer(
  upload: PresignedUpload,
  file: Blob,
  contentType: string,
  onProgress: ProgressListener,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    let body: Blob | FormData;
    if (upload.method === 'PUT') {
      let typeSet = false;
      for (const [name, value] of Object.entries(upload.headers ?? {})) {
        if (FORBIDDEN.has(name.toLowerCase())) continue;
        if (name.toLowerCase() === 'content-type') typeSet = true;
        xhr.setRequestHeader(name, String(value));
      }
      if (!typeSet) xhr.setRequestHeader('Content-Type', contentType);
      body = file;
    } else {
      const form = new FormData();
      for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
      // S3 reads every field before `file`; the file must come last.
      form.append('file', file);
      body = form;
    }

    const onAbort = (): void => xhr.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal.removeEventListener('abort', onAbort);

    xhr.upload.addEventListener('progress', (event) => {
      onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener('load', () => {
      settle();
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
        return;
      }
      const doc = parseS3Error(xhr.responseText);
      reject(
        new TransferError(classifyS3Failure(xhr.status, doc), describeS3Failure(xhr.status, doc), {
          status: xhr.status,
          s3Code: doc?.code ?? null,
        }),
      );
    });
    xhr.addEventListener('error', () => {
      settle();
      reject(new TransferError('upload_failed', describeS3Failure(0, null), { status: 0, s3Code: null }));
    });
    xhr.addEventListener('abort', () => {
      settle();
      reject(new DOMException('upload cancelled', 'AbortError'));
    });
    xhr.send(body);
  });
}

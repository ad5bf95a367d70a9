/** Reads S3's XML error documents and classifies a failed browser upload (pure). */
import type { WebErrorCode } from '../errors.js';

export interface S3ErrorDocument {
  readonly code: string;
  readonly message: string;
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** `<Error><Code>AccessDenied</Code><Message>Request has expired</Message>...</Error>` -> {code, message}. */
export function parseS3Error(body: string): S3ErrorDocument | null {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (code === undefined) return null;
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? '';
  return { code: decodeXml(code.trim()), message: decodeXml(message.trim()) };
}

/**
 * A presigned PUT past its expiry gets 403 AccessDenied "Request has expired"; a POST past its policy's
 * expiration gets 403 AccessDenied "Invalid according to Policy: Policy expired."; some emulators send
 * `ExpiredToken`/`RequestExpired`. A body over the signed length or the policy's range: EntityTooLarge.
 */
export function classifyS3Failure(status: number, doc: S3ErrorDocument | null): WebErrorCode {
  if (doc !== null) {
    const message = doc.message.toLowerCase();
    if (doc.code === 'ExpiredToken' || doc.code === 'RequestExpired' || doc.code === 'TokenRefreshRequired') {
      return 'upload_expired';
    }
    if (doc.code === 'AccessDenied' && /expired/.test(message)) return 'upload_expired';
    if (doc.code === 'EntityTooLarge' || doc.code === 'MaxMessageLengthExceeded') return 'too_large';
  }
  if (status === 413) return 'too_large';
  if (status === 0) return 'upload_failed';
  return 'upload_failed';
}

export function describeS3Failure(status: number, doc: S3ErrorDocument | null): string {
  if (status === 0) return 'the storage service did not answer (network down or upload blocked)';
  if (doc === null) return `storage answered HTTP ${status}`;
  return doc.message !== '' ? `${doc.message} (${doc.code})` : `${doc.code} (HTTP ${status})`;
}

import { describe, expect, it } from 'vitest';
import { classifyS3Failure, describeS3Failure, parseS3Error } from '../../services/web/src/upload/s3-errors.js';

const xml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>R</RequestId></Error>`;

describe('S3 upload failures', () => {
  it('reads the code and message of an S3 error document', () => {
    expect(parseS3Error(xml('AccessDenied', 'Request has expired'))).toEqual({ code: 'AccessDenied', message: 'Request has expired' });
    expect(parseS3Error(xml('InvalidArgument', 'a &lt;b&gt; &amp; c'))).toEqual({ code: 'InvalidArgument', message: 'a <b> & c' });
    expect(parseS3Error('')).toBeNull();
    expect(parseS3Error('<html>proxy error</html>')).toBeNull();
  });

  it('recognises an expired presigned PUT or POST', () => {
    expect(classifyS3Failure(403, parseS3Error(xml('AccessDenied', 'Request has expired')))).toBe('upload_expired');
    expect(classifyS3Failure(403, parseS3Error(xml('AccessDenied', 'Invalid according to Policy: Policy expired.')))).toBe(
      'upload_expired',
    );
    expect(classifyS3Failure(400, parseS3Error(xml('ExpiredToken', 'The provided token has expired.')))).toBe('upload_expired');
  });

  it('recognises a body over the signed size', () => {
    expect(classifyS3Failure(400, parseS3Error(xml('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size')))).toBe(
      'too_large',
    );
    expect(classifyS3Failure(413, null)).toBe('too_large');
  });

  it('treats anything else as a failed upload and describes it', () => {
    const denied = parseS3Error(xml('SignatureDoesNotMatch', 'The request signature we calculated does not match'));
    expect(classifyS3Failure(403, denied)).toBe('upload_failed');
    expect(describeS3Failure(403, denied)).toBe('The request signature we calculated does not match (SignatureDoesNotMatch)');
    expect(classifyS3Failure(0, null)).toBe('upload_failed');
    expect(describeS3Failure(0, null)).toMatch(/did not answer/);
    expect(describeS3Failure(500, null)).toBe('storage answered HTTP 500');
  });
});

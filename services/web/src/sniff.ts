/**
 * What a file really is, from its first bytes (file-type's magic-number tables), not from its name:
 * a text file renamed to .png is caught here before anything is uploaded.
 */
import { fileTypeFromBuffer } from 'file-type/core';

/** Enough bytes for every image signature file-type knows. */
export const SNIFF_BYTES = 4100;

/** The image MIME type of `head` (a file's first bytes), or null when it is not an image. */
export async function sniffImageType(head: Uint8Array): Promise<string | null> {
  const result = await fileTypeFromBuffer(head);
  return result !== undefined && result.mime.startsWith('image/') ? result.mime : null;
}

export async function sniffBlob(blob: Blob): Promise<string | null> {
  const head = new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer());
  return sniffImageType(head);
}

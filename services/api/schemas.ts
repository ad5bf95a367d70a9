import { z } from 'zod';

/** Image types the worker decodes (services/blip/processing); anything else is refused before a URL is signed. */
export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff', 'image/heic', 'image/heif', 'image/bmp', 'image/x-icon', 'image/vnd.microsoft.icon'] as const;

export const uploadRequestSchema = z.strictObject({
  contentType: z.string().min(1).max(100),
  contentLength: z.number().int().positive(),
  filename: z.string().max(1024).optional(),
  prompt: z.string().trim().min(1).max(200).optional(),
  /** Where the upload's results are also POSTed, signed (checked against the webhook policy by the route). */
  webhook: z.strictObject({ url: z.string().min(1).max(2_048) }).optional(),
});
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

export const questionRequestSchema = z.strictObject({
  question: z.string().trim().min(1).max(500),
});

export const imageIdSchema = z.uuid();

/**
 * A client-supplied file name is metadata only (never part of an object key): keep the last path
 * segment, drop control and bidi characters, collapse whitespace, cap at 255 characters.
 */
export function sanitizeFilename(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const base = raw.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .slice(0, 255);
  return cleaned === '' ? undefined : cleaned;
}

/** Normalises a Content-Type to its media type (`image/JPEG; x=y` -> `image/jpeg`). */
export function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

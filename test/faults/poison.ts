import sharp from 'sharp';
import { pngDeclaring } from '../blip/images/png.js';
import { noiseImage } from './support.js';

/**
 * Hostile inputs for the worker, each with the outcome the system promises (documented in
 * README "Reliability and load"): `failed` with a specific reason, or `done` where the content is a
 * usable image (an animated GIF is captioned from its first frame; EXIF metadata of any size is
 * ignored, only the orientation tag is applied).
 */
export interface PoisonCase {
  name: string;
  key: string;
  bytes: Buffer;
  /** The Content-Type a client would declare for it. */
  contentType: string;
  expected: { status: 'failed'; reason: string } | { status: 'done' };
  /** What POST /v1/uploads answers before any byte is sent: 201 (then the worker decides) or the 4xx code. */
  api: 201 | { status: number; code: string };
}

/** A JPEG with `segments` extra APP1 (Exif) segments of 65,533 bytes each after SOI. */
function withHugeExif(jpeg: Buffer, segments: number): Buffer {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  for (let i = 0; i < segments; i += 1) {
    const payload = Buffer.alloc(65_533 - 2, 0x41);
    Buffer.from('Exif\0\0', 'latin1').copy(payload, 0);
    const header = Buffer.from([0xff, 0xe1, 0, 0]);
    header.writeUInt16BE(payload.length + 2, 2);
    parts.push(header, payload);
  }
  parts.push(jpeg.subarray(2));
  return Buffer.concat(parts);
}

/** An ISO-BMFF file with the `heic` brand: what an iPhone photo starts with (header only). */
function heicHeader(): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic', 'ascii'), Buffer.from([0, 0, 0, 0]), Buffer.from('mif1heic', 'ascii'), Buffer.alloc(64)]);
}

/** A two-frame animated GIF (red, then blue) and a PNG of its first frame. */
export async function animatedGif(): Promise<{ gif: Buffer; firstFrame: Buffer }> {
  const w = 64;
  const h = 48;
  const frames = Buffer.alloc(w * h * 2 * 3);
  for (let i = 0; i < w * h; i += 1) {
    frames[i * 3] = 220;
    frames[i * 3 + 1] = (i * 7) % 256;
    frames[w * h * 3 + i * 3 + 2] = 220;
  }
  const gif = await sharp(frames, { raw: { width: w, height: h * 2, channels: 3, pageHeight: h } }).gif({ loop: 0, delay: [200, 200] }).toBuffer();
  const firstFrame = await sharp(gif, { page: 0, pages: 1 }).png().toBuffer();
  return { gif, firstFrame };
}

/** The poison inputs; `maxBytes` is the worker's and the API's BLIPLINE_MAX_UPLOAD_BYTES. */
export async function poisonCases(maxBytes: number): Promise<PoisonCase[]> {
  const jpeg = await noiseImage(9_001, { width: 256, height: 192, format: 'jpeg' });
  const { gif } = await animatedGif();
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>');
  const oversize = Buffer.concat([jpeg, Buffer.alloc(maxBytes + 1 - jpeg.length, 0)]);
  const hugeExif = withHugeExif(await noiseImage(9_002, { width: 200, height: 150, format: 'jpeg' }), 24);
  if (hugeExif.length >= maxBytes) throw new Error('the EXIF case must stay under the size limit');
  return [
    { name: 'zero bytes', key: 'poison/empty.jpg', bytes: Buffer.alloc(0), contentType: 'image/jpeg', expected: { status: 'failed', reason: 'empty' }, api: { status: 400, code: 'invalid_request' } },
    { name: 'truncated JPEG', key: 'poison/truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)), contentType: 'image/jpeg', expected: { status: 'failed', reason: 'truncated' }, api: 201 },
    { name: 'text named .jpg', key: 'poison/notes.jpg', bytes: Buffer.from('these are my notes, not a photo\n'.repeat(40)), contentType: 'image/jpeg', expected: { status: 'failed', reason: 'not_an_image' }, api: 201 },
    { name: 'PNG declaring 50000x50000', key: 'poison/bomb.png', bytes: pngDeclaring(50_000, 50_000), contentType: 'image/png', expected: { status: 'failed', reason: 'too_many_pixels' }, api: 201 },
    { name: 'over the size limit', key: 'poison/oversize.jpg', bytes: oversize, contentType: 'image/jpeg', expected: { status: 'failed', reason: 'too_large' }, api: { status: 413, code: 'too_large' } },
    { name: 'SVG', key: 'poison/vector.svg', bytes: svg, contentType: 'image/svg+xml', expected: { status: 'failed', reason: 'not_an_image' }, api: { status: 415, code: 'unsupported_type' } },
    { name: 'animated GIF (first frame captioned)', key: 'poison/animated.gif', bytes: gif, contentType: 'image/gif', expected: { status: 'done' }, api: 201 },
    { name: 'HEIC header without an image', key: 'poison/photo.heic', bytes: heicHeader(), contentType: 'image/heic', expected: { status: 'failed', reason: 'corrupt' }, api: 201 },
    { name: 'JPEG with a 1.5 MiB EXIF block', key: 'poison/huge-exif.jpg', bytes: hugeExif, contentType: 'image/jpeg', expected: { status: 'done' }, api: 201 },
  ];
}

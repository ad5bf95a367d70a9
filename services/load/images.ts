import { createHash } from 'node:crypto';
import sharp from 'sharp';

/** One object the load run drops into the bucket. */
export interface LoadImage {
  key: string;
  bytes: Buffer;
  contentType: string;
  sha256: string;
  /** A copy of an earlier image's bytes under another key. */
  duplicate: boolean;
}

const FORMATS = ['jpeg', 'png', 'webp'] as const;
/** Long edge in pixels: mostly phone-thumbnail to web sizes, some large. */
const SIZES = [96, 160, 256, 384, 512, 640, 800, 1024, 1600];

/** xorshift32: deterministic pixels per seed, so runs are reproducible. */
function noise(width: number, height: number, seed: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  // Smooth gradients plus noise: compresses like a photo rather than like pure noise.
  for (let y = 0; y < height; y += 1) {
    for (let i = 0; i < width; i += 1) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const o = (y * width + i) * 3;
      pixels[o] = ((i * 255) / width + (x & 31)) & 0xff;
      pixels[o + 1] = ((y * 255) / height + ((x >>> 8) & 31)) & 0xff;
      pixels[o + 2] = ((seed * 37) % 256 + ((x >>> 16) & 31)) & 0xff;
    }
  }
  return pixels;
}

/**
 * `count` images with sharp: a mix of JPEG/PNG/WebP at several sizes and aspect ratios, of which
 * `duplicateRatio` (rounded) are byte-identical copies of earlier ones under new keys.
 */
export async function makeLoadImages(count: number, duplicateRatio: number, runId: string): Promise<LoadImage[]> {
  const duplicates = Math.round(count * duplicateRatio);
  const distinct = count - duplicates;
  const originals: LoadImage[] = [];
  for (let i = 0; i < distinct; i += 1) {
    const format = FORMATS[i % FORMATS.length]!;
    const long = SIZES[(i * 7) % SIZES.length]!;
    const short = Math.max(32, Math.round(long * (0.5 + ((i * 13) % 50) / 100)));
    const [width, height] = i % 2 === 0 ? [long, short] : [short, long];
    const image = sharp(noise(width, height, i + 1), { raw: { width, height, channels: 3 } });
    const bytes = await (format === 'jpeg' ? image.jpeg({ quality: 82 }) : format === 'png' ? image.png({ compressionLevel: 6 }) : image.webp({ quality: 80 })).toBuffer();
    originals.push({
      key: `load/${runId}/img-${String(i).padStart(5, '0')}.${format === 'jpeg' ? 'jpg' : format}`,
      bytes,
      contentType: `image/${format}`,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      duplicate: false,
    });
  }
  const all = [...originals];
  for (let d = 0; d < duplicates; d += 1) {
    const source = originals[(d * 7919) % originals.length]!;
    all.push({ ...source, key: `load/${runId}/dup-${String(d).padStart(5, '0')}-${source.key.split('/').pop()}`, duplicate: true });
  }
  // Interleave duplicates with originals, deterministically.
  return all
    .map((image, i) => ({ image, order: (i * 2654435761) % 4294967291 }))
    .sort((a, b) => a.order - b.order)
    .map((x) => x.image);
}

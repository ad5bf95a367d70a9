import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * SHA-256 of a checkpoint file, remembered in `<cacheDir>/checkpoint-hashes.json` keyed by the file's
 * real path, size and mtime, so a large checkpoint is hashed once rather than on every start.
 */
const hashIndexSchema = z.record(
  z.string(),
  z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
);
type HashIndex = z.infer<typeof hashIndexSchema>;

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readIndex(indexFile: string): Promise<HashIndex> {
  try {
    const parsed = hashIndexSchema.safeParse(JSON.parse(await readFile(indexFile, 'utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export interface CachedHash {
  readonly sha256: string;
  /** true when the digest came from the index instead of reading the file. */
  readonly cached: boolean;
}

export async function cachedSha256(file: string, cacheDir: string): Promise<CachedHash> {
  const key = await realpath(file);
  const info = await stat(key);
  const indexFile = path.join(cacheDir, 'checkpoint-hashes.json');
  const index = await readIndex(indexFile);
  const known = index[key];
  if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) {
    return { sha256: known.sha256, cached: true };
  }
  const sha256 = await sha256OfFile(key);
  const latest = await readIndex(indexFile);
  latest[key] = { size: info.size, mtimeMs: info.mtimeMs, sha256 };
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${indexFile}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, JSON.stringify(latest, null, 1));
  await rename(temporary, indexFile);
  return { sha256, cached: false };
}

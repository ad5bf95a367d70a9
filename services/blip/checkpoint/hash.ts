import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
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
  await rememberHash(indexFile, key, { size: info.size, mtimeMs: info.mtimeMs, sha256 });
  return { sha256, cached: false };
}

/**
 * Adds one digest to the index. Several loads (in one process or several) may write at once, so each
 * writes its own temporary file and renames it into place; the index is only a cache, so a write
 * that loses a race or fails is harmless: the next start hashes that file again.
 */
async function rememberHash(indexFile: string, key: string, entry: HashIndex[string]): Promise<void> {
  const temporary = `${indexFile}.${randomUUID()}.tmp`;
  try {
    const latest = await readIndex(indexFile);
    latest[key] = entry;
    await mkdir(path.dirname(indexFile), { recursive: true });
    await writeFile(temporary, JSON.stringify(latest, null, 1));
    await rename(temporary, indexFile);
  } catch {
    await rm(temporary, { force: true });
  }
}

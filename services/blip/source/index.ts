/**
 * Where a BLIP checkpoint comes from: a local folder, or a Hugging Face Hub repository
 * (`owner/name`, optionally `@revision`) downloaded once into a cache folder.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadFile, listFiles } from '@huggingface/hub';
import { z } from 'zod';
import { COMPILED_ONLY_MARKER } from '../checkpoint/compiled-only.js';
import { ModelSourceError } from './errors.js';

export { ModelSourceError } from './errors.js';
export type { ModelSourceErrorCode } from './errors.js';

export interface DownloadProgress {
  /** File name inside the repository. */
  file: string;
  /** Bytes of this file received so far. */
  loaded: number;
  /** Size of this file, when the Hub reports it. */
  total?: number;
}

export interface ResolveModelOptions {
  /** Folder for downloaded checkpoints. @default env BLIPLINE_HUB_CACHE, else ~/.cache/blipline/hub */
  cacheDir?: string;
  /** Called as each file downloads (not called on a cache hit or for a local folder). */
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Files every BLIP checkpoint needs besides its weights (the tokenizer loader, AutoTokenizer, cannot build a
 * tokenizer without tokenizer_config.json).
 */
export const REQUIRED_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
/** Fetched from the Hub when the repository has them. */
const OPTIONAL_FILES = ['special_tokens_map.json', 'generation_config.json'] as const;
const WEIGHTS = 'model.safetensors';
const WEIGHTS_INDEX = 'model.safetensors.index.json';
/** PyTorch's zip checkpoint: used only when the safetensors weights are absent. */
const PYTORCH_WEIGHTS = 'pytorch_model.bin';
const COMPLETE_MARKER = '.blipline-download.json';

const DEFAULT_HUB_URL = 'https://huggingface.co';
/** Time allowed for the Hub to start answering a request (the body may then take as long as it needs). */
const RESPONSE_TIMEOUT_MS = 30_000;
const LOCAL_HINT = 'pass --model /path/to/local/checkpoint to use a local copy';

const envSchema = z.object({
  HF_ENDPOINT: z.url().optional(),
  HF_TOKEN: z.string().min(1).optional(),
  BLIPLINE_HUB_CACHE: z.string().min(1).optional(),
});

function readEnv(): z.infer<typeof envSchema> {
  const env = (name: string): string | undefined => {
    const v = process.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const parsed = envSchema.safeParse({
    HF_ENDPOINT: env('HF_ENDPOINT'),
    HF_TOKEN: env('HF_TOKEN'),
    BLIPLINE_HUB_CACHE: env('BLIPLINE_HUB_CACHE'),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelSourceError('invalid_model', `environment variable ${String(issue?.path[0])} is invalid: ${issue?.message}`);
  }
  return parsed.data;
}

/** The cache folder used when none is given: env BLIPLINE_HUB_CACHE, else ~/.cache/blipline/hub. */
export function defaultHubCacheDir(): string {
  return readEnv().BLIPLINE_HUB_CACHE ?? path.join(homedir(), '.cache', 'blipline', 'hub');
}

const HUB_ID = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9._/-]+))?$/;

/** `owner/name` or `owner/name@revision`, else undefined. */
export function parseHubId(model: string): { repo: string; revision: string } | undefined {
  const m = HUB_ID.exec(model);
  if (!m || m[1]!.includes('..') || m[2]!.includes('..')) return undefined;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main' };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/** Shard file names listed by a `model.safetensors.index.json`. */
function shardNames(indexJson: unknown, where: string): string[] {
  const parsed = indexSchema.safeParse(indexJson);
  if (!parsed.success) {
    throw new ModelSourceError('not_a_checkpoint', `${where} has no valid weight_map`);
  }
  const shards = [...new Set(Object.values(parsed.data.weight_map))];
  for (const shard of shards) {
    if (path.basename(shard) !== shard || !shard.endsWith('.safetensors')) {
      throw new ModelSourceError('not_a_checkpoint', `${where} names an invalid shard file ${JSON.stringify(shard)}`);
    }
  }
  return shards;
}

/**
 * Check that `dir` holds a BLIP checkpoint: config.json, preprocessor_config.json, tokenizer.json,
 * tokenizer_config.json and weights (model.safetensors, or model.safetensors.index.json with all its shards, or
 * pytorch_model.bin, or the marker of weights removed after compiling). The error names every missing file.
 */
export async function validateCheckpointDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (const file of REQUIRED_FILES) {
    if (!(await exists(path.join(dir, file)))) missing.push(file);
  }
  if (!(await exists(path.join(dir, WEIGHTS))) && !(await exists(path.join(dir, COMPILED_ONLY_MARKER)))) {
    const indexFile = path.join(dir, WEIGHTS_INDEX);
    if (await exists(indexFile)) {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(indexFile, 'utf8'));
      } catch (cause) {
        throw new ModelSourceError('not_a_checkpoint', `${indexFile} is not valid JSON`, { cause });
      }
      for (const shard of shardNames(json, indexFile)) {
        if (!(await exists(path.join(dir, shard)))) missing.push(shard);
      }
    } else if (!(await exists(path.join(dir, PYTORCH_WEIGHTS)))) {
      missing.push(`${WEIGHTS} (or ${WEIGHTS_INDEX} with its shards, or ${PYTORCH_WEIGHTS})`);
    }
  }
  if (missing.length > 0) {
    throw new ModelSourceError(
      'not_a_checkpoint',
      `${dir} is not a BLIP checkpoint folder: missing ${missing.join(', ')}`,
    );
  }
}

function networkReason(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_\w+)$/.test(code)) {
      return code;
    }
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no response in time';
    if (e.message === 'fetch failed' && !(e.cause instanceof Error)) return 'fetch failed';
    e = e.cause;
  }
  return undefined;
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof Error && 'statusCode' in error && typeof error.statusCode === 'number') return error.statusCode;
  return undefined;
}

function toSourceError(error: unknown, id: string, hubUrl: string, localPath: string): ModelSourceError {
  if (error instanceof ModelSourceError) return error;
  const noFolder = `no folder ${localPath} exists`;
  const reason = networkReason(error);
  if (reason) {
    return new ModelSourceError(
      'hub_unreachable',
      `cannot reach the Hugging Face Hub at ${hubUrl} to download ${id} (${reason}; ${noFolder}); ${LOCAL_HINT}`,
      { cause: error },
    );
  }
  const status = statusOf(error);
  if (status === 401 || status === 403) {
    return new ModelSourceError(
      'hub_unauthorized',
      `the Hugging Face Hub refused access to ${id} (HTTP ${status}); set HF_TOKEN to a token that can read it, or ${LOCAL_HINT}`,
      { cause: error },
    );
  }
  if (status === 404) {
    return new ModelSourceError(
      'hub_not_found',
      `${id} was not found on the Hugging Face Hub at ${hubUrl} and ${noFolder} (check the name and the revision: a commit sha, a tag or a branch such as main; private repositories need HF_TOKEN)`,
      { cause: error },
    );
  }
  if (error instanceof TypeError && /access token/i.test(error.message)) {
    return new ModelSourceError('hub_unauthorized', `HF_TOKEN is not a Hugging Face token: ${error.message}`, { cause: error });
  }
  const fsCode = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (fsCode && /^(EACCES|EPERM|ENOSPC|EROFS|EDQUOT|EEXIST|ENOTDIR|EISDIR)$/.test(fsCode)) {
    return new ModelSourceError('cache_write_failed', `cannot write the model cache for ${id}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ModelSourceError(
    'hub_error',
    `downloading ${id} from ${hubUrl} failed: ${message.split('\n')[0]}`,
    { cause: error },
  );
}

/** fetch that gives up when no response has started within RESPONSE_TIMEOUT_MS. */
const fetchWithTimeout: typeof fetch = async (input, init) => {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no response within ${RESPONSE_TIMEOUT_MS} ms`, 'TimeoutError')),
    RESPONSE_TIMEOUT_MS,
  );
  const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
  try {
    return await fetch(input, { ...init, signal });
  } finally {
    clearTimeout(timer);
  }
};

interface HubContext {
  repo: string;
  revision: string;
  hubUrl: string;
  accessToken: string | undefined;
}

async function downloadTo(ctx: HubContext, file: string, dest: string, onProgress?: ResolveModelOptions['onProgress']): Promise<void> {
  const blob = await downloadFile({
    repo: { type: 'model', name: ctx.repo },
    path: file,
    revision: ctx.revision,
    hubUrl: ctx.hubUrl,
    fetch: fetchWithTimeout,
    ...(ctx.accessToken ? { accessToken: ctx.accessToken } : {}),
  });
  if (!blob) {
    throw new ModelSourceError('not_a_checkpoint', `${ctx.repo}@${ctx.revision} has no ${file} on the Hub`);
  }
  const total = blob.size;
  let loaded = 0;
  onProgress?.({ file, loaded, total });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      loaded += chunk.length;
      onProgress?.({ file, loaded, total });
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(blob.stream()), counter, createWriteStream(dest));
  if (loaded !== total) {
    throw new ModelSourceError('hub_error', `${file} of ${ctx.repo} arrived incomplete (${loaded} of ${total} bytes)`);
  }
}

/** Weight formats blipline does not read, which a revision may carry instead of safetensors. */
/** Weights blipline cannot read (a single pytorch_model.bin it can: see PYTORCH_WEIGHTS). */
const OTHER_WEIGHTS = ['pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'] as const;

/**
 * The second half of the one-line error for a revision that lacks files blipline reads: what it has instead
 * and what would work.
 */
function whatWouldWork(present: ReadonlySet<string>, hasWeights: boolean): string {
  const otherWeights = OTHER_WEIGHTS.filter((f) => present.has(f));
  if (!hasWeights && otherWeights.length > 0) {
    return `it has ${otherWeights.join(', ')} instead: pin a revision that has ${WEIGHTS} or ${PYTORCH_WEIGHTS} (often the Hub's safetensors conversion, a refs/pr/N revision, or a later commit), or save the checkpoint with transformers' save_pretrained (safetensors is its default) and ${LOCAL_HINT}`;
  }
  if (!present.has('tokenizer.json') && present.has('vocab.txt')) {
    return `it has vocab.txt but no tokenizer.json: pin a revision that has tokenizer.json, or save the processor with transformers' save_pretrained (it writes tokenizer.json) and ${LOCAL_HINT}`;
  }
  return `pin a revision of a BLIP checkpoint saved by transformers (${[...REQUIRED_FILES, WEIGHTS].join(', ')}), or ${LOCAL_HINT}`;
}

async function fetchFromHub(ctx: HubContext, finalDir: string, cacheRoot: string, onProgress?: ResolveModelOptions['onProgress']): Promise<void> {
  const present = new Set<string>();
  for await (const entry of listFiles({
    repo: { type: 'model', name: ctx.repo },
    revision: ctx.revision,
    hubUrl: ctx.hubUrl,
    fetch: fetchWithTimeout,
    ...(ctx.accessToken ? { accessToken: ctx.accessToken } : {}),
  })) {
    if (entry.type === 'file') present.add(entry.path);
  }
  const id = `${ctx.repo}@${ctx.revision}`;
  const missing: string[] = REQUIRED_FILES.filter((f) => !present.has(f));
  const hasWeights = present.has(WEIGHTS);
  const pytorchOnly = !hasWeights && !present.has(WEIGHTS_INDEX) && present.has(PYTORCH_WEIGHTS);
  if (!hasWeights && !present.has(WEIGHTS_INDEX) && !pytorchOnly) missing.push(`${WEIGHTS} (or ${WEIGHTS_INDEX}, or ${PYTORCH_WEIGHTS})`);
  if (missing.length > 0) {
    throw new ModelSourceError(
      'not_a_checkpoint',
      `${id} on the Hub is not a BLIP checkpoint with weights: missing ${missing.join(', ')}; ${whatWouldWork(present, hasWeights || present.has(WEIGHTS_INDEX) || pytorchOnly)}`,
    );
  }

  await mkdir(cacheRoot, { recursive: true });
  const tmpDir = path.join(cacheRoot, `.tmp-${path.basename(path.dirname(finalDir))}-${randomBytes(6).toString('hex')}`);
  await mkdir(tmpDir);
  try {
    const files: string[] = [...REQUIRED_FILES, ...OPTIONAL_FILES.filter((f) => present.has(f))];
    if (hasWeights) {
      files.push(WEIGHTS);
    } else if (pytorchOnly) {
      files.push(PYTORCH_WEIGHTS);
    } else {
      await downloadTo(ctx, WEIGHTS_INDEX, path.join(tmpDir, WEIGHTS_INDEX), onProgress);
      const indexJson: unknown = JSON.parse(await readFile(path.join(tmpDir, WEIGHTS_INDEX), 'utf8'));
      files.push(...shardNames(indexJson, `${WEIGHTS_INDEX} of ${id}`));
    }
    for (const file of files) {
      await downloadTo(ctx, file, path.join(tmpDir, file), onProgress);
    }
    await validateCheckpointDir(tmpDir);
    await writeFile(
      path.join(tmpDir, COMPLETE_MARKER),
      `${JSON.stringify({ repo: ctx.repo, revision: ctx.revision, hubUrl: ctx.hubUrl, files, fetchedAt: new Date().toISOString() }, null, 2)}\n`,
    );
    await mkdir(path.dirname(finalDir), { recursive: true });
    try {
      await rename(tmpDir, finalDir);
    } catch (error) {
      // Another process finished the same download first: keep its copy.
      if (await exists(path.join(finalDir, COMPLETE_MARKER))) return;
      throw error;
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * Turn `--model` into a local checkpoint folder.
 * - An existing folder is validated and returned as is.
 * - A Hub id (`owner/name[@revision]`) is downloaded once (only the files BLIP needs) into
 *   `<cacheDir>/<owner>--<name>/<revision>/` through a temporary folder renamed into place, and
 *   reused from there afterwards without any network access. HF_ENDPOINT and HF_TOKEN are honoured.
 */
export async function resolveModelDir(model: string, opts: ResolveModelOptions = {}): Promise<string> {
  const trimmed = model.trim();
  if (trimmed === '') throw new ModelSourceError('invalid_model', 'no model given: pass --model DIR or a Hugging Face Hub id');
  const localPath = path.resolve(trimmed.startsWith('~/') ? path.join(homedir(), trimmed.slice(2)) : trimmed);
  const localStat = await stat(localPath).catch(() => undefined);
  if (localStat?.isDirectory()) {
    await validateCheckpointDir(localPath);
    return localPath;
  }
  const hub = parseHubId(trimmed);
  if (!hub || localStat || /^(\.{1,2}|~)?\//.test(trimmed)) {
    throw new ModelSourceError(
      'invalid_model',
      localStat
        ? `${localPath} is a file, not a checkpoint folder`
        : `${trimmed} is neither an existing folder nor a Hugging Face Hub id (owner/name[@revision])`,
    );
  }

  const env = readEnv();
  const cacheRoot = path.resolve(opts.cacheDir ?? defaultHubCacheDir());
  const [owner, name] = hub.repo.split('/') as [string, string];
  const finalDir = path.join(cacheRoot, `${owner}--${name}`, encodeURIComponent(hub.revision));
  if (await exists(path.join(finalDir, COMPLETE_MARKER))) {
    await validateCheckpointDir(finalDir);
    return finalDir;
  }
  const ctx: HubContext = {
    repo: hub.repo,
    revision: hub.revision,
    hubUrl: (env.HF_ENDPOINT ?? DEFAULT_HUB_URL).replace(/\/+$/, ''),
    accessToken: env.HF_TOKEN,
  };
  try {
    await fetchFromHub(ctx, finalDir, cacheRoot, opts.onProgress);
  } catch (error) {
    throw toSourceError(error, `${hub.repo}@${hub.revision}`, ctx.hubUrl, localPath);
  }
  return finalDir;
}

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A repository served by the fake Hub: file name -> absolute path of its content. */
export type FakeRepo = Record<string, string>;

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
}

/**
 * A local HTTP server answering the Hub endpoints @huggingface/hub uses: the tree listing
 * (`/api/models/{repo}/tree/{revision}`) and `resolve` downloads with byte ranges, ETag and the
 * `X-Error-Code: EntryNotFound` header for missing files. A repository keyed `owner/name@revision` is that
 * revision only; one keyed `owner/name` answers every revision.
 */
export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<{ url: string; requests: RecordedRequest[]; close: () => Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const notFound = (res: ServerResponse, what: string, entry = false): void => {
    res.writeHead(404, { 'Content-Type': 'application/json', ...(entry ? { 'X-Error-Code': 'EntryNotFound' } : { 'X-Error-Code': 'RepoNotFound' }) });
    res.end(JSON.stringify({ error: `${what} not found` }));
  };
  const lookup = (repo: string, revision: string): FakeRepo | undefined => repos[`${repo}@${decodeURIComponent(revision)}`] ?? repos[repo];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) {
      const repo = lookup(tree[1]!, tree[2]!);
      if (!repo) return notFound(res, 'repository');
      const entries = Object.entries(repo).map(([file, source]) => ({
        type: 'file',
        path: file,
        size: statSync(source).size,
        oid: createHash('sha1').update(readFileSync(source)).digest('hex'),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(entries));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const repo = lookup(resolve[1]!, resolve[2]!);
      if (!repo) return notFound(res, 'repository');
      const source = repo[decodeURIComponent(resolve[3]!)];
      if (!source) return notFound(res, 'entry', true);
      const body = readFileSync(source);
      const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), body.length - 1);
        res.writeHead(206, {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${start}-${end}/${body.length}`,
          'Content-Length': String(end - start + 1),
          ETag: etag,
        });
        res.end(body.subarray(start, end + 1));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ETag: etag });
        res.end(body);
      }
      return;
    }
    notFound(res, 'route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}


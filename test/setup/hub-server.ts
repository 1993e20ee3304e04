// A stand-in for the Hugging Face hub, for tests of src/models/sources.ts. Serves a directory of
// model folders in the hub's layout over plain HTTP on 127.0.0.1 (port 0):
//
//   GET|HEAD /{owner}/{name}/resolve/{revision}/{path}   -> {root}/{name}/{path}
//     owner medrank-test:  public; revision must be 'main' (else 404 RevisionNotFound)
//     owner medrank-gated: needs 'Authorization: Bearer medrank-test-token' (none: 401, wrong: 403)
//     owner medrank-error: always 500
//     other owners, or no folder {name}: 404 RepoNotFound; no file: 404 EntryNotFound
//   /__truncated/<any route above>  Content-Length is the file's size, but only half of it is sent
//                                    before the connection is closed
//   /__slow/<any route above>       the body in 16 KiB chunks, one every 10 ms
//   GET /__stats                    {"total": n, "paths": {"/path": n}, "log": ["GET /path", ...]}
//   POST /__reset                   zeroes the counters
//
// Every response carries CORS headers (the test page is on another origin) and Cache-Control:
// no-store (so the browser's HTTP cache never hides a request from the counters). 404s carry the
// hub's X-Error-Code header.
//
// As a vitest globalSetup (gpu project) it serves test/fixtures/models/ and provides its base URL
// as inject('hubUrl'). The unit tests start their own instance with startHubServer(dir).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { stat, readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  interface ProvidedContext {
    hubUrl: string;
  }
}

export const GATED_TOKEN = 'medrank-test-token';

export interface HubStats {
  total: number;
  paths: Record<string, number>;
  log: string[];
}

export interface HubServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  stats(): HubStats;
  reset(): void;
  close(): Promise<void>;
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length, X-Error-Code, X-Error-Message',
  'Cache-Control': 'no-store',
};

function fail(res: ServerResponse, status: number, code: string | null, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, {
    ...CORS,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...(code ? { 'X-Error-Code': code, 'X-Error-Message': message } : {}),
  });
  res.end(body);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startHubServer(root: string): Promise<HubServer> {
  let stats: HubStats = { total: 0, paths: {}, log: [] };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (method === 'OPTIONS') {
      res.writeHead(204, CORS).end();
      return;
    }
    if (pathname === '/__stats') {
      const body = JSON.stringify(stats);
      res.writeHead(200, { ...CORS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (pathname === '/__reset') {
      stats = { total: 0, paths: {}, log: [] };
      res.writeHead(204, CORS).end();
      return;
    }
    stats.total++;
    stats.paths[pathname] = (stats.paths[pathname] ?? 0) + 1;
    stats.log.push(`${method} ${pathname}`);

    let rest = pathname;
    let mode: 'normal' | 'truncated' | 'slow' = 'normal';
    if (rest.startsWith('/__truncated/')) [mode, rest] = ['truncated', rest.slice('/__truncated'.length)];
    else if (rest.startsWith('/__slow/')) [mode, rest] = ['slow', rest.slice('/__slow'.length)];

    const parts = rest.split('/').slice(1).map(decodeURIComponent);
    const [owner, name, resolveWord, revision, ...path] = parts;
    if (!owner || !name || resolveWord !== 'resolve' || !revision || path.length === 0) {
      fail(res, 404, null, `no route for ${pathname}`);
      return;
    }
    if (owner === 'medrank-error') {
      fail(res, 500, null, 'internal error (on purpose)');
      return;
    }
    if (owner === 'medrank-gated') {
      const auth = req.headers.authorization;
      if (!auth) {
        fail(res, 401, 'GatedRepo', 'Access to this repo is restricted: log in');
        return;
      }
      if (auth !== `Bearer ${GATED_TOKEN}`) {
        fail(res, 403, 'GatedRepo', 'Access to this repo is restricted');
        return;
      }
    } else if (owner !== 'medrank-test') {
      fail(res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }
    if ([name, ...path].some((s) => s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\\'))) {
      fail(res, 400, null, 'bad path');
      return;
    }
    const dir = resolve(root, name);
    if (!(await stat(dir).catch(() => null))?.isDirectory()) {
      fail(res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }
    if (revision !== 'main') {
      fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return;
    }
    const file = resolve(dir, ...path);
    if (!file.startsWith(dir + sep) || !(await stat(file).catch(() => null))?.isFile()) {
      fail(res, 404, 'EntryNotFound', `${path.join('/')} does not exist on "${revision}"`);
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, { ...CORS, 'Content-Type': 'application/octet-stream', 'Content-Length': body.byteLength });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    if (mode === 'truncated') {
      res.flushHeaders();
      res.write(body.subarray(0, Math.floor(body.byteLength / 2)));
      await sleep(50);
      res.socket?.destroy();
      return;
    }
    if (mode === 'slow') {
      let closed = false;
      res.on('close', () => (closed = true));
      for (let i = 0; i < body.byteLength && !closed; i += 16 * 1024) {
        res.write(body.subarray(i, i + 16 * 1024));
        await sleep(10);
      }
      res.end();
      return;
    }
    res.end(body);
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((e: unknown) => {
      if (!res.headersSent) fail(res, 500, null, String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => structuredClone(stats),
    reset: () => void (stats = { total: 0, paths: {}, log: [] }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** vitest globalSetup: serve test/fixtures/models/ for the browser tests. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startHubServer(fileURLToPath(new URL('../fixtures/models', import.meta.url)));
  project.provide('hubUrl', server.url);
  return () => server.close();
}

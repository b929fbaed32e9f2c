#!/usr/bin/env node
// The demo's web server (development only): the page (web/), the package (build/wasm/pkg/ at
// /pkg/), the bundled models (models/bundled/ at /models/) and /models.json, their list with the
// metadata read from each file's header. Sends COOP/COEP so the page is cross-origin isolated;
// --no-isolation leaves them out (the page works either way).
//
//   node scripts/serve.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation] [--models DIR]
import { createServer } from 'node:http';
import { open, readdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundled = path.join(root, 'models/bundled');
const types = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
};

// A safetensors file's metadata, from its header alone.
async function metadata(file) {
  const f = await open(file);
  try {
    const len = Buffer.alloc(8);
    await f.read(len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE());
    if (n > 100 << 20) throw new Error('header too large');
    const header = Buffer.alloc(n);
    await f.read(header, 0, n, 8);
    const h = JSON.parse(header.toString('utf8'));
    let parameters = 0;
    for (const [k, t] of Object.entries(h)) if (k !== '__metadata__') parameters += t.shape.reduce((a, b) => a * b, 1);
    return { ...(h.__metadata__ ?? {}), parameters };
  } finally {
    await f.close();
  }
}

// The bundled models, text first, then images, then audio; the first of each is the default.
export async function modelList(dir = bundled) {
  const order = { text: 0, image: 1, audio: 2 };
  const out = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.safetensors')).sort()) {
    const file = path.join(dir, name);
    const m = await metadata(file);
    const config = JSON.parse(m.config ?? '{}');
    out.push({
      // ?v=: a changed file is a new entry in the browser's model cache
      url: `/models/${name}?v=${Math.round((await stat(file)).mtimeMs)}`, file: name, bytes: (await stat(file)).size, parameters: m.parameters,
      name: m.name ?? name.replace('.safetensors', ''), description: m.description ?? '', arch: m.arch,
      modality: m.modality, trainedOn: m.trained_on ?? '',
      labels: config.class_names ?? config.speaker_names ?? [],
    });
  }
  const preferred = ['kjv-lstm.safetensors'];  // the default text model: the fastest to load
  return out.sort((a, b) => order[a.modality] - order[b.modality] || preferred.indexOf(b.file) - preferred.indexOf(a.file) || a.file.localeCompare(b.file));
}

export function startServer({ port = 8080, host = '127.0.0.1', isolation = true, models = bundled } = {}) {
  const mounts = [
    ['/pkg/', path.join(root, 'build/wasm/pkg')],
    ['/models/', path.resolve(models)],
    ['/', path.join(root, 'web')],
  ];
  const server = createServer(async (req, res) => {
    const headers = isolation ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    try {
      const url = new URL(req.url, 'http://localhost');
      let p = decodeURIComponent(url.pathname);
      if (p === '/models.json') {
        const body = Buffer.from(JSON.stringify(await modelList(path.resolve(models))));
        res.writeHead(200, { ...headers, 'content-type': types['.json'], 'content-length': body.length, 'cache-control': 'no-store' });
        return res.end(body);
      }
      if (p.endsWith('/')) p += 'index.html';
      const [prefix, dir] = mounts.find(([m]) => p.startsWith(m));
      const file = path.join(dir, p.slice(prefix.length));
      if (!file.startsWith(dir + path.sep)) return res.writeHead(403, headers).end();
      const s = await stat(file).catch(() => null);
      if (!s?.isFile()) return res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      res.writeHead(200, {
        ...headers, 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'content-length': s.size,
        'cache-control': 'no-cache',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(500, { ...headers, 'content-type': 'text/plain' }).end(String(e.message));
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
  const server = await startServer({ port: Number(opt('--port', 8080)), host: opt('--host', '127.0.0.1'), isolation: !args.includes('--no-isolation'), models: opt('--models', bundled) });
  const { address, port } = server.address();
  console.log(`argen demo: http://${address === '::' ? 'localhost' : address}:${port}/  (Ctrl-C stops)`);
}

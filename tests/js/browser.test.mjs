// The ES module in a real browser: headless Chromium (Debian's), driven by playwright-core, loads
// the package over HTTP, streams the bundled model with progress, and generates what Node generates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { argen, bundledText, collect, pkg, requireFile } from './helpers.mjs';

const types = { '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

// Serves the package at /pkg/ and the bundled model at /model.safetensors, nothing else.
async function serve() {
  const files = {
    '/index.html': Buffer.from('<!doctype html><title>argen smoke</title><body></body>'),
    '/model.safetensors': await readFile(requireFile(bundledText)),
    '/favicon.ico': Buffer.alloc(0),
  };
  for (const f of ['argen.mjs', 'argen-core.mjs', 'argen-core.wasm']) files[`/pkg/${f}`] = await readFile(path.join(pkg, f));
  const server = createServer((req, res) => {
    const body = files[new URL(req.url, 'http://x').pathname];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[path.extname(req.url)] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

test('the ES module loads and generates in headless Chromium, as in Node', async () => {
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: requireFile('/usr/bin/chromium'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    const opts = { prompt: 'And God said', maxTokens: 40, temperature: 0.8, seed: 5 };
    const got = await page.evaluate(async (opts) => {
      const { loadModel } = await import('/pkg/argen.mjs');
      const progress = [];
      const model = await loadModel('/model.safetensors', { onProgress: (l, t) => progress.push([l, t]) });
      let text = '';
      let done;
      for await (const ev of model.generate(opts)) {
        if (ev.type === 'token') text += ev.text;
        else done = ev;
      }
      const info = model.info;
      model.dispose();
      return { text, done, arch: info.arch, progress: progress.at(-1), calls: progress.length };
    }, opts);
    const m = await argen.loadModel(bundledText);
    const want = (await collect(m.generate(opts))).map((e) => e.text ?? '').join('');
    m.dispose();
    assert.equal(got.arch, 'lstm');
    assert.equal(got.done.finishReason, 'length');
    assert.equal(got.text, want);
    assert.equal(got.progress[0], got.progress[1]);  // all bytes, of a known total
    assert.ok(got.calls >= 1);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

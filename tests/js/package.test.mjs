// The npm package: its TypeScript declarations type-check a usage file, and `npm pack` gives a
// tarball that installs into an empty folder and imports as 'argen' in Node and in a page.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { bundledText, pkg, requireFile, root } from './helpers.mjs';

const tmp = mkdtempSync(path.join(tmpdir(), 'argen-pkg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('the TypeScript declarations type-check a usage file (tsc --noEmit)', () => {
  execFileSync(requireFile(path.join(root, 'node_modules/.bin/tsc')), ['--noEmit', '-p', path.join(root, 'tests/types')], { stdio: 'pipe' });
});

test('npm pack -> install into an empty folder -> import { loadModel } from "argen" in Node and in a page', async () => {
  const manifest = JSON.parse(readFileSync(path.join(requireFile(pkg), 'package.json'), 'utf8'));
  assert.equal(manifest.name, 'argen');
  assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
  npm(['pack', '--silent', '--pack-destination', tmp], pkg);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  const app = path.join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', path.join(tmp, tarball)], app);
  const installed = readdirSync(path.join(app, 'node_modules/argen')).sort();
  assert.deepEqual(installed, ['argen-core-mt.mjs', 'argen-core-mt.wasm', 'argen-core-mt.worker.js', 'argen-core.mjs', 'argen-core.wasm',
    'argen.d.ts', 'argen.mjs', 'package.json']);

  // Node
  const script = `import { loadModel } from 'argen';
    const m = await loadModel(${JSON.stringify(bundledText)});
    let text = '';
    for await (const ev of m.generate({ prompt: 'And', maxTokens: 20, seed: 1 })) if (ev.type === 'token') text += ev.text;
    console.log(JSON.stringify({ arch: m.info.arch, n: text.length }));`;
  const out = JSON.parse(execFileSync('node', ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' }));
  assert.equal(out.arch, 'lstm');
  assert.ok(out.n > 0);

  // A page with an import map pointing 'argen' at the installed package.
  const html = `<!doctype html><script type="importmap">{"imports": {"argen": "/node_modules/argen/argen.mjs"}}</script>
    <script type="module">
      import { loadModel } from 'argen';
      const m = await loadModel('/model.safetensors', { cache: false });
      let text = '';
      for await (const ev of m.generate({ prompt: 'And', maxTokens: 20, seed: 1 })) if (ev.type === 'token') text += ev.text;
      window.result = { arch: m.info.arch, n: text.length };
    </script>`;
  const types = { '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer(async (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    try {
      const body = p === '/' ? Buffer.from(html) : p === '/model.safetensors' ? await readFile(bundledText) : await readFile(path.join(app, p));
      res.writeHead(200, { 'content-type': p === '/' ? 'text/html' : types[path.extname(p)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: requireFile('/usr/bin/chromium'), args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const result = await (await page.waitForFunction(() => window.result, null, { timeout: 30000 })).jsonValue();
    assert.equal(result.arch, 'lstm');
    assert.ok(result.n > 0);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

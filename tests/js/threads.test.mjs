// The threaded wasm core (argen-core-mt, pthreads): loaded with { threads: 2 } or 3 it generates exactly
// what the single-threaded core generates, for text, images and audio. The core is fixed per
// process by the first loadModel, so the threaded run happens in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { argen, bundledText, collect, goldenCases, pkg } from './helpers.mjs';

const llama = goldenCases().find((g) => g.arch === 'llama').file;
const image = goldenCases().find((g) => g.arch === 'pixelcnn' && g.label !== null).file;
const audio = goldenCases().find((g) => g.arch === 'wavenet' && g.speaker !== null).file;
const jobs = [
  [bundledText, { prompt: 'And God', maxTokens: 60, seed: 3 }],
  [llama, { prompt: '', maxTokens: 20, seed: 3 }],
  [image, { label: 1, seed: 3 }],
  [audio, { samples: 300, speaker: 0, seed: 3 }],
];

// The values each job generates: token ids, pixel levels, or samples.
const script = (threads) => `
  const argen = await import(${JSON.stringify(path.join(pkg, 'argen.mjs'))});
  const out = [];
  for (const [file, opts] of ${JSON.stringify(jobs)}) {
    const m = await argen.loadModel(file, { threads: ${threads} });
    const v = [];
    for await (const e of m.generate(opts)) v.push(...(e.type === 'audio' ? e.samples : e.type === 'row' || e.type === 'done' ? [] : [e.id ?? e.value]));
    m.dispose();
    out.push(v);
  }
  console.log(JSON.stringify({ threads: argen.threads(), out }));`;

test('the threaded core generates exactly what the single-threaded one does, with 2 and 3 threads', async () => {
  const mts = [2, 3].map((n) => JSON.parse(execFileSync('node', ['--input-type=module', '-e', script(n)], { encoding: 'utf8' })));
  assert.deepEqual(mts.map((mt) => mt.threads), [2, 3]);
  const st = [];
  for (const [file, opts] of jobs) {
    const m = await argen.loadModel(file);
    st.push((await collect(m.generate(opts))).flatMap((e) => (e.type === 'audio' ? [...e.samples] : e.type === 'row' || e.type === 'done' ? [] : [e.id ?? e.value])));
    m.dispose();
  }
  assert.equal(argen.threads(), 1);
  for (const mt of mts) mt.out.forEach((v, i) => assert.deepEqual(v, st[i], `${mt.threads} threads, job ${i}`));
  assert.ok(st.every((v) => v.length > 0));
});

test('threads are checked: a bad count, or more than one without SharedArrayBuffer, is an error', async () => {
  const bad = `const argen = await import(${JSON.stringify(path.join(pkg, 'argen.mjs'))});
    try { await argen.loadModel(${JSON.stringify(bundledText)}, { threads: 0 }); } catch (e) { console.log(e.message); }
    delete globalThis.SharedArrayBuffer;
    try { await argen.loadModel(${JSON.stringify(bundledText)}, { threads: 2 }); } catch (e) { console.log(e.message); }`;
  const out = execFileSync('node', ['--input-type=module', '-e', bad], { encoding: 'utf8' });
  assert.match(out, /threads must be an integer in 1\.\.64, found 0/);
  assert.match(out, /threads need SharedArrayBuffer/);
});

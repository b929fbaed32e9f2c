// The JS API against the wasm build: loading, streaming, aborting, errors, dispose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { argen, bundledText, collect, goldenDir, requireFile } from './helpers.mjs';

const modelPath = requireFile(bundledText);

test('loads from a path and from bytes; info describes the model', async () => {
  const a = await argen.loadModel(modelPath);
  const b = await argen.loadModel(new Uint8Array(readFileSync(modelPath)));
  for (const m of [a, b]) {
    assert.equal(m.info.arch, 'lstm');
    assert.equal(m.info.modality, 'text');
    assert.equal(m.info.tokenizer, 'chars');
    assert.ok(m.info.vocabSize > 20);
    assert.ok(m.info.parameters > 100000);
    assert.equal(m.info.metadata.format, 'argen/1');
  }
  let progress = [];
  const c = await argen.loadModel(modelPath, { onProgress: (l, t) => progress.push([l, t]) });
  assert.ok(progress.length > 0 && progress.at(-1)[0] === progress.at(-1)[1]);
  a.dispose(), b.dispose(), c.dispose();
});

test('tokens stream in order, then one done event with the finish reason', async () => {
  const m = await argen.loadModel(modelPath);
  const events = await collect(m.generate({ prompt: 'And God said', maxTokens: 40, temperature: 0 }));
  assert.equal(events.length, 41);
  assert.ok(events.slice(0, 40).every((e) => e.type === 'token' && Number.isInteger(e.id) && e.logprob <= 0));
  assert.deepEqual(events.at(-1), { type: 'done', finishReason: 'length', generated: 40, promptTokens: 12 });
  // Greedy is deterministic: the same call gives the same text.
  const again = await collect(m.generate({ prompt: 'And God said', maxTokens: 40, temperature: 0 }));
  assert.equal(again.map((e) => e.text ?? '').join(''), events.map((e) => e.text ?? '').join(''));
  m.dispose();
});

test('stop sequences end generation with finish reason stop', async () => {
  const m = await argen.loadModel(modelPath);
  const events = await collect(m.generate({ prompt: 'And God said', maxTokens: 500, temperature: 0, stop: [' '] }));
  const text = events.map((e) => e.text ?? '').join('');
  assert.equal(events.at(-1).finishReason, 'stop');
  assert.ok(!text.includes(' '), JSON.stringify(text));
  m.dispose();
});

test('an AbortSignal stops within one step and the model stays usable', async () => {
  const m = await argen.loadModel(modelPath);
  const ac = new AbortController();
  let tokens = 0;
  let done;
  for await (const ev of m.generate({ prompt: 'In the', maxTokens: 10000, signal: ac.signal })) {
    if (ev.type === 'token' && ++tokens === 5) ac.abort();
    if (ev.type === 'done') done = ev;
  }
  assert.equal(tokens, 5);
  assert.equal(done.finishReason, 'abort');
  // Aborting from a timer (another task) also lands within a step.
  const ac2 = new AbortController();
  let n2 = 0;
  setTimeout(() => ac2.abort(), 20);
  for await (const ev of m.generate({ prompt: 'In the', maxTokens: 1000000, signal: ac2.signal })) if (ev.type === 'token') n2++;
  assert.ok(n2 > 0 && n2 < 1000000);
  const after = await collect(m.generate({ prompt: 'In the', maxTokens: 3 }));
  assert.equal(after.length, 4);
  m.dispose();
});

test('errors are Error instances carrying the C++ message', async () => {
  const m = await argen.loadModel(modelPath);
  const bad = (opts, re) => {
    assert.throws(() => m.generate(opts), (e) => e instanceof Error && re.test(e.message));
  };
  bad({ prompt: 'x', temperature: -1 }, /temperature must be .* found -1/);
  bad({ prompt: 'x', topP: 0 }, /topP must be in \(0, 1\]/);
  bad({ prompt: 'x', topK: -2 }, /topK must be >= 0/);
  bad({ prompt: 'x', temperature: NaN }, /temperature/);
  bad({ prompt: 'x', maxTokens: 1.5 }, /maxTokens/);
  bad({ prompt: 'x', temprature: 1 }, /unknown generate option 'temprature'/);
  bad({ prompt: 'In \u20ac' }, /U\+20AC.*position 3/);
  bad({ prompt: 5 }, /prompt' must be a string/);
  await assert.rejects(argen.loadModel(new Uint8Array([1, 2, 3])), (e) => e instanceof Error && /too small/.test(e.message));
  const truncated = new Uint8Array(readFileSync(modelPath)).slice(0, 5000);
  await assert.rejects(argen.loadModel(truncated, { name: 'cut.safetensors' }), (e) => e instanceof Error && /cut\.safetensors/.test(e.message));
  m.dispose();
});

test('dispose frees the model; later calls and running streams fail clearly', async () => {
  const m = await argen.loadModel(modelPath);
  const it = m.generate({ prompt: 'In the', maxTokens: 100 });
  await it.next();
  m.dispose();
  await assert.rejects(it.next(), /disposed during generation/);
  assert.throws(() => m.info, /disposed/);
  assert.throws(() => m.generate({}), /disposed/);
  m.dispose();  // twice is harmless
  // Loading and disposing many times does not grow the wasm heap: memory is given back.
  const bytes = new Uint8Array(readFileSync(modelPath));
  (await argen.loadModel(bytes)).dispose();
  const before = await argen.wasmMemoryBytes();
  for (let i = 0; i < 20; i++) {
    const x = await argen.loadModel(bytes);
    await collect(x.generate({ prompt: 'a', maxTokens: 2 }));
    x.dispose();
  }
  assert.equal(await argen.wasmMemoryBytes(), before);
});

test('logprobs and attention ride on token events', async () => {
  const m = await argen.loadModel(`${goldenDir}/llama_gqa_tied_bytes_d36_h6_kv2_l2.safetensors`);
  const events = await collect(m.generate({ prompt: 'ab', maxTokens: 3, temperature: 0, logprobs: 3, attentionLayer: 1 }));
  const tokens = events.filter((e) => e.type === 'token');
  assert.equal(tokens.length, 3);
  tokens.forEach((e, i) => {
    assert.equal(e.top.length, 3);
    assert.equal(e.top[0].id, e.id);
    assert.ok(e.top[0].logprob >= e.top[1].logprob && e.top[1].logprob >= e.top[2].logprob);
    assert.equal(e.attention.layer, 1);
    assert.equal(e.attention.heads.length, 6);
    for (const row of e.attention.heads) {
      assert.ok(row instanceof Float32Array);
      assert.equal(row.length, 2 + i);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
  });
  assert.throws(() => m.generate({ prompt: 'a', attentionLayer: 9 }), /attentionLayer 9 is out of range/);
  m.dispose();
});

// Hardening of the JS API (wasm build): hostile files, concurrent streams, dispose, limits, long runs;
// and the native CLI's arguments.
//
// The long run makes ARGEN_LONGRUN generate calls (default 1000 for CI; the full run is
// ARGEN_LONGRUN=10000 node --test tests/js/hardening.test.mjs) mixing every golden architecture,
// random options and random aborts, and checks that the wasm heap stays flat after warm-up and that
// every stream ended (done event, error, or the iterator was returned: each frees its native stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { argen, collect, goldenCases, nativeBin, pkg, requireFile, root } from './helpers.mjs';

const hostileDir = path.join(root, 'tests/hostile');
const cases = goldenCases();
const byName = (n) => cases.find((c) => c.name === n);

// Options that make a golden model generate: a prompt in its vocabulary, its label or speaker.
function baseOptions(g) {
  if (g.arch === 'pixelcnn' || g.arch === 'pixelrnn') return g.label === null ? {} : { label: g.label };
  if (g.arch === 'wavenet') return { samples: 300, chunkSize: 64, ...(g.speaker === null ? {} : { speaker: g.speaker }) };
  return { prompt: 'a c', maxTokens: 12 };
}

// A small deterministic PRNG (mulberry32) so a failing long run can be replayed from its seed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('every hostile file fails to load with its expected error, and the heap stays bounded', async () => {
  const { files } = JSON.parse(readFileSync(path.join(hostileDir, 'expected.json'), 'utf8'));
  const names = Object.keys(files);
  assert.ok(names.length >= 30);
  await argen.loadModel(byName('lstm_emb_chars_h37_l2_f16').file).then((m) => m.dispose());  // core started
  const before = await argen.wasmMemoryBytes();
  for (const name of names) {
    const bytes = new Uint8Array(readFileSync(path.join(hostileDir, 'files', name)));
    await assert.rejects(argen.loadModel(bytes, { name }), (e) => {
      assert.ok(e instanceof Error, name);
      assert.ok(e.message.includes(files[name].error), `${name}: '${e.message}' lacks '${files[name].error}'`);
      return true;
    });
  }
  // Nothing a hostile file says is ever allocated: the heap holds at most a few copies of the files.
  const after = await argen.wasmMemoryBytes();
  assert.ok(after - before <= 16 << 20, `wasm memory grew from ${before} to ${after} bytes`);
});

test('a state too large for the memory limit is refused at load with both sizes', async () => {
  const bytes = new Uint8Array(readFileSync(path.join(hostileDir, 'files/llama_context_cache_too_big.safetensors')));
  await assert.rejects(argen.loadModel(bytes), /needs a KV cache of \d+ bytes per stream, over the limit of 2147483648/);
  const img = new Uint8Array(readFileSync(path.join(hostileDir, 'files/pixelcnn_cache_too_big.safetensors')));
  await assert.rejects(argen.loadModel(img), /the generation cache would need \d+ MiB, over the limit of 2048 MiB/);
});

test('two streams from one model, interleaved step by step, give exactly what each gives alone', async () => {
  const names = ['llama_gqa_tied_bytes_d36_h6_kv2_l2', 'gpt_chars_d22_h2_l3_eps1e-3', 'lstm_emb_chars_h37_l2_f16',
    'hybrid_lstm_chars_e28_d16_h4_r1_l2_eps1e-3', 'transformer_pre_gelu_sin_final_chars_d24_h2_l2_f16',
    'pixelcnn_rgb_cond4_l8_4x7_f5_l2_skip5', 'pixelrnn_gray_cond3_l16_5x6_h5_l2_k3', 'wavenet_onehot_k2_spk3_r8_d6_s7_l6'];
  for (const n of names) {
    const g = byName(n);
    const m = await argen.loadModel(g.file);
    const a = { ...baseOptions(g), seed: 11, temperature: 1 };
    const b = { ...baseOptions(g), seed: 12, temperature: 0.7 };
    if (a.prompt) b.prompt = 'a';
    const aloneA = await collect(m.generate(a));
    const aloneB = await collect(m.generate(b));
    const ia = m.generate(a)[Symbol.asyncIterator](), ib = m.generate(b)[Symbol.asyncIterator]();
    const gotA = [], gotB = [];
    let doneA = false, doneB = false;
    while (!doneA || !doneB) {
      if (!doneA) {
        const r = await ia.next();
        if (r.done) doneA = true; else gotA.push(r.value);
      }
      if (!doneB) {
        const r = await ib.next();
        if (r.done) doneB = true; else gotB.push(r.value);
      }
    }
    assert.ok(aloneA.length > 3, n);
    assert.deepEqual(gotA, aloneA, `${n}: stream A interleaved`);
    assert.deepEqual(gotB, aloneB, `${n}: stream B interleaved`);
    m.dispose();
  }
});

test('dispose during generation ends every running stream with a clear error; a disposed model refuses every call', async () => {
  for (const n of ['llama_chars_d28_h2_l2', 'pixelcnn_gray_l16_5x6_f6_l3', 'wavenet_emb9_k1_r6_d5_s6_l6']) {
    const g = byName(n);
    const m = await argen.loadModel(g.file);
    const m_info = m.info;
    const i1 = m.generate({ ...baseOptions(g), seed: 1 })[Symbol.asyncIterator]();
    const i2 = m.generate({ ...baseOptions(g), seed: 2 })[Symbol.asyncIterator]();
    assert.equal((await i1.next()).done, false);
    assert.equal((await i2.next()).done, false);
    m.dispose();
    // Events already computed (the rest of an image row: one native call per row) may still arrive;
    // then the stream ends with the error.
    const drainToError = async (it) => {
      for (let k = 0; ; k++) {
        assert.ok(k <= (m_info.width ?? 1) * (m_info.channels ?? 1), `${n}: no error after ${k} events`);
        try {
          if ((await it.next()).done) assert.fail(`${n}: ended without an error`);
        } catch (e) {
          assert.match(e.message, /argen: the model was disposed during generation/);
          return;
        }
      }
    };
    await drainToError(i1);
    await drainToError(i2);
    assert.deepEqual(await i1.next(), { done: true, value: undefined });  // ended, not stuck
    assert.throws(() => m.info, /argen: this model has been disposed/);
    assert.throws(() => m.generate(baseOptions(g)), /argen: this model has been disposed/);
    assert.throws(() => m.generate(), /argen: this model has been disposed/);
    m.dispose();  // idempotent, like other dispose() methods
  }
});

test('running out of context ends with finish reason length', async () => {
  for (const n of ['llama_chars_d28_h2_l2', 'gpt_chars_d22_h2_l3_eps1e-3', 'transformer_post_relu_learned_chars_d24_h3_l2',
    'hybrid_gru_chars_e12_d20_h2_r1_l2']) {
    const m = await argen.loadModel(byName(n).file);
    const T = m.info.contextLength;
    assert.ok(T > 4 && T < 100, n);
    const events = await collect(m.generate({ prompt: 'a c', maxTokens: 1000, temperature: 0 }));
    const done = events.at(-1);
    assert.equal(done.finishReason, 'length', n);
    assert.ok(done.promptTokens + done.generated <= T + 1, `${n}: ${done.promptTokens} + ${done.generated} vs context ${T}`);
    assert.ok(done.generated < 1000 && done.generated >= T - done.promptTokens, n);
    // A prompt longer than the context is an error naming both lengths.
    assert.throws(() => m.generate({ prompt: 'a'.repeat(T + 5), maxTokens: 1 }), new RegExp(`${T}`));
    m.dispose();
  }
});

test(`long run: ${process.env.ARGEN_LONGRUN ?? 1000} generate calls, mixed architectures, options and aborts`, { timeout: 3_600_000 }, async () => {
  const calls = Number(process.env.ARGEN_LONGRUN ?? 1000);
  const seed = Number(process.env.ARGEN_LONGRUN_SEED ?? 1);
  const rand = rng(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const names = ['rnn_relu_onehot_chars_h13_l2', 'gru_emb_bytes_h64_l1', 'lstm_emb_chars_h37_l2_f16', 'gpt_chars_d22_h2_l3_eps1e-3',
    'llama_gqa_tied_bytes_d36_h6_kv2_l2', 'llama2c_stories_bpe_d24_h4_kv2_l2', 'transformer_pre_gelu_sin_scaled_final_bytes_d20_h4_l2',
    'hybrid_lstm_tanh_bytes_e16_d24_h3_r2_l1', 'pixelcnn_rgb_cond4_l8_4x7_f5_l2_skip5', 'pixelrnn_rgb_k5_l10_5x6_h4_l2_bf16',
    'wavenet_onehot_k2_spk3_r8_d6_s7_l6', 'wavenet_emb9_k1_r6_d5_s6_l6'];
  const live0 = await argen.liveNativeObjects();
  const models = new Map();
  for (const n of names) models.set(n, { g: byName(n), m: await argen.loadModel(byName(n).file) });
  const warmup = Math.max(20, Math.floor(calls / 10));
  const tally = { done: 0, abort: 0, returned: 0, badOptions: 0, stop: 0, length: 0, events: 0 };
  let heapAfterWarmup = 0;
  const t0 = Date.now();
  for (let i = 0; i < calls; i++) {
    if (i === warmup) heapAfterWarmup = await argen.wasmMemoryBytes();
    const { g, m } = models.get(pick(names));
    const opts = { ...baseOptions(g), seed: Math.floor(rand() * 1e9), temperature: pick([0, 0.5, 1, 1.3]) };
    if (rand() < 0.5) opts.topK = pick([1, 3, 40]);
    if (rand() < 0.3) opts.topP = pick([0.5, 0.9, 1]);
    if (rand() < 0.2) opts.minP = pick([0.01, 0.1]);
    if (rand() < 0.2) opts.repetitionPenalty = pick([1.1, 1.5]);
    if (opts.prompt !== undefined) {
      opts.maxTokens = Math.floor(rand() * 30);
      if (rand() < 0.3) opts.stop = pick([' ', ['e', 'a'], '\n']);
      if (rand() < 0.2) opts.logprobs = 3;
      if (rand() < 0.2 && m.info.contextLength) opts.attentionLayer = 0;
    } else if (opts.samples !== undefined) {
      opts.samples = Math.floor(rand() * 400);
      opts.chunkSize = pick([16, 64, 1000]);
    }
    if (rand() < 0.03) {  // bad options throw at the call and leave nothing behind
      assert.throws(() => m.generate({ ...opts, temperature: -1 }), /temperature/);
      tally.badOptions++;
      continue;
    }
    const ac = new AbortController();
    const abortAfter = rand() < 0.2 ? Math.floor(rand() * 20) : -1;
    const returnAfter = abortAfter < 0 && rand() < 0.1 ? Math.floor(rand() * 20) : -1;
    let n = 0, ended = false;
    for await (const ev of m.generate({ ...opts, signal: ac.signal })) {
      tally.events++;
      if (ev.type === 'done') {
        ended = true;
        tally.done++;
        tally[ev.finishReason] = (tally[ev.finishReason] ?? 0) + 1;
        break;
      }
      if (++n === abortAfter) ac.abort();
      if (n === returnAfter) {
        ended = true;  // leaving the loop returns the iterator, which frees the native stream
        tally.returned++;
        break;
      }
    }
    assert.ok(ended, `call ${i} (${g.name}): the stream ended without a done event`);
  }
  const heapEnd = await argen.wasmMemoryBytes();
  // Every stream was deleted: only the models are alive, and none once disposed.
  assert.equal(await argen.liveNativeObjects(), live0 + models.size, 'native streams left undeleted');
  for (const { m } of models.values()) m.dispose();
  assert.equal(await argen.liveNativeObjects(), live0, 'native objects left after dispose');
  const growth = (heapEnd - heapAfterWarmup) / heapAfterWarmup;
  const seconds = (Date.now() - t0) / 1000;
  console.log(`# long run: ${calls} calls in ${seconds.toFixed(1)} s, wasm heap ${heapAfterWarmup} -> ${heapEnd} bytes ` +
    `(${(100 * growth).toFixed(3)}%), ${JSON.stringify(tally)}`);
  assert.ok(tally.done + tally.returned + tally.badOptions === calls);
  assert.ok(tally.abort > 0 || calls < 100);
  assert.ok(growth <= 0.01, `wasm heap grew ${(100 * growth).toFixed(2)}% after warm-up`);
});

// generate() creates the native stream at the call (so bad options throw there); a generator that is
// never iterated keeps its stream until dispose() (or until it is garbage-collected). dispose() must
// free them: it once leaked them, as streams were registered only when iteration began. The heap
// never shrinks, so the check is that a second round reuses the memory the first one freed.
test('dispose() frees streams whose generators were never iterated', async () => {
  const round = async () => {
    const m = await argen.loadModel(byName('llama_gqa_tied_bytes_d36_h6_kv2_l2').file);
    for (let i = 0; i < 5000; i++) m.generate({ prompt: 'abc', maxTokens: 5 });  // ~10 KB of state each
    m.dispose();
  };
  await round();
  const peak = await argen.wasmMemoryBytes();
  await round();
  await round();
  const after = await argen.wasmMemoryBytes();
  assert.ok(after - peak < 8 << 20, `wasm memory grew from ${peak} to ${after} bytes: disposed streams were not freed`);
});

// A model file too large for the wasm heap is refused before any copy, with both sizes.
test('a model file over the wasm memory limit is refused before it is copied, naming both sizes', async () => {
  const { default: createArgenCore } = await import(path.join(pkg, 'argen-core.mjs'));
  const core = await createArgenCore({ wasmBinary: readFileSync(path.join(pkg, 'argen-core.wasm')) });
  const huge = { length: 5 * 2 ** 30 };  // what the binding reads first; nothing is allocated
  assert.throws(() => new core.Model(huge, 'huge.safetensors', 'f32'),
    /huge\.safetensors: the model file is 5368709120 bytes; that is over the memory limit \(the wasm heap holds at most 4294967296 bytes\)/);
});

test('the native CLI names a bad argument and exits 1, running nothing', () => {
  const cli = (...args) => spawnSync(requireFile(nativeBin), args, { encoding: 'utf8' });
  const model = path.join(root, 'models/bundled/kjv-lstm.safetensors');
  for (const [args, error] of [
    [['bench', model], `unexpected argument '${model}' (a model file is given as --model FILE)`],
    [['generate', '--model', model, 'extra'], "unexpected argument 'extra'"],
    [['bench', '--model', model, '--tokens'], 'option --tokens needs a value'],
    [['bench', '--model', model, '--tokenz', '5'], 'unknown option --tokenz'],
    [['bench', '--model', model, '--tokens', '-3'], 'option --tokens needs an integer in 1..16777216'],
  ]) {
    const r = cli(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.ok(r.stderr.includes(error), `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
  }
});

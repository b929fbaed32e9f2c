// onnxruntime peers: wavenet-20, fast generation with the one-step model (build/bench/wavenet-20.step.onnx)
// and the per-layer queues kept in JS ring buffers, greedy, 1 thread.
//
//   node bench/ort_wavenet.mjs web|node MODEL.onnx SAMPLES RUNS CHECK
//
// web:  onnxruntime-web, WASM backend (SIMD), ort.env.wasm.numThreads = 1
// node: onnxruntime-node, CPU provider, intraOpNumThreads = interOpNumThreads = 1
// Prints one JSON line: {engine, threads, samples_per_s (median), rates, tokens (the first CHECK greedy
// codes), logprobs}.
// The step model (bench/wavenet_step.py): inputs code [1] int64 and past [20,64] (layer l's input d_l
// samples ago), outputs logits [1,256] and cur [20,64] (layer l's input now). Layer l's queue is a ring of
// d_l rows of 64 floats (zeros at the start: the causal padding); at sample t, row t mod d_l is read into
// past[l], then overwritten with cur[l]. Generation starts with input code 128 (mu-law silence).
// Timed per run: SAMPLES samples, each = gathering past from the rings + session.run + argmax + pushing
// cur into the rings; samples/s = SAMPLES / time. Warm-up: one run of CHECK samples that records the
// codes, then more runs until BENCH_WARMUP_S seconds have passed.
import { median, argmax, logprobOf, warmupMs, loadOrt } from './common.mjs';

const [flavour, modelPath, samplesArg, runsArg, checkArg] = process.argv.slice(2);
const samples = Number(samplesArg), runs = Number(runsArg), check = Number(checkArg);
const { ort, options, threads } = await loadOrt(flavour, 'ort_wavenet.mjs web|node MODEL SAMPLES RUNS CHECK');
const session = await ort.InferenceSession.create(modelPath, options);
const R = 64, FIRST = 128;
const dilations = [];
for (let s = 0; s < 2; ++s) for (let d = 1; d <= 512; d *= 2) dilations.push(d);
const L = dilations.length;

// `n` greedy samples from empty queues -> samples/s (and, if `record`, codes and logprobs).
async function run(n, record) {
  const rings = dilations.map((d) => new Float32Array(d * R));
  const pastData = new Float32Array(L * R), codeData = BigInt64Array.of(BigInt(FIRST));
  const past = new ort.Tensor('float32', pastData, [L, R]), code = new ort.Tensor('int64', codeData, [1]);
  const codes = [], logprobs = [];
  const t0 = performance.now();
  for (let t = 0; t < n; ++t) {
    for (let l = 0; l < L; ++l) {
      const at = (t % dilations[l]) * R;
      pastData.set(rings[l].subarray(at, at + R), l * R);
    }
    const out = await session.run({ code, past });
    const cur = out.cur.data;
    for (let l = 0; l < L; ++l) rings[l].set(cur.subarray(l * R, (l + 1) * R), (t % dilations[l]) * R);
    const logits = out.logits.data;
    const next = argmax(logits);
    codeData[0] = BigInt(next);
    if (record) codes.push(next), logprobs.push(logprobOf(logits, next));
  }
  const s = (performance.now() - t0) / 1000;
  return { rate: n / s, codes, logprobs };
}

const rec = await run(check, true);  // warm-up and correctness record
for (const end = performance.now() + warmupMs(); performance.now() < end;) await run(Math.min(samples, 1000), false);
const rates = [];
for (let r = 0; r < runs; ++r) rates.push((await run(samples, false)).rate);
console.log(JSON.stringify({
  engine: `onnxruntime-${flavour}`, threads, samples_per_s: median(rates), rates,
  tokens: rec.codes, logprobs: rec.logprobs,
}));

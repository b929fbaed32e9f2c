// onnxruntime peers for llama-15m: the cached step model (build/bench/llama-15m.step.onnx, see
// bench/llama_step.py), greedy from BOS, 1 thread.
//
//   node bench/ort_llama.mjs web|node MODEL.onnx STEPS RUNS
//
// web:  onnxruntime-web, WASM backend (SIMD), ort.env.wasm.numThreads = 1
// node: onnxruntime-node, CPU provider, intraOpNumThreads = interOpNumThreads = 1
// Per run: one step on BOS (token 1, position 0, empty caches; not timed), then STEPS timed decode
// steps (argmax of the last logits, then session.run with the caches it returned).
// Prints one JSON line: {engine, threads, steps_per_s (median), rates, tokens, logprobs}.
// Warm-up: one run that records the tokens and their log-probabilities for the cross-engine check, then
// more runs until BENCH_WARMUP_S seconds have passed.
import { median, argmax, logprobOf, warmupMs, loadOrt } from './common.mjs';

const [flavour, modelPath, stepsArg, runsArg] = process.argv.slice(2);
const steps = Number(stepsArg), runs = Number(runsArg);
const { ort, options, threads } = await loadOrt(flavour, 'ort_llama.mjs web|node MODEL STEPS RUNS');
const session = await ort.InferenceSession.create(modelPath, options);
const [L, D, BOS] = [6, 288, 1];

function step(tok, pos, k_cache, v_cache) {
  const token = new ort.Tensor('int64', BigInt64Array.of(BigInt(tok)), [1, 1]);
  const p = new ort.Tensor('int64', BigInt64Array.of(BigInt(pos)), [1]);
  return session.run({ token, pos: p, k_cache, v_cache });
}

async function run(record) {
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [L, 0, D]);
  let out = await step(BOS, 0, empty(), empty());
  const tokens = [], logprobs = [];
  const t0 = performance.now();
  for (let i = 1; i <= steps; ++i) {
    const logits = out.logits.data;
    const tok = argmax(logits);
    if (record) tokens.push(tok), logprobs.push(logprobOf(logits, tok));
    out = await step(tok, i, out.k_cache_out, out.v_cache_out);
  }
  const s = (performance.now() - t0) / 1000;
  return { rate: steps / s, tokens, logprobs };
}

const check = await run(true);
for (const end = performance.now() + warmupMs(); performance.now() < end;) await run(false);
const rates = [];
for (let r = 0; r < runs; ++r) rates.push((await run(false)).rate);
console.log(JSON.stringify({
  engine: `onnxruntime-${flavour}`, threads, steps_per_s: median(rates), rates,
  tokens: check.tokens, logprobs: check.logprobs,
}));

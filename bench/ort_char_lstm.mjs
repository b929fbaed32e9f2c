// onnxruntime peers: the char-lstm step model (build/bench/char-lstm.step.onnx), greedy, 1 thread.
//
//   node bench/ort_char_lstm.mjs web|node MODEL.onnx PROMPT STEPS RUNS
//
// web:  onnxruntime-web, WASM backend (SIMD), ort.env.wasm.numThreads = 1
// node: onnxruntime-node, CPU provider, intraOpNumThreads = interOpNumThreads = 1
// Prints one JSON line: {engine, threads, steps_per_s (median), rates, tokens, logprobs}.
// Timed per run: STEPS decode steps (argmax of the last logits, then session.run) after the prompt.
// Warm-up: one run that records the tokens and their log-probabilities for the cross-engine check, then
// more runs until BENCH_WARMUP_S seconds have passed (wasm code tiers up in the background meanwhile).
import { median, argmax, logprobOf, warmupMs, loadOrt } from './common.mjs';

const [flavour, modelPath, prompt, stepsArg, runsArg] = process.argv.slice(2);
const steps = Number(stepsArg), runs = Number(runsArg);
const { ort, options, threads } = await loadOrt(flavour, 'ort_char_lstm.mjs web|node MODEL PROMPT STEPS RUNS');
const session = await ort.InferenceSession.create(modelPath, options);
const [L, H] = [2, 512];

function step(tok, h, c) {
  const token = new ort.Tensor('int64', BigInt64Array.of(BigInt(tok)), [1, 1]);
  return session.run({ token, h, c });
}

// Prompt, then `steps` greedy steps; returns steps/s and (if `record`) tokens and log-probabilities.
async function run(record) {
  let h = new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
  let c = new ort.Tensor('float32', new Float32Array(L * H), [L, 1, H]);
  let out;
  for (const b of Buffer.from(prompt, 'utf8')) {
    out = await step(b, h, c);
    ({ h_n: h, c_n: c } = out);
  }
  const tokens = [], logprobs = [];
  const t0 = performance.now();
  for (let i = 0; i < steps; ++i) {
    const logits = out.logits.data;
    const tok = argmax(logits);
    if (record) tokens.push(tok), logprobs.push(logprobOf(logits, tok));
    out = await step(tok, h, c);
    ({ h_n: h, c_n: c } = out);
  }
  const s = (performance.now() - t0) / 1000;
  return { rate: steps / s, tokens, logprobs };
}

const check = await run(true);  // warm-up and correctness record
for (const end = performance.now() + warmupMs(); performance.now() < end;) await run(false);  // more warm-up
const rates = [];
for (let r = 0; r < runs; ++r) rates.push((await run(false)).rate);
console.log(JSON.stringify({
  engine: `onnxruntime-${flavour}`, threads, steps_per_s: median(rates), rates,
  tokens: check.tokens, logprobs: check.logprobs,
}));

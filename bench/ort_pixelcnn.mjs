// onnxruntime peers: pixelcnn-gated, naive generation with the full model (build/bench/pixelcnn-gated.full.onnx)
// run once per pixel, greedy, 1 thread.
//
//   node bench/ort_pixelcnn.mjs web|node MODEL.onnx STEPS RUNS CHECK
//
// web:  onnxruntime-web, WASM backend (SIMD), ort.env.wasm.numThreads = 1
// node: onnxruntime-node, CPU provider, intraOpNumThreads = interOpNumThreads = 1
// Prints one JSON line: {engine, threads, ms_per_image (median), rates (ms/image per run), tokens (the
// first CHECK greedy pixel values, raster order), logprobs}.
// Timed per run: STEPS pixels from a blank image, each = one session.run over the whole [1,1,28,28] int64
// image (-> logits [1,1,28,28,256]) + argmax of that pixel's logits + writing the level into the image;
// ms/image = time / STEPS * 784. Warm-up: one run of CHECK pixels that records the values, then more runs
// until BENCH_WARMUP_S seconds have passed.
import { median, argmax, logprobOf, warmupMs, loadOrt } from './common.mjs';

const [flavour, modelPath, stepsArg, runsArg, checkArg] = process.argv.slice(2);
const steps = Number(stepsArg), runs = Number(runsArg), check = Number(checkArg);
const { ort, options, threads } = await loadOrt(flavour, 'ort_pixelcnn.mjs web|node MODEL STEPS RUNS CHECK');
const session = await ort.InferenceSession.create(modelPath, options);
const [H, W, L] = [28, 28, 256];

// `n` greedy pixels from a blank image -> ms per H*W-pixel image (and, if `record`, values, logprobs).
async function run(n, record) {
  const img = new BigInt64Array(H * W);
  const images = new ort.Tensor('int64', img, [1, 1, H, W]);  // views img: writes go into the next run
  const values = [], logprobs = [];
  const t0 = performance.now();
  for (let k = 0; k < n; ++k) {
    const { logits } = await session.run({ images });
    const v = logits.data.subarray(k * L, (k + 1) * L);  // pixel (k / W, k % W), channel 0
    const level = argmax(v);
    img[k] = BigInt(level);
    if (record) values.push(level), logprobs.push(logprobOf(v, level));
  }
  const ms = performance.now() - t0;
  return { rate: ms / n * H * W, values, logprobs };
}

const rec = await run(check, true);  // warm-up and correctness record
for (const end = performance.now() + warmupMs(); performance.now() < end;) await run(steps, false);
const rates = [];
for (let r = 0; r < runs; ++r) rates.push((await run(steps, false)).rate);
console.log(JSON.stringify({
  engine: `onnxruntime-${flavour}`, threads, ms_per_image: median(rates), rates,
  tokens: rec.values, logprobs: rec.logprobs,
  note: `${steps} of ${H * W} pixels timed, extrapolated`,
}));

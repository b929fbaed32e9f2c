// Small helpers shared by the JS benchmark engines.

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Index of the largest value (first one on ties, like torch.argmax and argen's ops::argmax).
export function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; ++i) if (v[i] > v[best]) best = i;
  return best;
}

// log_softmax(v)[i], computed in double precision.
export function logprobOf(v, i) {
  let max = -Infinity;
  for (const x of v) max = Math.max(max, x);
  let sum = 0;
  for (const x of v) sum += Math.exp(x - max);
  return v[i] - max - Math.log(sum);
}

// Extra warm-up time in ms after the first (recording) run: BENCH_WARMUP_S seconds, default 2.
export function warmupMs() {
  return 1000 * Number(process.env.BENCH_WARMUP_S ?? 2);
}

// The argen configuration of a run (bench/run.sh sets them): ARGEN_WEIGHTS f32|int8, ARGEN_THREADS.
export function argenConfig() {
  return { weights: process.env.ARGEN_WEIGHTS ?? 'f32', threads: Number(process.env.ARGEN_THREADS ?? 1) };
}

// onnxruntime: 'web' (the WASM backend, in Node; ORT_THREADS threads, default 1) or 'node' (the
// native CPU provider, 1 thread).
export async function loadOrt(flavour, usage) {
  if (flavour === 'web') {
    const ort = await import('onnxruntime-web');
    const threads = Number(process.env.ORT_THREADS ?? 1);
    ort.env.wasm.numThreads = threads;
    return { ort, threads, options: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' } };
  }
  if (flavour === 'node') {
    const ort = await import('onnxruntime-node');
    return { ort, threads: 1, options: { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
                                         executionMode: 'sequential', graphOptimizationLevel: 'all' } };
  }
  throw new Error(`usage: ${usage} (got '${flavour}')`);
}

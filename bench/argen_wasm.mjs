// argen wasm under Node, greedy, one of two ways:
//
//   generate:  the public API, `for await (ev of model.generate({prompt, maxTokens, temperature: 0}))`,
//              with ARGEN_WEIGHTS (f32|int8) and ARGEN_THREADS (> 1: the threaded core)
//   core:      (ARGEN_CORE=1) the single-threaded wasm core below it (build/wasm/pkg/argen-core.mjs):
//              stream.next(1) for the first token, then stream.next(STEPS - 1) in one call: no
//              per-token await / event-loop turn
//
//   node bench/argen_wasm.mjs MODEL.safetensors PROMPT STEPS RUNS
//
// maxTokens = STEPS token events. The first event costs the prompt plus one step, so the timed span is
// first event -> last event: STEPS - 1 decode steps (each one model step, sampling, text decoding,
// and for `generate` one trip through the async iterator); steps/s = (STEPS - 1) / span.
// Prints one JSON line: {engine, threads, steps_per_s (median), rates, tokens, logprobs}.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argenConfig, median, warmupMs } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = process.env.ARGEN_PKG ?? path.join(root, 'build/wasm/pkg');
const [modelPath, prompt, stepsArg, runsArg] = process.argv.slice(2);
const steps = Number(stepsArg), runs = Number(runsArg);
const opts = { prompt, maxTokens: steps, temperature: 0 };
const bytes = new Uint8Array(await readFile(modelPath));

// Runs `once` (which returns {span_ms, events}) once as warm-up and correctness record, again until
// BENCH_WARMUP_S seconds have passed, then `runs` times.
async function measure(engine, once) {
  const check = await once();
  if (check.events.length !== steps) throw new Error(`${engine}: ${check.events.length} tokens, expected ${steps}`);
  for (const end = performance.now() + warmupMs(); performance.now() < end;) await once();
  const rates = [];
  for (let r = 0; r < runs; ++r) rates.push((steps - 1) / ((await once()).span_ms / 1000));
  console.log(JSON.stringify({
    engine, threads, weights, steps_per_s: median(rates), rates,
    tokens: check.events.map((e) => e.id), logprobs: check.events.map((e) => e.logprob),
  }));
}

const { weights, threads } = argenConfig();
if (process.env.ARGEN_CORE !== '1') {
  // The public API.
  const { loadModel } = await import(path.join(pkg, 'argen.mjs'));
  const model = await loadModel(bytes, { weights, threads });
  await measure('argen-wasm', async () => {
    const events = [];
    let t0 = 0;
    for await (const ev of model.generate(opts)) {
      if (ev.type !== 'token') continue;
      if (events.length === 0) t0 = performance.now();
      events.push(ev);
    }
    return { span_ms: performance.now() - t0, events };
  });
  model.dispose();
} else {
  // The core, batched (what the API costs on top of it is the difference).
  const { default: createArgenCore } = await import(path.join(pkg, 'argen-core.mjs'));
  const core = await createArgenCore({ wasmBinary: await readFile(path.join(pkg, 'argen-core.wasm')) });
  const native = new core.Model(bytes, 'bench', weights);
  await measure('argen-wasm-core', async () => {
    const stream = native.generate(opts);
    const first = stream.next(1);
    const t0 = performance.now();
    const rest = stream.next(steps - 1);
    const span_ms = performance.now() - t0;
    stream.delete();
    return { span_ms, events: [...first, ...rest] };
  });
  native.delete();
}

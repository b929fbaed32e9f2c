// What the sampling options cost: llama-15m (32,000 ids) through the public API, wasm, 1 thread,
// greedy against temperature 0.8 with and without top-k / top-p, rounds rotated in one process so
// the host's drift hits every option alike. Prints tokens/s (median of rounds) and the ratio to
// greedy. Needs build/bench/llama-15m.safetensors (bench/run.sh makes it) and build/wasm/pkg.
//
//   node bench/sampling.mjs [ROUNDS]   (ARGEN_WEIGHTS f32|int8, default int8)
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = process.env.ARGEN_PKG ?? path.join(root, 'build/wasm/pkg');
const rounds = Number(process.argv[2] ?? 5);
const weights = process.env.ARGEN_WEIGHTS ?? 'int8';
const steps = 255;
const options = [
  ['greedy', { temperature: 0 }],
  ['temperature 0.8', { temperature: 0.8 }],
  ['+ top-k 40', { temperature: 0.8, topK: 40 }],
  ['+ top-p 0.9', { temperature: 0.8, topP: 0.9 }],
  ['+ top-k 40, top-p 0.9', { temperature: 0.8, topK: 40, topP: 0.9 }],
];

const { loadModel } = await import(path.join(pkg, 'argen.mjs'));
const model = await loadModel(new Uint8Array(await readFile(path.join(root, 'build/bench/llama-15m.safetensors'))),
  { weights, threads: 1 });
// tokens/s over steps - 1 decode steps (the first event also costs the prompt).
async function once(opts) {
  let t0 = 0, n = 0;
  for await (const ev of model.generate({ prompt: '', maxTokens: steps, seed: 1, ...opts })) {
    if (ev.type !== 'token') continue;
    if (n++ === 0) t0 = performance.now();
  }
  if (n !== steps) throw new Error(`${n} tokens, expected ${steps}`);
  return (steps - 1) / ((performance.now() - t0) / 1000);
}
for (const [, o] of options) await once(o);  // warm-up
const rates = options.map(() => []);
for (let r = 0; r < rounds; ++r)
  for (let k = 0; k < options.length; ++k) {
    const i = (k + r) % options.length;
    rates[i].push(await once(options[i][1]));
  }
model.dispose();
const greedy = median(rates[0]);
console.log(`llama-15m, wasm, 1 thread, ${weights}, ${steps} tokens from BOS, median of ${rounds} rounds\n`);
console.log('| sampling | tokens/s | vs greedy |\n|---|---:|---:|');
options.forEach(([name], i) => console.log(`| ${name} | ${median(rates[i]).toFixed(0)} | ${(median(rates[i]) / greedy).toFixed(2)}x |`));

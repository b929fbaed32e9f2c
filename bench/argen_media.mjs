// argen wasm under Node (single-threaded build) on the image and audio suite models, through the
// public API, greedy:
//
//   node bench/argen_media.mjs image MODEL.safetensors RUNS CHECK      (pixelcnn-gated)
//   node bench/argen_media.mjs audio MODEL.safetensors SAMPLES RUNS CHECK  (wavenet-20)
//
// image: `for await (ev of model.generate({temperature: 0}))` over the whole image (pixel and row
//   events), timed from the generate() call to the done event; ms per image.
// audio: `model.generate({samples, temperature: 0, chunkSize: 4096})` (after one sample of silence,
//   as the peers start), timed likewise; samples/s. The codes are recovered from the samples by
//   mu-law encoding (exact: decoding then encoding a code gives it back); audio events carry no
//   log-probabilities, so only the codes are checked.
// Prints one JSON line: {engine, threads, ms_per_image | samples_per_s, rates, tokens, logprobs}.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argenConfig, median, warmupMs } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = process.env.ARGEN_PKG ?? path.join(root, 'build/wasm/pkg');
const [kind, modelPath, ...rest] = process.argv.slice(2);
const image = kind === 'image';
const [samples, runs, check] = (image ? [0, ...rest] : rest).map(Number);
const { loadModel } = await import(path.join(pkg, 'argen.mjs'));
const { weights, threads } = argenConfig();  // ARGEN_WEIGHTS, ARGEN_THREADS
const model = await loadModel(new Uint8Array(await readFile(modelPath)), { weights, threads });

const muLaw = (x) => {  // as argen's mu_law_encode with 256 levels
  const y = Math.sign(x) * Math.log1p(255 * Math.abs(x)) / Math.log1p(255);
  return Math.floor((y + 1) / 2 * 255 + 0.5);
};

async function once() {
  const tokens = [], logprobs = [];
  const t0 = performance.now();
  const opts = image ? { temperature: 0 } : { temperature: 0, samples, chunkSize: 4096 };
  for await (const ev of model.generate(opts)) {
    if (ev.type === 'pixel' && tokens.length < check) tokens.push(ev.value), logprobs.push(ev.logprob);
    if (ev.type === 'audio') for (let i = 0; i < ev.samples.length && tokens.length < check; i++) tokens.push(muLaw(ev.samples[i]));
  }
  const ms = performance.now() - t0;
  return { rate: image ? ms : samples / (ms / 1000), tokens, logprobs };
}

const rec = await once();
for (const end = performance.now() + warmupMs(); performance.now() < end;) await once();
const rates = [];
for (let r = 0; r < runs; ++r) rates.push((await once()).rate);
console.log(JSON.stringify({
  engine: 'argen-wasm', threads, weights, [image ? 'ms_per_image' : 'samples_per_s']: median(rates), rates,
  tokens: rec.tokens, logprobs: rec.logprobs,
}));
model.dispose();

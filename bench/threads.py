#!/usr/bin/python3
"""Speed-up from threads: every suite model with 1 and 2 threads, float32 and int8 weights, argen
native (`argen bench --threads T --weights W`) and wasm (loadModel({threads: T, weights: W}) under
Node 20: the single-threaded core for T = 1, the threaded one, argen-core-mt, for T = 2). Greedy, warm, median of runs; prints a table.
Needs build/bench/*.safetensors (bench/run.sh makes them).

    bench/threads.py [--quick] [--model NAME]...
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGEN = os.path.join(ROOT, "build/native/argen")
PKG = os.environ.get("ARGEN_PKG", os.path.join(ROOT, "build/wasm/pkg"))
QUICK = "--quick" in sys.argv
# model -> (argen bench args, JS generate options, metric, elements per run)
MODELS = {
    "char-lstm": (["--prompt-tokens", "32", "--tokens", "512"], {"prompt": "In the beginning God created the", "maxTokens": 512}, "steps/s"),
    "llama-15m": (["--prompt-tokens", "1", "--tokens", "255"], {"prompt": "", "maxTokens": 255}, "tokens/s"),
    "wavenet-20": (["--samples", "4000" if QUICK else "16000"], {"samples": 4000 if QUICK else 16000, "chunkSize": 4096}, "samples/s"),
    "pixelcnn-gated": ([], {}, "ms/image"),
}
RUNS = 1 if QUICK else 5

JS = r"""
const [pkg, file, threads, weights, opts, runs] = process.argv.slice(1);
const argen = await import(pkg + '/argen.mjs');
const m = await argen.loadModel(file, { threads: Number(threads), weights });
const o = { ...JSON.parse(opts), temperature: 0 };
const rates = [];
for (let r = 0; r <= Number(runs); r++) {  // run 0: warm-up
  // Text: from the first token (the prompt is not timed); images and audio: from the call.
  const text = m.info.modality === 'text';
  let n = 0, t0 = text ? 0 : performance.now();
  for await (const e of m.generate(o)) {
    if (e.type === 'done') break;
    if (!t0) t0 = performance.now();
    n += e.type === 'audio' ? e.samples.length : 1;
  }
  const ms = performance.now() - t0;
  if (r) rates.push(m.info.modality === 'image' ? ms : (text ? n - 1 : n) / ms * 1000);
}
rates.sort((a, b) => a - b);
console.log(JSON.stringify({ value: rates[rates.length >> 1], threads: argen.threads() }));
m.dispose();
"""


def native(model, threads, weights):
    args, _, metric = MODELS[model]
    out = subprocess.run([ARGEN, "bench", "--threads", str(threads), "--weights", weights,
                          "--model", os.path.join(ROOT, "build/bench", model + ".safetensors"), "--runs", str(RUNS)] + args,
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return j.get("ms_per_image") or j.get("samples_per_s") or j["steps_per_s"]


def wasm(model, threads, weights):
    _, opts, _ = MODELS[model]
    out = subprocess.run(["node", "--input-type=module", "-e", JS, PKG, os.path.join(ROOT, "build/bench", model + ".safetensors"),
                          str(threads), weights, json.dumps(opts), str(RUNS)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["value"]


def main():
    args = sys.argv[1:]
    models = [args[i + 1] for i, a in enumerate(args) if a == "--model"] or list(MODELS)
    print(f"{'model':<16}{'engine':<14}{'weights':<9}{'metric':<11}{'1 thread':>10}{'2 threads':>11}{'speed-up':>10}")
    for model in models:
        metric = MODELS[model][2]
        for name, fn in (("argen-native", native), ("argen-wasm", wasm)):
            for weights in ("f32", "int8"):
                one, two = fn(model, 1, weights), fn(model, 2, weights)
                up = one / two if metric == "ms/image" else two / one
                print(f"{model:<16}{name:<14}{weights:<9}{metric:<11}{one:>10.1f}{two:>11.1f}{up:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()

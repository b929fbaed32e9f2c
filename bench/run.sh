#!/usr/bin/env bash
# Benchmarks of /work/shared/BENCH_SUITE.md, same weights, greedy decode, one table per model (see
# bench/README.md): argen native (1 thread), argen wasm single-threaded and threaded (2 threads, the
# pthreads core), each with float32 and int8 weights (`--weights int8` / loadModel({weights})),
# against onnxruntime-web (WASM, 1 and 2 threads), onnxruntime-node (1 thread) and PyTorch (1 thread);
# then bench/roofline.py: each argen row's fraction of the machine limit that binds it (limits probed
# right before each 1-thread row); then argen_kernels, the matrix kernels alone, natively each SIMD
# target and in wasm (one round per round of the models).
#
#   bench/run.sh [--quick] [--model char-lstm|llama-15m|pixelcnn-gated|wavenet-20]...
#
#   full run (default): per model 3 rounds over all engines, each engine 5 timed runs (after 2 s of warm-up
#     runs) per round; rate = median of the round medians; writes bench/results.json
#       char-lstm: 512 steps after a 32-byte prompt
#       llama-15m: 255 steps after BOS (the context is 256: BOS + 255 tokens)
#       pixelcnn-gated: naive peers, 24 pixels (one full forward each) per run, extrapolated to 784
#       wavenet-20: 16000 samples (1 s of audio) per run, 1 run per round (3 in all)
#   --quick: smoke run for CI: 1 round, 1 run, no extra warm-up, char-lstm 64 steps, llama-15m 32 steps,
#     pixelcnn-gated 4 pixels (8 checked), wavenet-20 256 samples; writes build/bench/results.json instead
#   --model M: only that model (repeatable); default: all of them
#
# Needs build/native/argen{,_kernels} and build/wasm/{pkg,argen_kernels.js} (built here with
# scripts/build.sh if missing), Debian's /usr/bin/python3 with torch, and node_modules (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

all_models="char-lstm llama-15m pixelcnn-gated wavenet-20"
usage() { echo "usage: bench/run.sh [--quick] [--model ${all_models// /|}]..." >&2; exit 2; }
quick=0 models=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --model) [ $# -ge 2 ] || usage; case " $all_models " in *" $2 "*) models="$models $2" ;; *) usage ;; esac; shift ;;
    *) usage ;;
  esac
  shift
done
models=${models:-$all_models}
if [ "$quick" = 1 ]; then
  rounds=1 runs=1 results=build/bench/results.json warmup=0
else
  rounds=3 runs=5 results=bench/results.json warmup=2
fi
export BENCH_WARMUP_S=$warmup  # warm-up seconds per engine after the first (recording) run
py=/usr/bin/python3
out=build/bench
prompt="In the beginning God created the"  # char-lstm: 32 bytes = 32 tokens (bytes tokenizer)

[ -x build/native/argen ] && [ -x build/native/argen_kernels ] || scripts/build.sh native >&2
[ -f build/wasm/pkg/argen.mjs ] && [ -f build/wasm/argen_kernels.js ] || scripts/build.sh wasm >&2
mkdir -p "$out"
# A private copy of the builds, so that a rebuild during the run cannot mix two versions.
rm -rf "$out/argen" "$out/pkg" "$out"/argen_kernels*
cp build/native/argen build/native/argen_kernels build/wasm/argen_kernels.js build/wasm/argen_kernels.wasm "$out/"
cp -r build/wasm/pkg "$out/pkg"
export ARGEN_PKG=$PWD/$out/pkg

echo "== models" >&2
"$py" bench/make_models.py "$out" $models >&2

# How busy the machine is: average busy cores between two /proc/stat samples (others share the machine).
cpustat() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
busy() { awk -v b=$(($3 - $1)) -v t=$(($4 - $2)) -v n="$(nproc)" 'BEGIN{printf "%.1f", t ? n * b / t : 0}'; }
s0=$(cpustat); sleep 1; s1=$(cpustat)
before=$(busy $s0 $s1)
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
build="argen $(git describe --always --dirty 2>/dev/null || echo '?'), builds of $(date -r build/native/argen +%H:%M) (native) and $(date -r build/wasm/pkg/argen-core.wasm +%H:%M) (wasm)"

run() {  # engine name, then its command: one JSON line into $dir/ENGINE.json
  local name=$1; shift
  echo "== $model round $round: $name" >&2
  "$@" > "$dir/$name.json"
}
argen_rows() {  # argen's rows: NATIVE_CMD... -- WASM_CMD..., each run with f32 and int8 weights, wasm
  # also with 2 threads; env ARGEN_WEIGHTS / ARGEN_THREADS tell the scripts (and the CLI's flags).
  local native=() wasm_cmd=() w s
  while [ "$1" != -- ]; do native+=("$1"); shift; done; shift
  wasm_cmd=("$@")
  for w in f32 int8; do
    s=$([ $w = int8 ] && echo -int8 || true)
    # Each 1-thread row right after a probe of the limits that bind it (bench/roofline.py pairs them).
    run "roofline-native$s" "$out/argen" roofline $sizes
    run "argen-native$s" env ARGEN_WEIGHTS=$w "${native[@]}"
    run "roofline-wasm$s" node bench/roofline.mjs $sizes
    run "argen-wasm$s" env ARGEN_WEIGHTS=$w ARGEN_THREADS=1 "${wasm_cmd[@]}"
    run "argen-wasm-2t$s" env ARGEN_WEIGHTS=$w ARGEN_THREADS=2 "${wasm_cmd[@]}"
  done
}
ort_web() {  # onnxruntime-web with 1 and 2 threads: its script and arguments
  run onnxruntime-web    env ORT_THREADS=1 node "$@"
  run onnxruntime-web-2t env ORT_THREADS=2 node "$@"
}
# Rounds over all engines (rather than all runs of one engine at once) spread slow phases of a shared
# machine over every engine.
status=0
for model in $models; do
  rm -rf "${out:?}/$model" "$out"/round*
  sizes=$("$py" bench/roofline.py --sizes "$model")  # its working sets, for the roofline probes
  s0=$(cpustat)
  for round in $(seq "$rounds"); do
    dir=$out/$model/round$round
    mkdir -p "$dir"
    case $model in
      char-lstm)
        steps=$([ "$quick" = 1 ] && echo 64 || echo 512)
        run pytorch          "$py" bench/torch_char_lstm.py "$prompt" "$steps" "$runs"
        argen_rows "$py" bench/argen_native.py "$out/argen" "$out/char-lstm.safetensors" "$prompt" "$steps" "$runs" \
                   "$dir/pytorch.json" -- node bench/argen_wasm.mjs "$out/char-lstm.safetensors" "$prompt" "$steps" "$runs"
        run argen-wasm-core  env ARGEN_CORE=1 node bench/argen_wasm.mjs "$out/char-lstm.safetensors" "$prompt" "$steps" "$runs"
        ort_web bench/ort_char_lstm.mjs web "$out/char-lstm.step.onnx" "$prompt" "$steps" "$runs"
        run onnxruntime-node node bench/ort_char_lstm.mjs node "$out/char-lstm.step.onnx" "$prompt" "$steps" "$runs"
        ;;
      llama-15m)
        # 255 decode steps after BOS fill the 256-token context. argen-native: `argen bench
        # --prompt-tokens 1 --tokens 255` (its one prompt token is pseudo-random, not BOS: same cost).
        # argen-wasm: generate({prompt: '', maxTokens: 255}) starts from BOS; it times the 254 steps
        # between the first and the last token event (see argen_wasm.mjs).
        steps=$([ "$quick" = 1 ] && echo 32 || echo 255)
        run pytorch          "$py" bench/torch_llama.py "$steps" "$runs"
        argen_rows "$py" bench/argen_native.py "$out/argen" "$out/llama-15m.safetensors" "" "$steps" "$runs" \
                   "$dir/pytorch.json" llama-15m -- node bench/argen_wasm.mjs "$out/llama-15m.safetensors" "" "$steps" "$runs"
        run argen-wasm-core  env ARGEN_CORE=1 node bench/argen_wasm.mjs "$out/llama-15m.safetensors" "" "$steps" "$runs"
        ort_web bench/ort_llama.mjs web "$out/llama-15m.step.onnx" "$steps" "$runs"
        run onnxruntime-node node bench/ort_llama.mjs node "$out/llama-15m.step.onnx" "$steps" "$runs"
        ;;
      pixelcnn-gated)
        # Naive peers: one full forward of the 28x28 image per pixel; 24 pixels timed per run,
        # extrapolated to ms per 784-pixel image. The first 64 pixels (the recording run) are checked.
        steps=$([ "$quick" = 1 ] && echo 4 || echo 24) check=$([ "$quick" = 1 ] && echo 8 || echo 64)
        run pytorch          "$py" bench/torch_pixelcnn.py "$steps" "$runs" "$check"
        # argen: cached generation of the whole image, timed per image (no extrapolation).
        argen_rows sh -c '"$0" bench --threads 1 --weights "$ARGEN_WEIGHTS" --model "$1" --runs "$2" --check "$3"' \
                     "$out/argen" "$out/pixelcnn-gated.safetensors" "$runs" "$check" \
                   -- node bench/argen_media.mjs image "$out/pixelcnn-gated.safetensors" "$runs" "$check"
        ort_web bench/ort_pixelcnn.mjs web "$out/pixelcnn-gated.full.onnx" "$steps" "$runs" "$check"
        run onnxruntime-node node bench/ort_pixelcnn.mjs node "$out/pixelcnn-gated.full.onnx" "$steps" "$runs" "$check"
        ;;
      wavenet-20)
        # Per-layer queues; 16000 samples (1 s at 16 kHz) per timed run, one run per round (the PyTorch
        # peer needs ~30 s for it); the first 64 samples (the recording run) are checked.
        samples=$([ "$quick" = 1 ] && echo 256 || echo 16000) check=64 wruns=1
        run pytorch          "$py" bench/torch_wavenet.py "$samples" "$wruns" "$check"
        argen_rows sh -c '"$0" bench --threads 1 --weights "$ARGEN_WEIGHTS" --model "$1" --samples "$2" --runs "$3" --check "$4"' \
                     "$out/argen" "$out/wavenet-20.safetensors" "$samples" "$wruns" "$check" \
                   -- node bench/argen_media.mjs audio "$out/wavenet-20.safetensors" "$samples" "$wruns" "$check"
        ort_web bench/ort_wavenet.mjs web "$out/wavenet-20.step.onnx" "$samples" "$wruns" "$check"
        run onnxruntime-node node bench/ort_wavenet.mjs node "$out/wavenet-20.step.onnx" "$samples" "$wruns" "$check"
        ;;
    esac
  done
  load_note="load: busy cores $before of $(nproc) before the runs (others), $(busy $s0 $(cpustat)) during $model's (ours: 1)"
  [ "$quick" = 1 ] && load_note="$load_note; QUICK SMOKE RUN: the numbers mean little"
  "$py" bench/report.py "$model" "$results" "machine: $machine; $(date -u '+%Y-%m-%d %H:%M UTC')
$build
$load_note" "$out/$model"/round*/ || status=1
  echo
done
# How close each argen row (1 thread) runs to the limit that binds it, each round's rate against the
# probe run just before it.
echo "== roofline" >&2
"$py" bench/roofline.py "$out" || status=1
# The kernels alone on the suite models' matrices: each native SIMD target, then wasm (bench/kernels.cc).
echo "== kernels" >&2
"$out/argen_kernels" "$rounds" || status=1
node --no-experimental-fetch "$out/argen_kernels.js" "$rounds" || status=1
exit $status

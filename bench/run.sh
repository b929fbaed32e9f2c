#!/usr/bin/env bash
# char-lstm benchmark: argen (native, wasm) against onnxruntime-web, onnxruntime-node and PyTorch, all on
# one thread, same weights, greedy decode after a 32-byte prompt. See bench/README.md.
#
#   bench/run.sh           full run: 3 rounds over all engines, each engine 512 steps x 5 timed runs (after
#                          2 s of warm-up runs) per round; steps/s = median of the round medians; writes bench/results.json
#   bench/run.sh --quick   smoke run for CI: 1 round, 64 steps, 1 run; writes build/bench/results.json instead
#
# Needs build/native/argen and build/wasm/pkg (built here with scripts/build.sh if missing), Debian's
# /usr/bin/python3 with torch, and node_modules (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") rounds=3 steps=512 runs=5 results=bench/results.json warmup=2 ;;
  --quick) rounds=1 steps=64 runs=1 results=build/bench/results.json warmup=0 ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
export BENCH_WARMUP_S=$warmup  # warm-up seconds per engine after the first (recording) run
py=/usr/bin/python3
out=build/bench
prompt="In the beginning God created the"  # 32 bytes = 32 tokens (bytes tokenizer)

[ -x build/native/argen ] || scripts/build.sh native >&2
[ -f build/wasm/pkg/argen.mjs ] || scripts/build.sh wasm >&2
mkdir -p "$out"
# A private copy of the builds, so that a rebuild during the run cannot mix two versions.
rm -rf "$out/argen" "$out/pkg"
cp build/native/argen "$out/argen"
cp -r build/wasm/pkg "$out/pkg"
export ARGEN_PKG=$PWD/$out/pkg

echo "== models" >&2
"$py" bench/make_models.py "$out" >&2

# How busy the machine is: average busy cores between two /proc/stat samples (others share the machine).
cpustat() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
busy() { awk -v b=$(($3 - $1)) -v t=$(($4 - $2)) -v n="$(nproc)" 'BEGIN{printf "%.1f", t ? n * b / t : 0}'; }
s0=$(cpustat); sleep 1; s1=$(cpustat)
before=$(busy $s0 $s1)
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
build="argen $(git describe --always --dirty 2>/dev/null || echo '?'), builds of $(date -r build/native/argen +%H:%M) (native) and $(date -r build/wasm/pkg/argen-core.wasm +%H:%M) (wasm)"

run() {  # engine name, then its command: one JSON line into $dir/ENGINE.json
  local name=$1; shift
  echo "== round $round: $name" >&2
  "$@" > "$dir/$name.json"
}
# Rounds over all engines (rather than all runs of one engine at once) spread slow phases of a shared
# machine over every engine.
rm -rf "$out"/round*
s0=$(cpustat)
for round in $(seq "$rounds"); do
  dir=$out/round$round
  mkdir -p "$dir"
  run pytorch          "$py" bench/torch_char_lstm.py "$prompt" "$steps" "$runs"
  run argen-native     "$py" bench/argen_native.py "$out/argen" "$out/char-lstm.safetensors" \
                         "$prompt" "$steps" "$runs" "$dir/pytorch.json"
  # argen_wasm.mjs prints two lines: the public generate() API, then the core batched.
  run argen-wasm-both node bench/argen_wasm.mjs "$out/char-lstm.safetensors" "$prompt" "$steps" "$runs"
  sed -n 1p "$dir/argen-wasm-both.json" > "$dir/argen-wasm.json"
  sed -n 2p "$dir/argen-wasm-both.json" > "$dir/argen-wasm-core.json"
  run onnxruntime-web  node bench/ort_char_lstm.mjs web  "$out/char-lstm.step.onnx" "$prompt" "$steps" "$runs"
  run onnxruntime-node node bench/ort_char_lstm.mjs node "$out/char-lstm.step.onnx" "$prompt" "$steps" "$runs"
done

load_note="load: busy cores $before of $(nproc) before the run (others), $(busy $s0 $(cpustat)) during it (ours: 1)"
[ "$rounds" = 1 ] && [ "$runs" = 1 ] && load_note="$load_note; QUICK SMOKE RUN: the numbers mean little"
"$py" bench/report.py "$results" "machine: $machine; $(date -u '+%Y-%m-%d %H:%M UTC')
$build
$load_note" "$out"/round*/

#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build/fuzz and runs each for SECONDS
# (default 15) from its committed seed corpus (fuzz/corpus/<target>). New inputs go to
# build/fuzz/corpus/<target>; crashes to build/fuzz/crash-<target>-* and fail the run.
# Every crash found becomes a regression test (a file in tests/hostile or a test case).
# Usage: fuzz/run.sh [SECONDS] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model_file tokenizer generate)
CC=clang CXX=clang++ cmake -S . -B build/fuzz -DARGEN_FUZZ=ON -DARGEN_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$t"
  # -malloc_limit_mb: one allocation over 256 MB from a fuzzed input is a finding (inputs are < 128 KB).
  if ! "build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=131072 -malloc_limit_mb=256 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="build/fuzz/crash-$t-" \
      "build/fuzz/corpus/$t" "fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1; then
    tail -40 "build/fuzz/$t.log"
    echo "fuzz_$t: crash, see build/fuzz/crash-$t-* and build/fuzz/$t.log"
    exit 1
  fi
  echo "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "build/fuzz/$t.log" | grep -oE '[0-9]+$') runs in ${secs} s," \
       "$(ls "build/fuzz/corpus/$t" | wc -l) corpus inputs, no crash"
done

#!/usr/bin/env bash
# Runs every test on a fresh machine: installs dependencies, builds both targets, then runs the native
# doctest suite, the same suite compiled to wasm (under node), the JS API tests against the wasm build,
# the Python exporter checks, and a short benchmark run (benchmarks print; they assert nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh all
echo "== python";       /usr/bin/python3 models/test_export.py && /usr/bin/python3 models/test_llama2c.py
echo "== bench smoke";  ./bench/run.sh --quick >/dev/null && echo "bench ran"
# The native suite again under AddressSanitizer + UndefinedBehaviorSanitizer (own build dir).
echo "== asan+ubsan";   cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Release -DARGEN_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$(nproc)" --target argen_tests
build/asan/argen_tests
# The thread tests under ThreadSanitizer (own build dir): the pool's hand-offs and every split.
echo "== tsan";         cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Release -DARGEN_TSAN=ON >/dev/null
cmake --build build/tsan -j"$(nproc)" --target argen_tests
# Without address randomization: GCC 12's ThreadSanitizer aborts at start ("unexpected memory
# mapping") on kernels that randomize more address bits (vm.mmap_rnd_bits 32).
setarch "$(uname -m)" -R build/tsan/argen_tests -tc="threads*"
# Each libFuzzer target for 15 s (fuzz/run.sh builds them with clang).
echo "== fuzz";         ./fuzz/run.sh 15
# Last, so its summary closes the log: native suite, wasm suite (under node), JS API tests.
echo "== ctest";        (cd build/native && ctest --output-on-failure)

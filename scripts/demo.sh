#!/usr/bin/env bash
# The main job: builds argen and streams text from the bundled model. Extra arguments go to
# `argen generate`, e.g. scripts/demo.sh --prompt "And God said" --max-tokens 400 --seed 7
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >&2
./scripts/build.sh native >&2
if [ $# -eq 0 ]; then set -- --prompt "And it came to pass" --max-tokens 400; fi
exec build/native/argen generate "$@"

#!/usr/bin/env bash
# The main job: builds argen for the browser and serves the demo page with the bundled models
# (text, images, audio) at http://127.0.0.1:8080/ (Ctrl-C stops). Arguments go to
# scripts/serve.mjs, e.g. scripts/demo.sh --port 9000 --host 0.0.0.0 --no-isolation
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >&2
./scripts/build.sh wasm >&2
exec node scripts/serve.mjs "$@"

#!/usr/bin/env bash
# Builds pushgate and runs it on the embedded demo app (ws://localhost:6001, http://localhost:6002).
# Extra arguments go to pushgate, e.g. ./run.sh --config my.json
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target pushgate
exec ./build/pushgate "$@"

#!/usr/bin/env bash
# Builds pushgate and runs every test: clang-format check, C unit tests (ctest + cmocka) and the
# end-to-end suite (official pusher-js and pusher SDK against the real binary).
#   ./test.sh             normal build (build/)
#   ./test.sh --sanitize  the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   ./test.sh --all       both, one after the other (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-}
if [ "$mode" = "--all" ]; then
  "$0" && "$0" --sanitize
  exit $?
fi
scripts/deps-debian.sh
[ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund

echo "== clang-format"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

if [ "$mode" = "--sanitize" ]; then
  dir=build-asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DPG_SANITIZE=ON >/dev/null
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  dir=build
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "== build ($dir)"
cmake --build "$dir" -j"$(nproc)"

echo "== unit tests ($dir)"
(cd "$dir" && ctest --output-on-failure)

echo "== end-to-end tests ($dir)"
PUSHGATE_BIN="$PWD/$dir/pushgate" node --test --test-concurrency=1 tests/e2e/

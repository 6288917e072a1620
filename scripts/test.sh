#!/usr/bin/env bash
# The README's test command (`npm test`): the Debian tools the tests use (installed when missing and
# allowed, see test-tools.sh), format and lint (Biome), type check, build, unit tests, then
# integration tests against the real local Kafka + HDFS. The stack is started when it is not running, and stopped at
# the end only if this run started it.  Usage: test.sh [unit|integration] [extra node --test args]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}; shift || true

source scripts/test-tools.sh
ensure_test_tools

echo "== format and lint (biome ci)"; npx biome ci --colors=off --error-on-warnings .
echo "== type check"; npx tsc -p tsconfig.json --noEmit
echo "== build"; npm run -s build

run_tests() { # $1 = folder, then extra node --test args
  local dir=$1; shift
  mapfile -t files < <(find "test/$dir" -name '*.test.ts' | sort)
  [ ${#files[@]} -gt 0 ] || { echo "no tests in test/$dir" >&2; return 1; }
  node --import tsx --test --test-reporter=spec --test-concurrency=1 "$@" "${files[@]}"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
  echo "== unit tests"; run_tests unit "$@"
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
  started=
  if [ -z "${KAFKA_BROKERS:-}${WEBHDFS_URL:-}" ]; then
    if ! bash scripts/stack.sh status >/dev/null 2>&1; then started=1; fi
    bash scripts/stack.sh up
    trap '[ -n "$started" ] && bash scripts/stack.sh down' EXIT
  fi
  echo "== integration tests"; run_tests integration "$@"
fi

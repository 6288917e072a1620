#!/usr/bin/env bash
# Regenerate the pcap-query expression parser (src/query/filter/expr/parser.js + parser.d.ts) from
# src/query/filter/expr/grammar.peggy with peggy (a devDependency; the generated files are committed so
# the runtime needs no parser generator). Usage: scripts/gen-parser.sh [output-dir]
# The unit test test/unit/query-expr.test.ts runs this into a temporary directory and fails when
# the committed files differ from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/query/filter/expr}
mkdir -p "$out"
node_modules/.bin/peggy \
  --format es \
  --dts \
  --return-types '{"Start": "import(\"./ast.js\").Expr | null"}' \
  -o "$out/parser.js" \
  src/query/filter/expr/grammar.peggy

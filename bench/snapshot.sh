#!/usr/bin/env bash
# Freezes a build for benchmarking: others rebuild dist/ while they work in this tree, and a
# benchmark that loads a half-rebuilt dist/ measures nothing. Builds, copies dist/ and
# package.json to bench/.work/snap (node_modules linked), records the commit and the changed
# source files in snap/BUILD, smoke-tests the CLI, and prints how to run the benchmarks from it.
#
#   bash bench/snapshot.sh && BENCH_WORK=$PWD/bench/.work node bench/.work/snap/dist/bench/run.js
set -euo pipefail
cd "$(dirname "$0")/.."
{ npx tsc -p . >/dev/null 2>&1 || echo "note: tsc reported type errors (it still emitted)" >&2; } && node scripts/bundle.mjs
snap=bench/.work/snap
rm -rf "$snap"
mkdir -p "$snap"
cp -r dist "$snap/dist"
cp package.json "$snap/"
ln -s "$PWD/node_modules" "$snap/node_modules"
{
  echo "commit $(git rev-parse --short HEAD) $(date -u +%FT%TZ)"
  changed=$(git status --short src | wc -l)
  echo "uncommitted src files: $changed"
} >"$snap/BUILD"
tmp=$(mktemp -d)
node "$snap/dist/bundle/main.js" create smoke --dir "$tmp" --list s >/dev/null
node "$snap/dist/bundle/main.js" list --json --dir "$tmp" --list s | grep -q '"smoke"'
rm -rf "$tmp"
cat "$snap/BUILD"
echo "run: BENCH_WORK=$PWD/bench/.work node $snap/dist/bench/run.js [name...]"

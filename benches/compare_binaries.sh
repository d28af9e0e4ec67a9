#!/usr/bin/env bash
# Runs two crossthemes binaries on the same inputs (the seeds, the
# installguide articles, and a refresh that adds one seed article) and
# compares their output folders with compare_outputs.py.
# Usage: benches/compare_binaries.sh OLD_BINARY NEW_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
models="--models-dir models"

run_all() {
  local bin=$1 out=$2
  "$bin" $models --input seeds --output "$out/seeds" --quiet
  "$bin" $models --input ../shared/bench/installguide/articles --output "$out/installguide" --quiet
  mkdir -p "$out/input"
  cp seeds/00[0-3]* "$out/input/"
  "$bin" $models --input "$out/input" --output "$out/refresh" --quiet
  cp seeds/004* "$out/input/"
  "$bin" $models --input "$out/input" --output "$out/refresh" --quiet
}

run_all "$old" "$work/old"
run_all "$new" "$work/new"
status=0
for case in seeds installguide refresh; do
  python3 benches/compare_outputs.py "$work/old/$case" "$work/new/$case" || status=1
done
exit $status

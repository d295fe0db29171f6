#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Runs every fuzz target of a libFuzzer build (`make fuzz`; docs/fuzzing.md)
# for FUZZ_SECONDS each (default 60), one after the other, each on a scratch
# corpus in the build tree seeded from the checked-in one, with its
# dictionary, in a network namespace of its own (isolated.sh). Prints a
# table: executions, coverage (cov: edges, ft: features) and corpus size at
# the end of each run. Exits non-zero when a target found something: a crash,
# a sanitizer report, a timeout (-timeout=10 s for one input) or an
# out-of-memory (-rss_limit_mb=2048); the input that did it is kept in the
# build tree and named in the table.
#
#   tests/fuzz/run.sh [BUILD_DIR] [TARGET...]     (default build-asan, every target)
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-asan}
shift || true
seconds=${FUZZ_SECONDS:-60}
out=$build/tests/fuzz
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$out"/*_fuzzer; do [ -x "$f" ] && targets+=("$(basename "$f" _fuzzer)"); done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz targets in $out (build them: cmake --build $build --target fuzzers)" >&2
  exit 2
fi

failed=0
rows=()
for name in "${targets[@]}"; do
  binary=$out/${name}_fuzzer
  scratch=$out/corpus/$name
  artifacts=$out/artifacts/$name
  log=$out/logs/$name.log
  mkdir -p "$scratch" "$artifacts" "$(dirname "$log")"
  dict=$out/$name.dict  # harpc_add_fuzzer puts the target's dictionary there
  echo "== $name: ${seconds}s"
  before=$(ls "$artifacts" | wc -l)
  "$here/isolated.sh" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="$dict" -artifact_prefix="$artifacts/" "$scratch" "$here/corpus/$name" > "$log" 2>&1
  status=$?
  execs=$(grep -o "stat::number_of_executed_units: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*$")
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  cov=$(echo "$last" | grep -o "cov: [0-9]*" | grep -o "[0-9]*")
  ft=$(echo "$last" | grep -o "ft: [0-9]*" | grep -o "[0-9]*")
  corp=$(echo "$last" | grep -o "corp: [0-9]*/[0-9]*[a-zA-Z]*" | sed 's/corp: //')
  rate=$(grep -o "exec/s: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*$")
  result=ok
  found=$(ls -t "$artifacts" | head -1)
  if [ "$status" -ne 0 ] || [ "$(ls "$artifacts" | wc -l)" -gt "$before" ]; then
    result="FOUND ${found:-(exit $status)}"
    failed=1
    grep -m3 -E "ERROR: |runtime error:|SUMMARY:" "$log" | sed "s|^|   $name: |"
  fi
  rows+=("$(printf '%-20s %12s %8s %8s %8s %14s  %s' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo
printf '%-20s %12s %8s %8s %8s %14s  %s\n' target executions exec/s cov ft corpus result
for row in "${rows[@]}"; do echo "$row"; done
echo "(logs: $out/logs; findings: $out/artifacts/<target>/)"
exit $failed

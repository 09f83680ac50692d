#!/usr/bin/env bash
# Run every fuzz target of the module for a while (default 10s each) and
# print the executions each achieved. A crash fails the run and leaves the
# input under the package's testdata/fuzz/ as a regression case.
#   scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1) || { echo "$out"; echo "FAIL fuzz $pkg $target"; status=1; continue; }
    execs=$(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 | cut -d' ' -f2)
    echo "ok   fuzz $pkg $target ${fuzztime} execs=${execs:-?}"
  done
done
exit $status

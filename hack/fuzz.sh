#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each.
#
# Usage: hack/fuzz.sh [FUZZTIME]   (default 30s; any -fuzztime value)
#
# Targets are found by their name (func FuzzXxx in *_test.go); go test runs one
# target of one package at a time. A crash fails the script and leaves the
# failing input in the package's testdata/fuzz folder: commit it as a seed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${1:-30s}

found=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*testing\.F).*/\1/p' "$file"); do
    found=$((found + 1))
    echo "--- fuzz $pkg $target for $fuzztime"
    # Minimizing a new interesting input may take up to 60 s by default, and
    # no new inputs are tried meanwhile ("execs: N (0/sec)"): a bounded run
    # would spend much of its time there.
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 3s
  done
done < <(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go' -not -path './bin/*')

if [[ $found -eq 0 ]]; then
  echo "no fuzz target found" >&2
  exit 1
fi
echo "--- $found fuzz targets ran for $fuzztime each without a crash"

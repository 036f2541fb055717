#!/usr/bin/env bash
# Regenerates the files controller-gen owns and fails when they differ from
# what was there before: generated files must be committed in sync with the
# markers. Works without git (it compares against a snapshot), so it also
# catches drift in a working tree with uncommitted changes.
#
# Usage: hack/verify-generated.sh MAKE PATH...
set -euo pipefail
make_cmd=$1; shift
snapshot=$(mktemp -d)
trap 'rm -rf "$snapshot"' EXIT

for p in "$@"; do
  if [[ -e "$p" ]]; then
    mkdir -p "$snapshot/$(dirname "$p")"
    cp -R "$p" "$snapshot/$p"
  fi
done

$make_cmd -s manifests generate >/dev/null

drift=0
for p in "$@"; do
  if ! diff -ruN "$snapshot/$p" "$p" >"$snapshot/diff.txt" 2>&1; then
    echo "generated files drift from the markers: $p"
    sed -n 1,60p "$snapshot/diff.txt"
    drift=1
  fi
done
if [[ $drift -ne 0 ]]; then
  echo
  echo "The tree now holds the regenerated files: review and commit them (make manifests generate)."
  exit 1
fi

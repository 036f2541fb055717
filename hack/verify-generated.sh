#!/usr/bin/env bash
# Regenerates the files controller-gen owns and fails when they differ from
# what was there before: generated files must be committed in sync with the
# markers. Works without git (it compares against a snapshot), so it also
# catches drift in a working tree with uncommitted changes.
#
# Usage: [VERIFY_TARGETS="docs"] hack/verify-generated.sh MAKE PATH...
# (VERIFY_TARGETS: the make targets that regenerate PATH; default
# "manifests generate".)
set -euo pipefail
make_cmd=$1; shift
targets=${VERIFY_TARGETS:-manifests generate}
snapshot=$(mktemp -d)
trap 'rm -rf "$snapshot"' EXIT

for p in "$@"; do
  if [[ -e "$p" ]]; then
    mkdir -p "$snapshot/$(dirname "$p")"
    cp -R "$p" "$snapshot/$p"
  fi
done

# shellcheck disable=SC2086 # targets is a list of words
$make_cmd -s $targets >/dev/null

drift=0
for p in "$@"; do
  if ! diff -ruN "$snapshot/$p" "$p" >"$snapshot/diff.txt" 2>&1; then
    echo "generated files drift from their sources: $p (make $targets)"
    sed -n 1,60p "$snapshot/diff.txt"
    drift=1
  fi
done
if [[ $drift -ne 0 ]]; then
  echo
  echo "The tree now holds the regenerated files: review and commit them (make $targets)."
  exit 1
fi

#!/usr/bin/env bash
# Copies the generated manifests the chart embeds from config/ into files/:
#   config/crd/bases/*.yaml  -> files/crds/   (the CRDs, rendered by templates/crd/)
#   config/rbac/role.yaml    -> files/rbac/   (the manager's rules, by templates/rbac/manager.yaml)
#   config/prometheus/prometheusrule.yaml -> files/prometheus/ (the alerts, by templates/prometheusrule.yaml)
# Run it after `make manifests`. With --check it changes nothing and fails when
# the chart's copies differ from config/ (the chart render test checks the same).
set -euo pipefail
chart=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$chart/../.." && pwd)

check=0
if [[ ${1:-} == --check ]]; then
  check=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--check]" >&2
  exit 2
fi

pairs=()
for crd in "$root"/config/crd/bases/*.yaml; do
  pairs+=("$crd" "$chart/files/crds/$(basename "$crd")")
done
pairs+=("$root/config/rbac/role.yaml" "$chart/files/rbac/role.yaml")
pairs+=("$root/config/prometheus/prometheusrule.yaml" "$chart/files/prometheus/prometheusrule.yaml")

drift=0
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
  src=${pairs[i]} dst=${pairs[i + 1]}
  if cmp -s "$src" "$dst"; then
    continue
  fi
  if [[ $check -eq 1 ]]; then
    echo "out of sync: ${dst#"$root"/} (from ${src#"$root"/})"
    drift=1
  else
    mkdir -p "$(dirname "$dst")"
    cp "$src" "$dst"
    echo "updated ${dst#"$root"/}"
  fi
done

# CRDs removed from config/ are removed from the chart too.
for dst in "$chart"/files/crds/*.yaml; do
  [[ -e $dst ]] || continue
  if [[ ! -e "$root/config/crd/bases/$(basename "$dst")" ]]; then
    if [[ $check -eq 1 ]]; then
      echo "out of sync: ${dst#"$root"/} has no source in config/crd/bases"
      drift=1
    else
      rm "$dst"
      echo "removed ${dst#"$root"/}"
    fi
  fi
done

if [[ $drift -ne 0 ]]; then
  echo "run dist/chart/sync.sh to update the chart" >&2
  exit 1
fi

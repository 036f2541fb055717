#!/usr/bin/env bash
# Unit-tests the alerts of config/prometheus/prometheusrule.yaml with promtool
# (Debian: apt-get install prometheus) against test/prometheus/alerts_test.yaml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v promtool >/dev/null; then
  echo "promtool not found (Debian: apt-get install --no-install-recommends prometheus)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The PrometheusRule's spec is its last key: its body, one level out, is a
# plain rules file.
sed -n '/^spec:/,$p' config/prometheus/prometheusrule.yaml | sed '1d; s/^  //' > "$dir/rules.yaml"
cp test/prometheus/alerts_test.yaml "$dir/"
promtool check rules "$dir/rules.yaml"
promtool test rules "$dir/alerts_test.yaml"

#!/usr/bin/env bash
# The pieces of `make release VERSION=vX.Y.Z`. Each writes into DIST and
# changes nothing in the source tree: the release is where versions and the
# image digest are written, from VERSION and DIST/image/ref.
#
#   release.sh notes     VERSION DIST   CHANGELOG.md's entry -> DIST/release-notes.md
#   release.sh manifests VERSION DIST   config/default, image pinned -> DIST/install.yaml
#   release.sh chart     VERSION DIST   dist/chart, versioned and pinned -> DIST/arcgis-token-operator-X.Y.Z.tgz
#   release.sh sbom      VERSION DIST   the manager binary's modules -> DIST/arcgis-token-operator-VERSION.cdx.json
#   release.sh sums      VERSION DIST   image archives beside the rest, DIST/SHA256SUMS
#   release.sh assets    VERSION DIST   print the files a GitHub release attaches
#
# Tools come from the environment (the Makefile sets them): KUSTOMIZE,
# CYCLONEDX_GOMOD, HELM_PACKAGE. CHANGELOG overrides CHANGELOG.md, and
# SBOM_BINARY bin/image/manager-linux-amd64 (tests).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$root/hack/release/release.sh"
step=${1:?usage: release.sh STEP VERSION DIST}
version=${2:?usage: release.sh STEP VERSION DIST}
dist=${3:?usage: release.sh STEP VERSION DIST}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)

# vX.Y.Z with an optional pre-release (-rc.1): a SemVer 2 tag.
if [[ ! $version =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "VERSION=$version is not vMAJOR.MINOR.PATCH[-PRERELEASE]" >&2
  exit 1
fi
semver=${version#v}

image_ref() {
  local ref
  ref=$(cat "$dist/image/ref" 2>/dev/null) || { echo "no $dist/image/ref: build the image first (make image)" >&2; exit 1; }
  if [[ $ref != *":$version@sha256:"* ]]; then
    echo "$dist/image/ref is $ref, not the image of $version" >&2
    exit 1
  fi
  echo "$ref"
}

case $step in
notes)
  # The entry is written by people, for people: the release fails without
  # one rather than making one up from commit subjects.
  awk -v v="$semver" '
    $0 ~ "^## \\[" v "\\]" { found = 1; print; next }
    found && /^## / { exit }
    found && /^\[[^]]*\]: / { next }
    found { print }
    END { if (!found) exit 1 }
  ' "${CHANGELOG:-$root/CHANGELOG.md}" > "$dist/release-notes.md" || {
    echo "CHANGELOG.md has no entry \"## [$semver] - YYYY-MM-DD\": write one before releasing $version" >&2
    rm -f "$dist/release-notes.md"
    exit 1
  }
  if ! head -1 "$dist/release-notes.md" | grep -Eq "^## \[$semver\] - [0-9]{4}-[0-9]{2}-[0-9]{2}$"; then
    echo "CHANGELOG.md: the entry's heading must be \"## [$semver] - YYYY-MM-DD\", not \"$(head -1 "$dist/release-notes.md")\"" >&2
    exit 1
  fi
  ;;
manifests)
  ref=$(image_ref)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$root/config" "$work/"
  (cd "$work/config/manager" && "$KUSTOMIZE" edit set image "controller=$ref")
  "$KUSTOMIZE" build "$work/config/default" > "$dist/install.yaml"
  if ! grep -q "image: $ref\$" "$dist/install.yaml"; then
    echo "install.yaml does not pin $ref" >&2
    exit 1
  fi
  ;;
chart)
  ref=$(image_ref)
  digest=${ref##*@}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$root/dist/chart" "$work/chart"
  # The packaged chart pins the image the release built, as install.yaml does.
  sed -i "s|^  tag: \"\"|  tag: \"$version\"|; s|^  digest: \"\"|  digest: \"$digest\"|" "$work/chart/values.yaml"
  grep -q "^  digest: \"$digest\"" "$work/chart/values.yaml" || { echo "could not pin the digest in values.yaml" >&2; exit 1; }
  "$HELM_PACKAGE" "$work/chart" "$semver" "$dist" >/dev/null
  ;;
sbom)
  # The modules of the manager binary as shipped (its build information),
  # without a random serial number. (The "app" mode reads the version from
  # git with a library that does not understand worktrees.)
  bin=${SBOM_BINARY:-$root/bin/image/manager-linux-amd64}
  [[ -x $bin ]] || { echo "no manager binary $bin: build the image first (make image)" >&2; exit 1; }
  "$CYCLONEDX_GOMOD" bin -json -noserial -licenses -version "$version" \
    -output "$dist/arcgis-token-operator-$version.cdx.json" "$bin" 2>"$dist/.sbom.log" || { cat "$dist/.sbom.log" >&2; exit 1; }
  rm -f "$dist/.sbom.log"
  ;;
sums)
  for f in "$dist"/image/manager-*.tar; do
    [[ -e $f ]] || { echo "no image archives in $dist/image" >&2; exit 1; }
    arch=$(basename "$f" .tar); arch=${arch#manager-}
    ln -f "$f" "$dist/arcgis-token-operator-$version-linux-$arch.tar"
  done
  rm -f "$dist/SHA256SUMS"
  mapfile -t assets < <("$self" assets "$version" "$dist")
  (cd "$dist" && sha256sum "${assets[@]##*/}" > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
  ;;
assets)
  for f in install.yaml "arcgis-token-operator-$semver.tgz" "arcgis-token-operator-$version.cdx.json" \
    "arcgis-token-operator-$version-linux-amd64.tar" "arcgis-token-operator-$version-linux-arm64.tar" SHA256SUMS; do
    if [[ -e $dist/$f ]]; then echo "$dist/$f"; fi
  done
  ;;
*)
  echo "unknown step $step" >&2
  exit 2
  ;;
esac

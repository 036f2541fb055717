/*
Copyright 2026 The arcgis-token-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package release tests `make release` piece by piece, so that it cannot rot
// between releases: the notes from CHANGELOG.md, install.yaml and the chart
// pinned to the image's digest, the SBOM and SHA256SUMS (make
// release-artifacts, around a stand-in image: `make image` has its own
// tests), and that the tree names one version everywhere.
package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

const (
	version = "v9.8.7-rc.1"
	semver  = "9.8.7-rc.1"
	digest  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ref     = "ghcr.io/tokenoperator/arcgis-token-operator:" + version + "@" + digest
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The tree names one development version: the kustomize image tag and the
// chart's version and appVersion (whose default image tag is v+appVersion).
// A release writes its own into dist/, never into the tree.
func TestTreeNamesOneVersion(t *testing.T) {
	root := testenv.RepoRoot()
	var chart struct{ Version, AppVersion string }
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(root, "dist/chart/Chart.yaml"))), &chart); err != nil {
		t.Fatal(err)
	}
	var kust struct {
		Images []struct{ Name, NewName, NewTag string }
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(root, "config/manager/kustomization.yaml"))), &kust); err != nil {
		t.Fatal(err)
	}
	if chart.Version != chart.AppVersion {
		t.Errorf("dist/chart/Chart.yaml: version %s, appVersion %s", chart.Version, chart.AppVersion)
	}
	if len(kust.Images) != 1 || kust.Images[0].NewTag != "v"+chart.AppVersion {
		t.Errorf("config/manager/kustomization.yaml images %+v, want the tag v%s of the chart", kust.Images, chart.AppVersion)
	}
}

func TestReleaseArtifacts(t *testing.T) {
	root := testenv.RepoRoot()
	dist := t.TempDir()
	// A stand-in for `make image`'s output.
	if err := os.MkdirAll(filepath.Join(dist, "image"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"image/ref":               ref + "\n",
		"image/manager-amd64.tar": "amd64 archive",
		"image/manager-arm64.tar": "arm64 archive",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changelog := filepath.Join(dist, "CHANGELOG.md")
	if err := os.WriteFile(changelog, []byte("# Changelog\n\n## [Unreleased]\n\n## ["+semver+"] - 2026-12-05\n\n### Fixed\n\n- Something.\n\n## [9.8.6] - 2026-11-01\n\n- Older.\n\n["+semver+"]: https://example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(dist, "manager")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd: %v\n%s", err, out)
	}

	cmd := exec.Command("make", "-C", root, "release-artifacts", "VERSION="+version, "DIST="+dist)
	cmd.Env = append(os.Environ(), "CHANGELOG="+changelog, "SBOM_BINARY="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release-artifacts: %v\n%s", err, out)
	}

	t.Run("notes", func(t *testing.T) {
		notes := readFile(t, filepath.Join(dist, "release-notes.md"))
		if want := "## [" + semver + "] - 2026-12-05\n\n### Fixed\n\n- Something.\n"; strings.TrimSpace(notes) != strings.TrimSpace(want) {
			t.Errorf("release-notes.md:\n%s\nwant:\n%s", notes, want)
		}
	})

	t.Run("install.yaml", func(t *testing.T) {
		kinds := map[string]int{}
		var images []string
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(readFile(t, filepath.Join(dist, "install.yaml"))), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			kinds[u.GetKind()]++
			if u.GetKind() == "Deployment" {
				var d appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
					t.Fatal(err)
				}
				for _, c := range d.Spec.Template.Spec.Containers {
					images = append(images, c.Image)
				}
			}
		}
		for _, kind := range []string{"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"} {
			if kinds[kind] == 0 {
				t.Errorf("install.yaml has no %s (kinds: %v)", kind, kinds)
			}
		}
		if len(images) != 1 || images[0] != ref {
			t.Errorf("the Deployment runs %v, want %s", images, ref)
		}
	})

	t.Run("chart", func(t *testing.T) {
		chart := chartFiles(t, filepath.Join(dist, "arcgis-token-operator-"+semver+".tgz"))
		var meta struct{ Version, AppVersion string }
		if err := yaml.Unmarshal([]byte(chart["arcgis-token-operator/Chart.yaml"]), &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Version != semver || meta.AppVersion != semver {
			t.Errorf("the packaged chart: version %s appVersion %s, want %s", meta.Version, meta.AppVersion, semver)
		}
		var values struct {
			Image struct{ Repository, Tag, Digest string }
		}
		if err := yaml.Unmarshal([]byte(chart["arcgis-token-operator/values.yaml"]), &values); err != nil {
			t.Fatal(err)
		}
		if got := values.Image.Repository + ":" + values.Image.Tag + "@" + values.Image.Digest; got != ref {
			t.Errorf("the packaged chart's image %s, want %s", got, ref)
		}
		if _, ok := chart["arcgis-token-operator/templates/deployment.yaml"]; !ok {
			t.Errorf("the packaged chart lacks its templates: %v", keys(chart))
		}
	})

	t.Run("sbom", func(t *testing.T) {
		var bom struct {
			BOMFormat string `json:"bomFormat"`
			Metadata  struct {
				Component struct{ Name, Version string }
			}
			Components []struct{ Name, Version string }
		}
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dist, "arcgis-token-operator-"+version+".cdx.json"))), &bom); err != nil {
			t.Fatal(err)
		}
		if bom.BOMFormat != "CycloneDX" || !strings.Contains(bom.Metadata.Component.Name, "arcgis-token-operator") ||
			bom.Metadata.Component.Version != version {
			t.Errorf("SBOM %s for %+v", bom.BOMFormat, bom.Metadata.Component)
		}
		var controllerRuntime bool
		for _, c := range bom.Components {
			controllerRuntime = controllerRuntime || c.Name == "sigs.k8s.io/controller-runtime"
		}
		if len(bom.Components) < 20 || !controllerRuntime {
			t.Errorf("the SBOM lists %d components (controller-runtime among them: %v)", len(bom.Components), controllerRuntime)
		}
	})

	t.Run("SHA256SUMS", func(t *testing.T) {
		sums := readFile(t, filepath.Join(dist, "SHA256SUMS"))
		listed := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(sums), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok {
				t.Fatalf("SHA256SUMS line %q", line)
			}
			listed[name] = true
			h := sha256.Sum256([]byte(readFile(t, filepath.Join(dist, name))))
			if hex.EncodeToString(h[:]) != sum {
				t.Errorf("SHA256SUMS: %s does not match", name)
			}
		}
		assets, err := exec.Command("make", "-s", "-C", root, "release-assets", "VERSION="+version, "DIST="+dist).Output()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range strings.Fields(string(assets)) {
			names = append(names, filepath.Base(a))
		}
		want := []string{"install.yaml", "arcgis-token-operator-" + semver + ".tgz", "arcgis-token-operator-" + version + ".cdx.json",
			"arcgis-token-operator-" + version + "-linux-amd64.tar", "arcgis-token-operator-" + version + "-linux-arm64.tar"}
		for _, w := range want {
			if !listed[w] {
				t.Errorf("SHA256SUMS lacks %s:\n%s", w, sums)
			}
		}
		if strings.Join(names, " ") != strings.Join(append(want, "SHA256SUMS"), " ") {
			t.Errorf("release assets %v, want %v and SHA256SUMS", names, want)
		}
	})
}

// A release needs a changelog entry, a SemVer tag and an image of that
// version; each missing piece stops it with a message that says so.
func TestReleaseRefuses(t *testing.T) {
	root := testenv.RepoRoot()
	script := filepath.Join(root, "hack/release/release.sh")
	dist := t.TempDir()
	changelog := filepath.Join(dist, "CHANGELOG.md")
	if err := os.WriteFile(changelog, []byte("# Changelog\n\n## [1.0.0] - 2026-12-05\n\n- x\n\n## [1.1.0]\n\n- no date\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dist, "image"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "image/ref"), []byte(ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no changelog entry": {[]string{"notes", "v2.0.0"}, `CHANGELOG.md has no entry "## [2.0.0] - YYYY-MM-DD"`},
		"entry without date": {[]string{"notes", "v1.1.0"}, `the entry's heading must be "## [1.1.0] - YYYY-MM-DD"`},
		"not semver":         {[]string{"notes", "1.0.0"}, "VERSION=1.0.0 is not vMAJOR.MINOR.PATCH"},
		"another image":      {[]string{"manifests", "v1.0.0"}, "is " + ref + ", not the image of v1.0.0"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(script, append(tc.args, dist)...)
			cmd.Env = append(os.Environ(), "CHANGELOG="+changelog, "KUSTOMIZE=false")
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("release.sh %v: %v\n%s\nwant an error saying %q", tc.args, err, out, tc.want)
			}
		})
	}
	if b := readFile(t, filepath.Join(root, "CHANGELOG.md")); !regexp.MustCompile(`(?m)^## \[Unreleased\]$`).MatchString(b) {
		t.Error("CHANGELOG.md has no [Unreleased] section to add changes to")
	}
}

func chartFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

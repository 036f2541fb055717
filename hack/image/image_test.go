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

package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// staticBinaries builds a tiny static program for each platform, in place of
// the manager (which takes minutes to build for two platforms).
func staticBinaries(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"manager\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		bin := filepath.Join(dir, "manager-"+arch)
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GO111MODULE=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building a test binary for %s: %v\n%s", arch, err, b)
		}
		out["linux/"+arch] = bin
	}
	return out
}

func testSpec(t *testing.T) Spec {
	return Spec{
		Repository: "ghcr.io/tokenoperator/arcgis-token-operator",
		Version:    "v1.2.3",
		Revision:   "0123456789abcdef0123456789abcdef01234567",
		Source:     "https://github.com/tokenoperator/arcgis-token-operator",
		Created:    time.Unix(1790000000, 0),
		Binaries:   staticBinaries(t),
	}
}

func buildTo(t *testing.T, s Spec, dir string) *Result {
	t.Helper()
	base, err := BaseFiles()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, s, res); err != nil {
		t.Fatal(err)
	}
	return res
}

// treeHashes hashes every file under dir by its relative path.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The same inputs give the same bytes: the layout, the archives, the digest.
// A different creation time (another commit) gives another digest.
func TestReproducible(t *testing.T) {
	s := testSpec(t)
	a, b := t.TempDir(), t.TempDir()
	ra, rb := buildTo(t, s, a), buildTo(t, s, b)
	if ra.Digest != rb.Digest {
		t.Errorf("index digests differ: %s, %s", ra.Digest, rb.Digest)
	}
	ha, hb := treeHashes(t, a), treeHashes(t, b)
	if len(ha) == 0 {
		t.Fatal("nothing written")
	}
	for p, h := range ha {
		if hb[p] != h {
			t.Errorf("%s differs between two builds", p)
		}
	}
	if len(ha) != len(hb) {
		t.Errorf("the builds wrote %d and %d files", len(ha), len(hb))
	}

	later := s
	later.Created = s.Created.Add(time.Second)
	if rc := buildTo(t, later, t.TempDir()); rc.Digest == ra.Digest {
		t.Error("another creation time gave the same digest")
	}
}

// What a runtime reads: the platforms, the user, the entrypoint, the labels,
// the files with their owners and modes, and no shell.
func TestImageContent(t *testing.T) {
	s := testSpec(t)
	dir := t.TempDir()
	res := buildTo(t, s, dir)

	p, err := layout.FromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 || topManifest.Manifests[0].Digest != res.Digest ||
		topManifest.Manifests[0].MediaType != types.OCIImageIndex ||
		topManifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != s.Version {
		t.Fatalf("index.json: want one image index %s tagged %s, got %+v", res.Digest, s.Version, topManifest.Manifests)
	}
	idx, err := top.ImageIndex(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Annotations["org.opencontainers.image.revision"]; got != s.Revision {
		t.Errorf("index annotation revision = %q", got)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, s, d.Platform.Architecture, img)
	}
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v", platforms)
	}

	for _, arch := range []string{"amd64", "arm64"} {
		tag, _ := name.NewTag(s.Repository + ":" + s.Version)
		img, err := tarball.ImageFromPath(filepath.Join(dir, "manager-"+arch+".tar"), &tag)
		if err != nil {
			t.Fatalf("docker archive for %s: %v", arch, err)
		}
		checkImage(t, s, arch, img)
	}
	ref, err := os.ReadFile(filepath.Join(dir, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	if want := s.Repository + ":" + s.Version + "@" + res.Digest.String() + "\n"; string(ref) != want {
		t.Errorf("ref = %q, want %q", ref, want)
	}
}

func checkImage(t *testing.T, s Spec, arch string, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("%s: config platform %s/%s", arch, cf.OS, cf.Architecture)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("%s: user %q", arch, cf.Config.User)
	}
	if strings.Join(cf.Config.Entrypoint, " ") != "/manager" || len(cf.Config.Cmd) != 0 {
		t.Errorf("%s: entrypoint %q cmd %q", arch, cf.Config.Entrypoint, cf.Config.Cmd)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   s.Source,
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  "2026-09-21T14:13:20Z",
	}
	for k, v := range wantLabels {
		if cf.Config.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", arch, k, cf.Config.Labels[k], v)
		}
	}
	if !cf.Created.Equal(s.Created) {
		t.Errorf("%s: created %s", arch, cf.Created)
	}

	files := map[string]*tar.Header{}
	var caData []byte
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(hdr.Name, "/")] = hdr
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(s.Created) {
			t.Errorf("%s: %s owned by %d:%d, mtime %s", arch, hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		if hdr.Name == CABundlePath {
			caData, _ = io.ReadAll(tr)
		}
	}
	want := map[string]int64{
		"etc": 0o755, "etc/passwd": 0o644, "etc/group": 0o644, "etc/ssl": 0o755, "etc/ssl/certs": 0o755,
		CABundlePath: 0o644, "manager": 0o755,
	}
	for p, mode := range want {
		if hdr := files[p]; hdr == nil {
			t.Errorf("%s: %s missing", arch, p)
		} else if hdr.Mode != mode {
			t.Errorf("%s: %s mode %o, want %o", arch, p, hdr.Mode, mode)
		}
	}
	for p := range files {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected file %s (the image holds the manager, the user database and the CA roots only)", arch, p)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caData) || strings.Count(string(caData), "BEGIN CERTIFICATE") < 100 {
		t.Errorf("%s: the CA bundle holds %d certificates", arch, strings.Count(string(caData), "BEGIN CERTIFICATE"))
	}
}

func TestPasswdNamesTheUser(t *testing.T) {
	files, err := BaseFiles()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Data)
	}
	wantPasswd := fmt.Sprintf("%s:x:%d:%d:", UserName, UID, GID)
	if !strings.Contains(byPath["etc/passwd"], "\n"+wantPasswd) {
		t.Errorf("/etc/passwd lacks %q:\n%s", wantPasswd, byPath["etc/passwd"])
	}
	if !strings.Contains(byPath["etc/group"], fmt.Sprintf("\n%s:x:%d:", UserName, GID)) {
		t.Errorf("/etc/group lacks %s:\n%s", UserName, byPath["etc/group"])
	}
	if User != fmt.Sprintf("%d:%d", UID, GID) {
		t.Errorf("User %q does not match UID and GID", User)
	}
}

// A binary built with cgo needs a libc the image does not have.
func TestRejectsDynamicBinaries(t *testing.T) {
	s := testSpec(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler to build a dynamic binary")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	_ = os.WriteFile(src, []byte("package main\n\n// #include <stdio.h>\nimport \"C\"\n\nfunc main() { C.puts(C.CString(\"x\")) }\n"), 0o644)
	bin := filepath.Join(dir, "dyn")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	s.Binaries = map[string]string{"linux/amd64": bin}
	base, _ := BaseFiles()
	if _, err := Build(s, base); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("Build with a dynamic binary: %v", err)
	}
	s.Binaries = map[string]string{"linux/arm64": testSpec(t).Binaries["linux/amd64"]}
	if _, err := Build(s, base); err == nil || !strings.Contains(err.Error(), "not arm64") {
		t.Errorf("Build with an amd64 binary as arm64: %v", err)
	}
}

// make image-push (what the release workflow runs) pushes the layout's index
// with crane and checks the digest: here against a registry in this process.
func TestMakeImagePush(t *testing.T) {
	s := testSpec(t)
	dir := t.TempDir()
	res := buildTo(t, s, dir)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/tokenoperator/arcgis-token-operator"

	cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "image-push",
		"IMAGE_DIR="+dir, "IMAGE_REPO="+repo, "VERSION="+s.Version)
	cmd.Env = append(os.Environ(), "REGISTRY_USER=ci", "REGISTRY_PASSWORD=not-a-secret", "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make image-push: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "not-a-secret") {
		t.Errorf("make image-push printed the registry password:\n%s", out)
	}
	ref, err := name.ParseReference(repo + ":" + s.Version)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("the pushed tag: %v\n%s", err, out)
	}
	if got, _ := idx.Digest(); got != res.Digest {
		t.Errorf("the registry holds %s, the layout %s", got, res.Digest)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 2 {
		t.Errorf("the pushed index holds %v (%v), want two platforms", im, err)
	}
}

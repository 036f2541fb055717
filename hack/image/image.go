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
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec says what to build. Everything that goes into the image is here, so
// that the same Spec gives the same bytes (and digests) on every machine.
type Spec struct {
	// Repository and Version name the image (Repository:Version) in the
	// docker archives and the layout's index.
	Repository string
	Version    string
	// Revision is the source commit, Source the repository's URL.
	Revision string
	Source   string
	// Created is the time stamped on the config, the history and every file:
	// SOURCE_DATE_EPOCH, by default the commit's time, never the clock.
	Created time.Time
	// Binaries maps "linux/amd64" and the like to a static manager binary.
	Binaries map[string]string
}

// Labels are the image config's labels (and the index's annotations).
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "arcgis-token-operator",
		"org.opencontainers.image.description": "Keeps short-lived ArcGIS tokens in Kubernetes Secrets",
		"org.opencontainers.image.source":      s.Source,
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.revision":    s.Revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     s.Created.UTC().Format(time.RFC3339),
	}
}

// Platform is one image of the index, with its sizes.
type Platform struct {
	Platform string
	Image    v1.Image
	Digest   v1.Hash
	// Compressed is what a registry stores and a node pulls: the layers,
	// the config and the manifest. Unpacked is the size of the files.
	Compressed, Unpacked int64
}

// Result is the built index.
type Result struct {
	Index     v1.ImageIndex
	Digest    v1.Hash
	Platforms []Platform
}

// Ref is the image's reference pinned to the index digest.
func (r Result) Ref(s Spec) string {
	return fmt.Sprintf("%s:%s@%s", s.Repository, s.Version, r.Digest)
}

// Build builds one image per platform from the base files and the binaries,
// and the index of them.
func Build(s Spec, base []File) (*Result, error) {
	if s.Created.IsZero() {
		return nil, fmt.Errorf("no creation time: set SOURCE_DATE_EPOCH")
	}
	if len(s.Binaries) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	baseLayer, baseSize, err := layer(base, s.Created)
	if err != nil {
		return nil, err
	}
	platforms := make([]string, 0, len(s.Binaries))
	for p := range s.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)

	res := &Result{}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		osName, arch, ok := strings.Cut(p, "/")
		if !ok || osName != "linux" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		bin, err := os.ReadFile(s.Binaries[p])
		if err != nil {
			return nil, err
		}
		if err := checkStatic(s.Binaries[p], arch); err != nil {
			return nil, err
		}
		binLayer, binSize, err := layer([]File{{Path: strings.TrimPrefix(Entrypoint, "/"), Mode: 0o755, Data: bin}}, s.Created)
		if err != nil {
			return nil, err
		}
		img, err := image(s, arch, baseLayer, binLayer)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		pl := Platform{Platform: p, Image: img, Unpacked: baseSize + binSize}
		if pl.Digest, err = img.Digest(); err != nil {
			return nil, err
		}
		if pl.Compressed, err = compressedSize(img); err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, pl)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	res.Index = mutate.Annotations(idx, s.Labels()).(v1.ImageIndex)
	if res.Digest, err = res.Index.Digest(); err != nil {
		return nil, err
	}
	return res, nil
}

func image(s Spec, arch string, base, bin v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: s.Created.UTC()}
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: /etc/passwd, /etc/group (nonroot 65532), /" + CABundlePath,
		}},
		mutate.Addendum{Layer: bin, History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: " + Entrypoint + " (CGO_ENABLED=0 go build -trimpath)",
		}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = created
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{Entrypoint},
		WorkingDir: "/",
		Labels:     s.Labels(),
	}
	return mutate.ConfigFile(img, cf)
}

// layer makes a gzip-compressed tar layer of files, with every entry owned
// by root and stamped with created: the same files give the same digest.
// It returns the size of the files it holds.
func layer(files []File, created time.Time) (v1.Layer, int64, error) {
	files = append([]File(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var size int64
	for _, f := range files {
		hdr := &tar.Header{
			Name:    f.Path,
			Mode:    int64(f.Mode.Perm()),
			ModTime: created.UTC().Truncate(time.Second),
			Format:  tar.FormatPAX,
		}
		if f.Mode.IsDir() {
			hdr.Typeflag, hdr.Name = tar.TypeDir, f.Path+"/"
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
			size += hdr.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
	return l, size, err
}

// checkStatic fails unless path is a static executable for arch: a manager
// built with cgo would need a libc that the image does not have.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want == elf.EM_NONE || f.Machine != want {
		return fmt.Errorf("%s is for %s, not %s", path, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}

func compressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	total := m.Config.Size + int64(len(raw))
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}

// Write writes the index as an OCI layout (DIR/oci) and one docker archive
// per platform (DIR/manager-ARCH.tar), after removing what an earlier build
// left there, and the pinned reference (DIR/ref).
func Write(dir string, s Spec, res *Result) error {
	tag, err := name.NewTag(s.Repository + ":" + s.Version)
	if err != nil {
		return err
	}
	ociDir := filepath.Join(dir, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(res.Index, layout.WithAnnotations(map[string]string{
		// The tag, as the OCI image layout spec has it (umoci, skopeo)...
		"org.opencontainers.image.ref.name": s.Version,
		// ...and the whole name, which containerd's importer reads.
		"io.containerd.image.name": tag.String(),
	})); err != nil {
		return err
	}
	// go-containerregistry writes some blobs 0600 and index.json 0755: make
	// the layout readable by all and executable by none, like the archives.
	if err := filepath.WalkDir(ociDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o644)
	}); err != nil {
		return err
	}
	for _, pl := range res.Platforms {
		_, arch, _ := strings.Cut(pl.Platform, "/")
		out := filepath.Join(dir, "manager-"+arch+".tar")
		if err := tarball.MultiRefWriteToFile(out, map[name.Reference]v1.Image{tag: pl.Image}); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "ref"), []byte(res.Ref(s)+"\n"), 0o644)
}

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
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's user: the same UID and GID as distroless's nonroot, so that
// policies written for distroless images (runAsUser 65532) fit ours too.
const (
	UID      = 65532
	GID      = 65532
	User     = "65532:65532"
	UserName = "nonroot"
)

// Entrypoint is the manager's path in the image.
const Entrypoint = "/manager"

// CABundlePath is where Go's crypto/x509 looks first on Linux.
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

// File is one entry of an image layer, with a path relative to the root.
type File struct {
	Path string
	Mode fs.FileMode // fs.ModeDir for directories
	Data []byte
}

// BaseFiles are the files of the base layer: the user database and the CA
// roots. There is no shell and no other program: the manager is static.
func BaseFiles() ([]File, error) {
	ca, n, err := CABundle()
	if err != nil {
		return nil, err
	}
	if n < 100 {
		return nil, fmt.Errorf("the CA bundle has only %d roots", n)
	}
	return []File{
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\n" + UserName + ":x:65532:\n")},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				UserName + ":x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n")},
		{Path: "etc/ssl", Mode: fs.ModeDir | 0o755},
		{Path: "etc/ssl/certs", Mode: fs.ModeDir | 0o755},
		{Path: CABundlePath, Mode: 0o644, Data: ca},
	}, nil
}

// CABundle returns Mozilla's roots trusted for TLS server authentication as
// one PEM file, in a fixed order, and how many there are.
//
// They come from golang.org/x/crypto/x509roots/fallback, a Go module: its
// version is pinned in go.mod and its content in go.sum (and the checksum
// database), so every machine builds the same bytes from the Go module proxy,
// which is the only source our build machines reach. Debian's ca-certificates
// package holds the same Mozilla set, but only as a .deb of one distribution
// whose old versions leave the archive, and only apt can fetch it.
//
// Roots that Mozilla constrains (for example "distrust certificates issued
// after a date") are left out: a PEM file cannot say so, and trusting them
// without the constraint would trust more than Mozilla does.
func CABundle() ([]byte, int, error) {
	var buf bytes.Buffer
	buf.WriteString("# Mozilla's roots for TLS server authentication, from golang.org/x/crypto/x509roots/fallback.\n")
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			return nil, 0, fmt.Errorf("parsing a root of the bundle: %w", err)
		}
		fmt.Fprintf(&buf, "\n# %s\n", cert.Subject)
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, 0, err
		}
		n++
	}
	return buf.Bytes(), n, nil
}

// WriteRootfs writes files under dir, for the Dockerfile, which copies them
// onto scratch: both ways of building the image get the same base files.
func WriteRootfs(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if f.Mode.IsDir() {
			if err := os.MkdirAll(p, f.Mode.Perm()); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, f.Data, f.Mode.Perm()); err != nil {
			return err
		}
		// WriteFile's mode is filtered by the umask.
		if err := os.Chmod(p, f.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

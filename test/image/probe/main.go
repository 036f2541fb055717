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

// Command probe runs inside the booted manager image (the boot test mounts it
// read-only and starts it with runc exec, as the manager's user) and reports,
// as JSON, what the image looks like from inside: the user, the CA roots Go's
// crypto/x509 loads, whether the root filesystem is writable, and whether a
// shell is there. The manager image has no shell to ask these questions with.
package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Report is what the probe prints.
type Report struct {
	UID, GID int
	// UserName is the name /etc/passwd gives the UID ("" when it has none).
	UserName string
	// SystemRoots is how many roots crypto/x509 loads from the system, the
	// roots the manager trusts for an ArcGIS with a public certificate.
	SystemRoots    int
	SystemRootsErr string
	// RootWriteErr is the error of creating a file in /: EROFS when the root
	// filesystem is read-only, "" when the write succeeded.
	RootWriteErr string
	RootReadOnly bool
	// Shells lists the shells found.
	Shells []string
}

func main() {
	r := Report{UID: os.Getuid(), GID: os.Getgid()}
	if u, err := user.LookupId(strconv.Itoa(r.UID)); err == nil {
		r.UserName = u.Username
	}
	if pool, err := x509.SystemCertPool(); err != nil {
		r.SystemRootsErr = err.Error()
	} else {
		// On Linux the system pool is the PEM files Go reads, so Subjects
		// counts them (it is deprecated for the platform verifiers only).
		r.SystemRoots = len(pool.Subjects()) //nolint:staticcheck
	}
	f, err := os.Create("/probe-write-test")
	if err == nil {
		_ = f.Close()
		_ = os.Remove("/probe-write-test")
	} else {
		r.RootWriteErr = err.Error()
		r.RootReadOnly = errors.Is(err, syscall.EROFS)
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/ash", "/bin/busybox", "/usr/bin/sh"} {
		if _, err := os.Lstat(sh); err == nil {
			r.Shells = append(r.Shells, sh)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

//go:build e2e

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

// Package e2e drives the project's user-facing programs end to end. It is
// run by `make test-e2e` (and CI), not by `make test`: the demo test takes
// about two minutes of real time, to see a real rotation.
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// TestDemo runs `make demo`'s program as a user would, and checks that within
// five minutes it shows a rotation and the failing token, and that Ctrl-C
// stops everything it started and removes its temporary files.
func TestDemo(t *testing.T) {
	root := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "bin", "manager")); err != nil {
		t.Fatalf("bin/manager missing: run make build (make test-e2e does): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, "./hack/demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out syncBuffer
	cmd := exec.CommandContext(ctx, bin, "--plain", "--refresh", "5s")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for a rotation (a ROTATIONS column above 0) and the failure.
	rotated := regexp.MustCompile(`(?m)^portal-token\s+Portal\s+True\s+TokenIssued\s+.*\s[1-9]\d*\s*$`)
	for {
		s := out.String()
		if rotated.MatchString(s) && strings.Contains(s, "wrong-password-token: Ready=False InvalidCredentials") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no rotation and failure shown within 5 minutes; output:\n%s", s)
		}
		time.Sleep(time.Second)
	}
	t.Logf("rotation and failure shown after %s", time.Since(start).Round(time.Second))

	// Ctrl-C.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the demo did not exit cleanly on Ctrl-C: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"Stopped the manager", "Stopped the ArcGIS simulator", "Stopped the control plane", "Removed "} {
		if !strings.Contains(s, want) {
			t.Errorf("the demo did not say %q on exit", want)
		}
	}
	if m := regexp.MustCompile(`Removed (\S+)`).FindStringSubmatch(s); m != nil {
		if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
			t.Errorf("the demo's temporary folder %s is still there", m[1])
		}
	}
	if !strings.Contains(s, "get arcgistokens -A") {
		t.Errorf("the demo did not print the kubectl command to watch the tokens")
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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

package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestLimit(t *testing.T) {
	tests := map[string]struct {
		files  map[string]string
		want   int64
		wantOK bool
	}{
		"cgroup v2":               {files: map[string]string{"memory.max": "268435456\n"}, want: 268435456, wantOK: true},
		"cgroup v2 without limit": {files: map[string]string{"memory.max": "max\n"}},
		"cgroup v1":               {files: map[string]string{"memory/memory.limit_in_bytes": "134217728"}, want: 134217728, wantOK: true},
		"cgroup v1 without limit": {files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712"}},
		"v2 wins over v1":         {files: map[string]string{"memory.max": "1000", "memory/memory.limit_in_bytes": "2000"}, want: 1000, wantOK: true},
		"garbage":                 {files: map[string]string{"memory.max": "lots"}},
		"no cgroup":               {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for f, v := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, f), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := Limit(root)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Limit = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestApply(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("200000000"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	previous := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(previous) })
	if got := Apply(root, 0.9); got != 180000000 {
		t.Errorf("Apply = %d, want 90%% of the limit", got)
	}
	if got := Apply(root, 0); got != 0 {
		t.Errorf("Apply with ratio 0 = %d, want 0 (off)", got)
	}
	t.Setenv("GOMEMLIMIT", "50MiB")
	if got := Apply(root, 0.9); got != 0 {
		t.Errorf("Apply with GOMEMLIMIT set = %d, want 0 (the environment wins)", got)
	}
}

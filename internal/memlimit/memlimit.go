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

// Package memlimit gives the Go runtime a soft memory limit from the
// container's memory limit, so that the garbage collector works harder as the
// manager nears it instead of letting the heap double (GOGC=100) and the
// container be killed. A GOMEMLIMIT set in the environment wins.
package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupFiles hold a container's memory limit: cgroup v2, then v1.
var cgroupFiles = []string{"memory.max", "memory/memory.limit_in_bytes"}

// Limit reads the memory limit of the cgroup mounted at root (normally
// /sys/fs/cgroup). ok is false when there is none.
func Limit(root string) (bytes int64, ok bool) {
	for _, name := range cgroupFiles {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(raw))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		// cgroup v1 says "no limit" with a huge number.
		if err != nil || n <= 0 || n >= math.MaxInt64/2 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// Apply sets the runtime's soft memory limit to ratio × the container's
// limit, unless GOMEMLIMIT is set or there is no limit or ratio is not in
// (0, 1]. It returns the limit set, or 0.
func Apply(root string, ratio float64) int64 {
	if ratio <= 0 || ratio > 1 || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit, ok := Limit(root)
	if !ok {
		return 0
	}
	soft := int64(float64(limit) * ratio)
	debug.SetMemoryLimit(soft)
	return soft
}

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

// Command vulncheck reads govulncheck's JSON output on stdin and decides:
// a vulnerability that the code calls in a module fails the check (upgrade the
// module); one in the Go standard library is reported with the Go release
// that fixes it, and fails only with -strict-stdlib, because the standard
// library comes from the machine's Go, not from go.mod (release images are
// built with the latest patch release, see the Dockerfile).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

type message struct {
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
}

func main() {
	strict := flag.Bool("strict-stdlib", false, "Fail on called standard-library vulnerabilities too.")
	flag.Parse()
	failed, err := check(os.Stdin, os.Stdout, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// check summarises the findings that the code reaches (a trace down to a
// function) and reports whether the check fails.
func check(in io.Reader, out io.Writer, strictStdlib bool) (bool, error) {
	dec := json.NewDecoder(in)
	type key struct{ osv, module string }
	called := map[key]finding{}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return false, fmt.Errorf("reading govulncheck's output: %w", err)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue // imported or required, but not called
		}
		called[key{f.OSV, f.Trace[0].Module}] = *f
	}
	keys := make([]key, 0, len(called))
	for k := range called {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].module != keys[j].module {
			return keys[i].module < keys[j].module
		}
		return keys[i].osv < keys[j].osv
	})
	failed := false
	for _, k := range keys {
		f := called[k]
		top := f.Trace[0]
		switch k.module {
		case "stdlib":
			fmt.Fprintf(out, "stdlib  %s in %s@%s: fixed in Go %s\n", k.osv, top.Package, top.Version, f.FixedVersion)
			failed = failed || strictStdlib
		default:
			fmt.Fprintf(out, "MODULE  %s in %s@%s: fixed in %s — upgrade it\n", k.osv, k.module, top.Version, f.FixedVersion)
			failed = true
		}
	}
	if len(keys) == 0 {
		fmt.Fprintln(out, "No vulnerability in code the operator calls.")
	}
	return failed, nil
}

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
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// The flag package's usage text, as bin/manager -h prints it.
const managerUsage = `Usage of ./bin/manager:
  -arcgis-timeout duration
    	Timeout of each request to ArcGIS. (default 30s)
  -kube-api-qps float
    	A client-side cap on queries per second; 0 or negative: no cap.
  -leader-election-id string
    	The name of the Lease used for leader election. (default "arcgis-token-operator.tokenoperator.dev")
  -max-concurrent-reconciles int
    	How many ArcGISTokens are reconciled at once. (default 8)
  -memory-limit-ratio float
    	Give the Go runtime a soft memory limit (0 turns it off; GOMEMLIMIT wins). (default 0.9)
  -v	short managerUsage on the flag's line (default 3)
  -zap-devel
    	Development Mode defaults(encoder=consoleEncoder,logLevel=Debug)
`

func TestParseFlagDefaults(t *testing.T) {
	got := parseFlagDefaults(managerUsage)
	want := map[string]string{
		"arcgis-timeout":            "30s",
		"kube-api-qps":              "",
		"leader-election-id":        "arcgis-token-operator.tokenoperator.dev",
		"max-concurrent-reconciles": "8",
		"memory-limit-ratio":        "0.9",
		"v":                         "3",
		"zap-devel":                 "",
	}
	if len(got) != len(want) {
		t.Errorf("%d flags, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func TestFlagValue(t *testing.T) {
	defaults := map[string]string{"kube-api-qps": "", "max-concurrent-reconciles": "8"}
	tests := map[string]struct {
		args []string
		name string
		want string
	}{
		"default":        {name: "max-concurrent-reconciles", want: "8"},
		"--name=value":   {args: []string{"--kube-api-qps=50"}, name: "kube-api-qps", want: "50"},
		"-name value":    {args: []string{"-max-concurrent-reconciles", "16"}, name: "max-concurrent-reconciles", want: "16"},
		"the last wins":  {args: []string{"--kube-api-qps=50", "--kube-api-qps=20"}, name: "kube-api-qps", want: "20"},
		"others ignored": {args: []string{"--kube-api-burst=9"}, name: "kube-api-qps", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := flagValue(defaults, tc.args, tc.name); got != tc.want {
				t.Errorf("flagValue = %q, want %q", got, tc.want)
			}
		})
	}
}

// The benchmark computes the soft limit from the Deployment the operator
// ships, so that a change there changes what it measures.
func TestContainerMemoryLimit(t *testing.T) {
	q, err := containerMemoryLimit(filepath.Join(testenv.RepoRoot(), "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Value() < 32<<20 || q.Value() > 4<<30 {
		t.Errorf("the manager's memory limit reads %s", q.String())
	}
	if _, err := containerMemoryLimit(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml")); err == nil {
		t.Error("a file without the manager's Deployment gave a limit")
	}
}

func TestDeriveFrom(t *testing.T) {
	manifest := filepath.Join(testenv.RepoRoot(), "config", "manager", "manager.yaml")
	shipped, err := containerMemoryLimit(manifest)
	if err != nil {
		t.Fatal(err)
	}
	soft := fmt.Sprintf("GOMEMLIMIT=%d", int64(float64(shipped.Value())*0.9))
	tests := map[string]struct {
		o            options
		managerUsage string
		wantWorkers  int
		wantEnv      []string
	}{
		"deployed defaults: the shipped limit × the manager's ratio": {managerUsage: managerUsage, wantWorkers: 8, wantEnv: []string{soft}},
		"another container limit":                                    {o: options{memoryLimit: "100Mi"}, managerUsage: managerUsage, wantWorkers: 8, wantEnv: []string{"GOMEMLIMIT=94371840"}},
		"no soft limit":                                              {o: options{memoryLimit: "none"}, managerUsage: managerUsage, wantWorkers: 8},
		"GOMEMLIMIT given wins": {o: options{extraEnv: []string{"GOMEMLIMIT=100MiB"}}, managerUsage: managerUsage, wantWorkers: 8,
			wantEnv: []string{"GOMEMLIMIT=100MiB"}},
		"workers from an argument": {o: options{managerArgs: []string{"--max-concurrent-reconciles=16"}}, managerUsage: managerUsage, wantWorkers: 16,
			wantEnv: []string{soft}},
		"a manager without --memory-limit-ratio": {managerUsage: strings.ReplaceAll(managerUsage, "-memory-limit-ratio", "-other"), wantWorkers: 8},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := tc.o
			if err := o.deriveFrom(parseFlagDefaults(tc.managerUsage), manifest); err != nil {
				t.Fatal(err)
			}
			if o.workers != tc.wantWorkers {
				t.Errorf("workers = %d, want %d", o.workers, tc.wantWorkers)
			}
			if got := o.managerEnv(); !slices.Equal(got, tc.wantEnv) {
				t.Errorf("managerEnv = %v, want %v", got, tc.wantEnv)
			}
		})
	}
	o := options{}
	if err := o.deriveFrom(map[string]string{}, manifest); err == nil {
		t.Error("a manager without --max-concurrent-reconciles: no error")
	}
}

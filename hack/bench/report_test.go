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
	"strings"
	"testing"
	"time"
)

func testRun() *runInfo {
	o := &options{accounts: 4, lifetime: 60, forcedLifetime: 90, validationInterval: defaultValidationInterval, createWorkers: 32,
		workers: 8, managerBin: "bin/manager", unrelated: 10000, unrelatedNS: "unrelated", probeSlack: 30 * time.Second,
		sampleEvery: 10 * time.Second, defaults: map[string]string{"max-concurrent-reconciles": "8", "kube-api-qps": ""},
		soakN: 1000, soakLifetime: 2, soakFailRate: 0.1, soakOutage: 2 * time.Minute, soakOutageAt: 10 * time.Minute, soakDuration: 30 * time.Minute, seed: 1}
	small, big := sampleResult(1000), sampleResult(10000)
	small.phases = []phaseTime{{"floor", 5 * time.Second}, {"issuance", 10 * time.Second}}
	small.wall = time.Minute
	return &runInfo{command: "go run ./hack/bench", opts: o, results: []*result{small, big},
		started: t0, finished: t0.Add(time.Hour), machine: "2 CPUs", loadStart: "1 1 1", loadEnd: "2 2 2"}
}

func TestMarkdown(t *testing.T) {
	md := testRun().markdown()
	for _, want := range []string{
		beginMarker(mainSection), endMarker(mainSection),
		"- Command: `go run ./hack/bench`",
		"its default flags (`--max-concurrent-reconciles 8 --kube-api-qps 0`)",
		"validationInterval 10m0s (the default)",
		"| Issuance: N ArcGISTokens Ready within 1.5× the floor (a plain client without a client-side limit, same writes), default flags | ≤ 1.5× floor | 1,000 | 1.20 s; 429s: 0 from the API server, 0 seen by the manager | 1.00 s | 1.20 | **met** |",
		"| 1000 | 1.20 s |",
		"| 1000 | 5s | 10s | – | – | – | 45s | 1m0s |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("a formatting error in the report:\n%s", md)
	}
}

func TestSoakMarkdown(t *testing.T) {
	r := testRun()
	r.soak = &soakResult{n: 1000, done: true, calls: 25000, flaky: 2500, outage: 100, needed: 22500, stored: 22500,
		expiredUp: 3 * time.Second, expiredTokens: 2, expiredMax: 2 * time.Second}
	md := r.soakMarkdown()
	for _, want := range []string{
		beginMarker(soakSection), endMarker(soakSection),
		"answers 10% of requests `503` at random (seed 1) and every request `503` for 2m0s from 10m0s after the start",
		"| Soak: seconds of expired token in a Secret while the service was up | 0 s | 1,000 | 3.00 s over 2 tokens",
		"**NOT met**",
		"makes the calls 1.11× the renewals",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the soak report lacks %q", want)
		}
	}
	if strings.Contains(md, "%!") {
		t.Errorf("a formatting error in the report:\n%s", md)
	}
}

func TestReplaceSection(t *testing.T) {
	a := beginMarker(mainSection) + "\nold\n" + endMarker(mainSection)
	file := "# Benchmarks\n\nintro\n\n" + a + "\n\n## Findings\n\nkept\n"
	got := replaceSection(file, mainSection, beginMarker(mainSection)+"\nnew\n"+endMarker(mainSection)+"\n")
	if !strings.Contains(got, "\nnew\n") || strings.Contains(got, "old") || !strings.HasSuffix(got, "## Findings\n\nkept\n") || !strings.HasPrefix(got, "# Benchmarks\n\nintro") {
		t.Errorf("replaced:\n%s", got)
	}
	// A section not there yet goes at the end; the other section stays.
	soak := beginMarker(soakSection) + "\nsoak\n" + endMarker(soakSection) + "\n"
	got2 := replaceSection(got, soakSection, soak)
	if !strings.HasSuffix(got2, soak) || !strings.Contains(got2, "\nnew\n") {
		t.Errorf("appended:\n%s", got2)
	}
	if got3 := replaceSection(got2, soakSection, beginMarker(soakSection)+"\nsoak 2\n"+endMarker(soakSection)+"\n"); strings.Count(got3, "soak") != strings.Count(got2, "soak") || !strings.Contains(got3, "soak 2") {
		t.Errorf("replaced the soak section:\n%s", got3)
	}
	if got := replaceSection("", mainSection, "x\n"); !strings.HasPrefix(got, "# Benchmarks") || !strings.HasSuffix(got, "x\n") {
		t.Errorf("new file:\n%s", got)
	}
}

func TestProbesDue(t *testing.T) {
	interval := 10 * time.Minute
	from, to := at(0), at(630)
	tests := map[string]struct {
		bases         []time.Time
		due, tokens   int
		wantLastFirst time.Time
	}{
		"one probe each":            {bases: []time.Time{at(-300), at(-10)}, due: 2, tokens: 2, wantLastFirst: at(590)},
		"due before the window":     {bases: []time.Time{at(-700)}, due: 1, tokens: 1, wantLastFirst: at(500)},
		"two probes in the window":  {bases: []time.Time{at(-600)}, due: 2, tokens: 1, wantLastFirst: at(0)},
		"none due":                  {bases: []time.Time{at(100)}, due: 0, tokens: 0},
		"exactly at the window end": {bases: []time.Time{at(30)}, due: 1, tokens: 1, wantLastFirst: at(630)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			due, tokens, last := probesDue(tc.bases, interval, from, to)
			if due != tc.due || tokens != tc.tokens || !last.Equal(tc.wantLastFirst) {
				t.Errorf("probesDue = %d, %d, %s; want %d, %d, %s", due, tokens, last, tc.due, tc.tokens, tc.wantLastFirst)
			}
		})
	}
	if due, _, _ := probesDue([]time.Time{at(0)}, 0, from, to); due != 0 {
		t.Error("probes due with checks off")
	}
}

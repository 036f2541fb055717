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
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// sampleResult is a plausible N: issuance at 1.2× its floor, a wave at 2×,
// one status write per probe, memory growing linearly.
func sampleResult(n int) *result {
	mb := func(v float64) float64 { return v * (1 << 20) }
	perToken := float64(n) * 10 * 1024 // 10 KiB a token
	x := &result{n: n}
	x.floor = floorResult{issue: time.Duration(n) * time.Millisecond, rotate: time.Duration(n) * time.Millisecond}
	x.issue.total = time.Duration(n) * 1200 * time.Microsecond
	x.issue.counts = phaseCounts{calls: map[string]int{arcgissim.EndpointPortalGenerateToken: n},
		api: apiCounts{writes: map[apiKey]float64{{"secrets", "", "POST"}: float64(n), {"arcgistokens", "status", "PATCH"}: float64(n)}}}
	x.wave.total = time.Duration(n) * 2 * time.Millisecond
	x.wave.renewed = n
	x.wave.counts = phaseCounts{calls: map[string]int{arcgissim.EndpointPortalGenerateToken: n},
		api: apiCounts{writes: map[apiKey]float64{{"secrets", "", "PATCH"}: float64(n), {"arcgistokens", "status", "PATCH"}: float64(n)}, rejected: 3}}
	x.steady = steady{window: 10 * time.Minute, due: n, tokensDue: n,
		counts: phaseCounts{calls: map[string]int{arcgissim.EndpointPortalSelf: n},
			api: apiCounts{writes: map[apiKey]float64{{"arcgistokens", "status", "PATCH"}: float64(n)}}}}
	x.baseline = idleSample{rss: mb(40), heap: mb(8)}
	x.idle = idleSample{rss: mb(40) + perToken, heap: mb(8) + perToken}
	x.unrelated = idleSample{rss: x.idle.rss + mb(1), heap: x.idle.heap}
	x.peakRSS = uint64(mb(45) + 2*perToken)
	return x
}

func verdictsByGoal(vs []verdict) map[string][]verdict {
	out := map[string][]verdict{}
	for _, v := range vs {
		key := v.goal.name
		if i := strings.Index(key, ":"); i > 0 {
			key = key[:i]
		}
		out[key] = append(out[key], v)
	}
	return out
}

func TestJudge(t *testing.T) {
	r := &runInfo{results: []*result{sampleResult(1000), sampleResult(10000)}}
	by := verdictsByGoal(judge(goalsFor(false), r))
	want := map[string][]string{
		"Issuance":             {stateMet, stateMet},
		"Forced rotation wave": {stateNotMet, stateNotMet},
		"generateToken calls per renewal (forced wave)":                                                          {stateMet, stateMet},
		"API writes per renewal (forced wave; Secrets and status, events apart)":                                 {stateMet, stateMet},
		"Steady state, probes on":                                                                                {stateNotMet, stateNotMet, stateMet, stateMet},
		"Peak RSS at N = 10,000, deployed defaults (soft memory limit from the container's limit)":               {stateNotMet},
		"Idle RSS at N = 1,000, deployed defaults":                                                               {stateMet},
		"Memory grows linearly or better with N (per-token cost above the manager's own, largest N vs smallest)": {stateMet, stateMet},
		"Time grows linearly or better with N (seconds per token, largest N vs smallest)":                        {stateMet, stateMet},
		"10,000 unrelated Secrets":                                                                               {stateMet, stateMet},
	}
	for name, states := range want {
		got := by[name]
		if len(got) != len(states) {
			t.Errorf("%s: %d rows, want %d", name, len(got), len(states))
			continue
		}
		for i, v := range got {
			if v.state != states[i] {
				t.Errorf("%s, row %d (N=%d, %s): %s, want %s", name, i, v.row.n, v.row.figure, v.state, states[i])
			}
		}
	}
	if len(by) != len(want) {
		t.Errorf("%d goals judged, want %d", len(by), len(want))
	}
	is := by["Issuance"][0]
	if math.Abs(is.ratio-1.2) > 1e-9 || is.row.floorFigure != "1.00 s" {
		t.Errorf("issuance at N=1000: ratio %v, floor %q; want 1.2 against 1.00 s", is.ratio, is.row.floorFigure)
	}
	if !strings.Contains(by["Forced rotation wave"][0].row.figure, "429s: 3 from the API server") {
		t.Errorf("the wave's figure does not show the 429s: %s", by["Forced rotation wave"][0].row.figure)
	}
}

func TestJudgeMissingAndFailed(t *testing.T) {
	failed := &result{n: 10000, err: "the manager exited"}
	r := &runInfo{results: []*result{sampleResult(1000), failed}}
	for _, v := range judge(goalsFor(false), r) {
		if v.row.n == 10000 && v.state != stateNotMeasured {
			t.Errorf("%s at a failed N: %s", v.goal.name, v.state)
		}
		if v.row.n == 10000 && strings.HasPrefix(v.goal.name, "Issuance") && !strings.Contains(v.row.figure, "the manager exited") {
			t.Errorf("a failed N does not say why: %s", v.row.figure)
		}
	}
	// Growth needs two N that worked.
	for _, v := range judge(goalsFor(false), r) {
		if strings.Contains(v.goal.name, "grows") && v.state != stateNotMeasured {
			t.Errorf("%s with one N: %s", v.goal.name, v.state)
		}
	}
}

func TestGrowthCatchesSuperlinear(t *testing.T) {
	small, big := sampleResult(1000), sampleResult(10000)
	big.idle.heap += 100 << 20 // 10 KiB more per token at 10,000
	big.issue.total *= 2
	r := &runInfo{results: []*result{small, big}}
	for _, v := range judge(goalsFor(false), r) {
		if strings.Contains(v.goal.name, "grows") && (strings.HasPrefix(v.row.figure, "idle heap") || strings.HasPrefix(v.row.figure, "issuance")) && v.state != stateNotMet {
			t.Errorf("%s: %s is %s", v.goal.name, v.row.figure, v.state)
		}
	}
}

func TestSoakGoals(t *testing.T) {
	r := &runInfo{}
	for _, v := range judge(goalsFor(true), r) {
		if v.state != stateNotMeasured || !strings.Contains(v.row.figure, "-soak") {
			t.Errorf("%s without a soak: %s, %q", v.goal.name, v.state, v.row.figure)
		}
	}
	r.soak = &soakResult{n: 1000, done: true, expiredUp: 0, calls: 2600, flaky: 250, outage: 50, needed: 2300}
	vs := judge(goalsFor(true), r)
	if len(vs) != 2 || vs[0].state != stateMet || vs[1].state != stateNotMet {
		t.Fatalf("soak verdicts: %+v", vs)
	}
	if math.Abs(vs[1].ratio-2600.0/2300) > 1e-9 {
		t.Errorf("calls ratio %v", vs[1].ratio)
	}
	r.soak.expiredUp = time.Second
	if judge(goalsFor(true), r)[0].state != stateNotMet {
		t.Error("a second of expired token served is met")
	}
}

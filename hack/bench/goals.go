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
	"math"
	"slices"
)

// goal is one of the scale goals (issue 14), as data: its wording, its
// target, and how to read its figures from a run. Each goal yields one row
// per N it applies to, or one row for the whole run.
type goal struct {
	name   string
	target string
	// ok judges a measured row: its value, and its floor where it has one.
	ok func(value, floor float64) bool
	// rows reads the goal's figures from a run. A row that could not be
	// measured says why in its figure and has measured false.
	rows func(r *runInfo) []row
	// soak marks the goals of the real-time soak (-soak).
	soak bool
}

// row is one figure of a goal.
type row struct {
	n        int // 0: the whole run
	measured bool
	value    float64
	floor    float64 // the same-run floor; NaN when the goal has none
	figure   string
	// floorFigure shows the floor, when a plain number would not.
	floorFigure string
}

// verdict is a row judged.
type verdict struct {
	goal  *goal
	row   row
	ratio float64 // value / floor; NaN without a floor
	state string  // met, NOT met, not measured
}

const (
	stateMet         = "met"
	stateNotMet      = "NOT met"
	stateNotMeasured = "not measured"
)

func judge(gs []goal, r *runInfo) []verdict {
	var out []verdict
	for i := range gs {
		g := &gs[i]
		for _, rw := range g.rows(r) {
			v := verdict{goal: g, row: rw, ratio: math.NaN(), state: stateNotMeasured}
			if !math.IsNaN(rw.floor) && rw.floor > 0 {
				v.ratio = rw.value / rw.floor
			}
			if rw.measured {
				v.state = stateNotMet
				if g.ok(rw.value, rw.floor) {
					v.state = stateMet
				}
			}
			out = append(out, v)
		}
	}
	return out
}

var noFloor = math.NaN()

func atMost(limit float64) func(v, _ float64) bool {
	return func(v, _ float64) bool { return v <= limit }
}

func ratioAtMost(limit float64) func(v, floor float64) bool {
	return func(v, floor float64) bool { return floor > 0 && v/floor <= limit }
}

// perN makes one row per N that ran (or failed), from f; N that did not get
// far enough say so.
func perN(f func(x *result) (row, bool)) func(r *runInfo) []row {
	return func(r *runInfo) []row {
		var out []row
		for _, x := range r.results {
			rw, ok := f(x)
			rw.n = x.n
			if !ok {
				rw = row{n: x.n, floor: noFloor, figure: "not reached" + failedWith(x)}
			}
			out = append(out, rw)
		}
		return out
	}
}

// atN makes a row for one N only, "not run" when the run did not include it.
func atN(n int, f func(x *result) (row, bool)) func(r *runInfo) []row {
	return func(r *runInfo) []row {
		for _, x := range r.results {
			if x.n == n {
				return perN(f)(&runInfo{results: []*result{x}})
			}
		}
		return []row{{n: n, floor: noFloor, figure: fmt.Sprintf("N = %s was not run", thousands(n))}}
	}
}

func failedWith(x *result) string {
	if x.err == "" {
		return ""
	}
	return ": " + oneLine(x.err)
}

// scaleGoals are the goals of a make bench run.
var scaleGoals = []goal{
	{
		name:   "Issuance: N ArcGISTokens Ready within 1.5× the floor (a plain client without a client-side limit, same writes), default flags",
		target: "≤ 1.5× floor",
		ok:     ratioAtMost(1.5),
		rows: perN(func(x *result) (row, bool) {
			is := x.issue
			return row{measured: true, value: is.total.Seconds(), floor: x.floor.issue.Seconds(), floorFigure: secs(x.floor.issue),
				figure: fmt.Sprintf("%s; 429s: %.0f from the API server, %.0f seen by the manager", secs(is.total), is.counts.api.rejected, is.counts.rest429)}, is.total > 0
		}),
	},
	{
		name:   "Forced rotation wave: all N renewed within 1.5× the floor",
		target: "≤ 1.5× floor",
		ok:     ratioAtMost(1.5),
		rows: perN(func(x *result) (row, bool) {
			w := x.wave
			return row{measured: true, value: w.total.Seconds(), floor: x.floor.rotate.Seconds(), floorFigure: secs(x.floor.rotate),
				figure: fmt.Sprintf("%s; 429s: %.0f from the API server, %.0f seen by the manager", secs(w.total), w.counts.api.rejected, w.counts.rest429)}, w.total > 0
		}),
	},
	{
		name:   "generateToken calls per renewal (forced wave)",
		target: "1.00",
		ok:     func(v, _ float64) bool { return v == 1 },
		rows: perN(func(x *result) (row, bool) {
			k := float64(x.wave.renewed + x.wave.extra)
			v := float64(x.wave.counts.generateToken()) / k
			return row{measured: true, value: v, floor: noFloor,
				figure: fmt.Sprintf("%.2f (%d calls, %d renewals; at issuance %.2f per token)", v, x.wave.counts.generateToken(), int(k),
					float64(x.issue.counts.generateToken())/float64(x.n))}, k > 0
		}),
	},
	{
		name:   "API writes per renewal (forced wave; Secrets and status, events apart)",
		target: "≤ 2.00",
		ok:     atMost(2),
		rows: perN(func(x *result) (row, bool) {
			k := float64(x.wave.renewed + x.wave.extra)
			v := x.wave.counts.api.operator() / k
			return row{measured: true, value: v, floor: noFloor,
				figure: fmt.Sprintf("%.2f (%s; at issuance %.2f per token)", v, x.wave.counts.api.describe(operatorClasses...),
					x.issue.counts.api.operator()/float64(x.n))}, k > 0
		}),
	},
	{
		name:   "Steady state, probes on: status writes for probes that change nothing",
		target: "0",
		ok:     atMost(0),
		rows: perN(func(x *result) (row, bool) {
			st := x.steady
			v := st.counts.api.operator()
			return row{measured: true, value: v, floor: noFloor,
				figure: fmt.Sprintf("%.0f in %s with %d probes due (%s; events %s)", v, secs(st.window), st.due,
					st.counts.api.describe(operatorClasses...), st.counts.api.describe("events"))}, st.window > 0
		}),
	},
	{
		name:   "Steady state, probes on: ArcGIS calls = probes due (the floor), no generateToken",
		target: "1.00× floor",
		ok:     func(v, floor float64) bool { return floor > 0 && v == floor },
		rows: perN(func(x *result) (row, bool) {
			st := x.steady
			calls := 0
			for _, k := range st.counts.calls {
				calls += k
			}
			return row{measured: true, value: float64(calls), floor: float64(st.due),
				figure: fmt.Sprintf("%d calls (%s) for %d probes due on %d of %d tokens", calls, fmtMap(st.counts.calls), st.due, st.tokensDue, x.n)}, st.window > 0
		}),
	},
	{
		name:   "Peak RSS at N = 10,000, deployed defaults (soft memory limit from the container's limit)",
		target: "< 100 MiB",
		ok:     func(v, _ float64) bool { return v < 100 },
		rows: atN(10000, func(x *result) (row, bool) {
			v := float64(x.peakRSS) / (1 << 20)
			return row{measured: true, value: v, floor: noFloor, figure: fmt.Sprintf("%s (peak heap %s)", mib(float64(x.peakRSS)), mib(x.peakHeap))}, x.peakRSS > 0
		}),
	},
	{
		name:   "Idle RSS at N = 1,000, deployed defaults",
		target: "< 50 MiB",
		ok:     func(v, _ float64) bool { return v < 50 },
		rows: atN(1000, func(x *result) (row, bool) {
			v := x.idle.rss / (1 << 20)
			return row{measured: true, value: v, floor: noFloor, figure: fmt.Sprintf("%s (anonymous %s, live heap %s; with no token %s)",
				mib(x.idle.rss), mib(x.idle.anon), mib(x.idle.heap), mib(x.baseline.rss))}, x.idle.rss > 0
		}),
	},
	{
		name:   "Memory grows linearly or better with N (per-token cost above the manager's own, largest N vs smallest)",
		target: "≤ 1.25×",
		ok:     func(v, _ float64) bool { return v <= 1.25 },
		rows: growthRows(func(x *result) (float64, bool) {
			return (x.idle.heap - x.baseline.heap) / float64(x.n) / 1024, x.idle.heap > 0 && x.baseline.heap > 0
		}, func(x *result) (float64, bool) {
			return (float64(x.peakRSS) - x.baseline.rss) / float64(x.n) / 1024, x.peakRSS > 0 && x.baseline.rss > 0
		}, "KiB/token", "idle heap", "peak RSS"),
	},
	{
		name:   "Time grows linearly or better with N (seconds per token, largest N vs smallest)",
		target: "≤ 1.25×",
		ok:     func(v, _ float64) bool { return v <= 1.25 },
		rows: growthRows(func(x *result) (float64, bool) {
			return x.issue.total.Seconds() * 1000 / float64(x.n), x.issue.total > 0
		}, func(x *result) (float64, bool) {
			return x.wave.total.Seconds() * 1000 / float64(x.n), x.wave.total > 0
		}, "ms/token", "issuance", "forced wave"),
	},
	{
		name:   "10,000 unrelated Secrets: extra idle RSS",
		target: "< 5 MiB",
		ok:     func(v, _ float64) bool { return v < 5 },
		rows: perN(func(x *result) (row, bool) {
			d := (x.unrelated.rss - x.idle.rss) / (1 << 20)
			return row{measured: true, value: d, floor: noFloor, figure: fmt.Sprintf("%+.1f MiB (%s → %s; heap %+.1f MiB)", d,
				mib(x.idle.rss), mib(x.unrelated.rss), (x.unrelated.heap-x.idle.heap)/(1<<20))}, x.unrelated.rss > 0 && x.idle.rss > 0
		}),
	},

	{
		soak:   true,
		name:   "Soak: seconds of expired token in a Secret while the service was up",
		target: "0 s",
		ok:     atMost(0),
		rows: soakRow(func(s *soakResult) row {
			return row{measured: true, value: s.expiredUp.Seconds(), floor: noFloor,
				figure: fmt.Sprintf("%s over %d tokens (longest %s; during the outage, not counted: %s)", secs(s.expiredUp), s.expiredTokens, secs(s.expiredMax), secs(s.expiredDown))}
		}),
	},
	{
		soak:   true,
		name:   "Soak: generateToken calls vs renewals needed",
		target: "≤ 1.1× floor",
		ok:     ratioAtMost(1.1),
		rows: soakRow(func(s *soakResult) row {
			return row{measured: true, value: float64(s.calls), floor: float64(s.needed),
				figure: fmt.Sprintf("%d calls (%d answered 503 by the flaky front, %d during the outage) for %d renewals needed; calls that reached the portal: %.2f×",
					s.calls, s.flaky, s.outage, s.needed, float64(s.calls-s.flaky-s.outage)/float64(max(s.needed, 1)))}
		}),
	},
}

// growthRows compares the per-token cost of two measures at the largest and
// the smallest N of the run: one row each, the value being the ratio.
func growthRows(a, b func(x *result) (float64, bool), unit, aName, bName string) func(r *runInfo) []row {
	return func(r *runInfo) []row {
		var ok []*result
		for _, x := range r.results {
			if x.err == "" {
				ok = append(ok, x)
			}
		}
		slices.SortFunc(ok, func(p, q *result) int { return p.n - q.n })
		var out []row
		for _, m := range []struct {
			name string
			f    func(x *result) (float64, bool)
		}{{aName, a}, {bName, b}} {
			if len(ok) < 2 {
				out = append(out, row{floor: noFloor, figure: m.name + ": needs two values of N"})
				continue
			}
			lo, hi := ok[0], ok[len(ok)-1]
			vl, okl := m.f(lo)
			vh, okh := m.f(hi)
			if !okl || !okh || vl <= 0 {
				out = append(out, row{floor: noFloor, figure: m.name + ": not measured"})
				continue
			}
			out = append(out, row{measured: true, value: vh / vl, floor: noFloor,
				figure: fmt.Sprintf("%s: %.2f× (%.1f %s at N = %s, %.1f at N = %s)", m.name, vh/vl, vl, unit, thousands(lo.n), vh, thousands(hi.n))})
		}
		return out
	}
}

func soakRow(f func(s *soakResult) row) func(r *runInfo) []row {
	return func(r *runInfo) []row {
		if r.soak == nil || !r.soak.done {
			why := "run `make bench BENCH_ARGS=-soak`"
			if r.soak != nil && r.soak.err != "" {
				why = "failed: " + oneLine(r.soak.err)
			}
			return []row{{floor: noFloor, figure: why}}
		}
		rw := f(r.soak)
		rw.n = r.soak.n
		return []row{rw}
	}
}

// goalsFor returns the goals of a main run or of a soak.
func goalsFor(soak bool) []goal {
	var out []goal
	for _, g := range scaleGoals {
		if g.soak == soak {
			out = append(out, g)
		}
	}
	return out
}

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
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// result holds everything measured for one N.
type result struct {
	n        int
	wall     time.Duration
	err      string
	warnings []string
	lifetime int // minutes asked for (and granted) at issuance

	// Issuance.
	createDur            time.Duration // the benchmark's own N creates
	total                time.Duration // first create sent → last Ready seen
	readyP50, readyP99   time.Duration // per token, create sent → Ready seen
	serverP50, serverP99 time.Duration // per token, creationTimestamp → Ready's lastTransitionTime (seconds)
	floorEq, floorAPI    time.Duration
	issue                phaseCounts
	settle               time.Duration // how long the asynchronous writes took to stop

	steady     phaseCounts
	steadyWhen string
	steadyDur  time.Duration

	natural, forced wave

	// The manager that ran the phases above.
	peakRSS  uint64
	peakHeap float64
	cpu      time.Duration

	// Restarted managers.
	restart           phaseCounts
	idleRSS, idleHeap float64 // fresh manager, N tokens, idle
	liveRSS, liveHeap float64 // same manager after the unrelated Secrets were added
	coldRSS, coldHeap float64 // fresh manager with the unrelated Secrets
	idleHWM, coldHWM  uint64
	unrelated         int
	profiles          []profileFile
	idleProfile       string // heap profile of the idle manager without unrelated Secrets
}

// phaseCounts is what happened during one phase.
type phaseCounts struct {
	calls      int            // generateToken calls at the simulator
	simOther   map[string]int // other simulator endpoints
	failed     int            // generateToken calls that did not succeed
	peak       int            // peak requests in flight at the simulator
	writes     apiCounts      // API server's write counts
	restWrites float64        // the manager's own count of its writes (events included)
	restReads  float64
	reconciles map[string]float64 // by result
	cpu        time.Duration
}

func (p phaseCounts) operatorWrites() float64 { return p.writes.byClass("operator") }

// wave is a rotation wave.
type wave struct {
	ran      bool
	renewed  int
	extra    int // renewals beyond one per token in the window
	counts   phaseCounts
	total    time.Duration // natural: first due → last renewal; forced: trigger → last renewal
	p50, p99 time.Duration // natural: lag behind renewal time; forced: trigger → renewal
	lagMax   time.Duration
	spread   time.Duration // first → last renewal seen
	window   time.Duration // the jitter window of the lifetime
	jitMin   time.Duration
	jitMax   time.Duration
	settle   time.Duration
}

// profileFile is a saved profile; base, when set, is subtracted from it.
type profileFile struct{ label, path, base string }

// bench is the state of one N's run.
type bench struct {
	o       *options
	n       int
	res     *result
	dir     string
	env     *testenv.Env
	sim     *arcgissim.Simulator
	admin   client.Client
	rc      rest.Interface
	tr      *tracker
	mgr     *manager
	kubecfg string
}

func runN(ctx context.Context, o *options, n int, run *runInfo) *result {
	res := &result{n: n}
	start := time.Now()
	b := &bench{o: o, n: n, res: res}
	// The informer and samplers of this N stop before its control plane.
	nctx, cancel := context.WithCancel(ctx)
	err := b.run(nctx, run)
	cancel()
	b.cleanup(err != nil)
	res.wall = time.Since(start)
	if err != nil {
		res.err = err.Error()
	}
	return res
}

func (b *bench) logf(format string, args ...any) {
	fmt.Printf("    [%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.warnings = append(b.res.warnings, msg)
	b.logf("WARNING: %s", msg)
}

func (b *bench) cleanup(failed bool) {
	if b.mgr != nil {
		b.stopManager()
	}
	if b.sim != nil {
		_ = b.sim.Close()
	}
	if b.env != nil {
		_ = b.env.Stop()
	}
	if b.dir != "" {
		if b.o.keep || failed {
			fmt.Printf("    kept %s (kubeconfig, manager logs)\n", b.dir)
		} else {
			_ = os.RemoveAll(b.dir)
		}
	}
}

func (b *bench) run(ctx context.Context, run *runInfo) error {
	o, n, res := b.o, b.n, b.res
	var err error
	if b.dir, err = os.MkdirTemp("", "arcgis-token-operator-bench-"); err != nil {
		return err
	}
	b.logf("starting the control plane")
	if b.env, err = testenv.Start(); err != nil {
		return err
	}
	b.kubecfg = filepath.Join(b.dir, "kubeconfig")
	if err := b.env.WriteKubeconfig(b.kubecfg); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(b.env.Config)
	if err != nil {
		return err
	}
	b.rc = cs.Discovery().RESTClient()
	if run.apiServer == "" {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			run.apiServer = v.GitVersion
		}
	}
	users := map[string]string{}
	for i := range o.accounts {
		users[accountName(i)] = accountPassword(i)
	}
	if b.sim, err = arcgissim.New(arcgissim.Config{Users: users}); err != nil {
		return err
	}
	if err := b.sim.Start(); err != nil {
		return err
	}
	if b.admin, err = newClient(b.env.Config, -1, 0); err != nil {
		return err
	}

	// 1. The floor, with no manager running.
	b.logf("floor, equal settings (qps %g, burst %d, %d workers)", o.qps, o.burst, o.workers)
	if res.floorEq, err = floorRun(ctx, b.admin, b.env.Config, o, "floor-equal", n, float32(o.qps), o.burst, b.sim); err != nil {
		return err
	}
	b.logf("floor, equal settings: %s", res.floorEq.Round(time.Millisecond))
	b.logf("floor, no client-side limit (%d workers)", o.workers)
	if res.floorAPI, err = floorRun(ctx, b.admin, b.env.Config, o, "floor-unlimited", n, -1, 0, b.sim); err != nil {
		return err
	}
	b.logf("floor, no client-side limit: %s", res.floorAPI.Round(time.Millisecond))

	res.lifetime = o.lifetime
	if res.lifetime <= 0 {
		// The first renewals come 2/3 of the lifetime minus up to 5% after
		// issuance: keep issuance (estimated from the floor) and the forced
		// wave clear of them.
		est := 1.5*res.floorEq.Seconds() + 5
		res.lifetime = max(3, int(math.Ceil(3.6*est/60)))
	}
	b.logf("ArcGISTokens ask for (and get) %d-minute tokens", res.lifetime)

	if err := setupNamespace(ctx, b.admin, benchNS, o.accounts, b.sim.CAPEM()); err != nil {
		return err
	}
	if b.tr, err = startTracker(ctx, b.env.Config, benchNS); err != nil {
		return err
	}
	if b.mgr, err = startManager(ctx, o, b.kubecfg, filepath.Join(b.dir, "manager-1.log"), o.profile); err != nil {
		return err
	}
	if run.managerVersion == "" {
		run.managerVersion = b.mgr.version
	}

	// 2. Issuance.
	if err := b.issuance(ctx); err != nil {
		return err
	}

	// 3. Steady state, in the gap before the first renewal if it is long enough.
	firstDue := b.firstDue()
	if o.steady > 0 && time.Until(firstDue) > o.steady+10*time.Second {
		res.steadyWhen = "after issuance, before the first renewal is due"
		if err := b.steadyWindow(ctx); err != nil {
			return err
		}
	}

	// 4. The natural wave.
	if err := b.naturalWave(ctx); err != nil {
		return err
	}

	// 5. The forced wave.
	if err := b.forcedWave(ctx); err != nil {
		return err
	}
	if o.steady > 0 && res.steadyWhen == "" {
		res.steadyWhen = "after the forced wave (the gap before the first renewal was too short)"
		if err := b.steadyWindow(ctx); err != nil {
			return err
		}
	}

	// The run's figures of the first manager.
	res.peakHeap = b.mgr.peakHeap(ctx)
	u := b.mgr.usage()
	res.peakRSS, res.cpu = u.hwm, u.cpu
	b.stopManager()
	b.logf("manager: peak RSS %s, peak heap %s, CPU %s", mib(float64(res.peakRSS)), mib(res.peakHeap), res.cpu.Round(10*time.Millisecond))

	// 6. Memory when idle, and with unrelated Secrets.
	return b.memory(ctx)
}

// counters snapshots what the counts of a phase are computed from.
type counters struct {
	writes apiCounts
	mm     managerMetrics
	cpu    time.Duration
}

func (b *bench) snap(ctx context.Context) (counters, error) {
	var c counters
	var err error
	if c.writes, err = apiWrites(ctx, b.rc); err != nil {
		return c, err
	}
	if c.mm, err = scrapeManager(ctx, b.mgr.metricsURL); err != nil {
		return c, err
	}
	c.cpu = b.mgr.usage().cpu
	return c, nil
}

// phase computes a phase's counts from the snapshots around it and the
// simulator's counters (reset at its start).
func (b *bench) phase(before, after counters) phaseCounts {
	sc := b.sim.Counters()
	p := phaseCounts{simOther: map[string]int{}, peak: sc.PeakInFlight}
	for ep, outcomes := range sc.Requests {
		for outcome, k := range outcomes {
			if ep == arcgissim.EndpointPortalGenerateToken {
				p.calls += k
				if outcome != arcgissim.OutcomeOK {
					p.failed += k
				}
			} else {
				p.simOther[ep] += k
			}
		}
	}
	p.writes = after.writes.sub(before.writes)
	p.restWrites = after.mm.restWrites - before.mm.restWrites
	p.restReads = after.mm.restReads - before.mm.restReads
	p.cpu = after.cpu - before.cpu
	p.reconciles = map[string]float64{}
	for k, v := range after.mm.reconcileResults {
		if d := v - before.mm.reconcileResults[k]; d != 0 {
			p.reconciles[k] = d
		}
	}
	return p
}

// waitFor polls cond every 100 ms until it holds or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

var errTimeout = errors.New("timed out")

// startCPUProfile starts a CPU profile of the manager for about secs
// seconds (5 to 60) when -profile is on, and returns where its result will
// come; nil when profiling is off.
func (b *bench) startCPUProfile(ctx context.Context, secs float64, file, what string) chan error {
	if !b.o.profile {
		return nil
	}
	n := int(math.Min(60, math.Max(5, math.Ceil(secs))))
	path := filepath.Join(b.o.profileDir, fmt.Sprintf("n%d-%s.cpu.pprof", b.n, file))
	done := make(chan error, 1)
	go func() { done <- b.mgr.profile(ctx, "profile", n, path) }()
	b.res.profiles = append(b.res.profiles, profileFile{fmt.Sprintf("CPU, the first %d s of %s", n, what), path, ""})
	time.Sleep(200 * time.Millisecond) // let the profile start first
	return done
}

// endPhase waits until the manager's asynchronous writes (events) have
// settled, counts what the phase cost since before, and waits for the
// phase's CPU profile, if any.
func (b *bench) endPhase(ctx context.Context, phase string, before counters, profDone chan error) (phaseCounts, time.Duration, error) {
	settle, err := b.mgr.waitWritesSettled(ctx, 3*time.Second, 5*time.Minute)
	if err != nil {
		b.warn("%s: %v", phase, err)
	}
	after, err := b.snap(ctx)
	if err != nil {
		return phaseCounts{}, settle, err
	}
	if profDone != nil {
		if err := <-profDone; err != nil {
			b.warn("CPU profile: %v", err)
		}
	}
	return b.phase(before, after), settle, nil
}

func (b *bench) issuance(ctx context.Context) error {
	o, n, res := b.o, b.n, b.res
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	profDone := b.startCPUProfile(ctx, 1.5*res.floorEq.Seconds()+5, "issuance", "issuance")

	b.logf("creating %d ArcGISTokens at once (%d concurrent requests)", n, o.createWorkers)
	t0 := time.Now()
	if err := parallel(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		tok := tokenObject(i, benchNS, o, b.sim.PortalURL(), res.lifetime)
		b.tr.markSent(tok.Name, time.Now())
		if err := b.admin.Create(ctx, tok); err != nil {
			return fmt.Errorf("creating ArcGISToken %s: %w", tok.Name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	res.createDur = time.Since(t0)
	b.logf("created in %s; waiting for Ready", res.createDur.Round(time.Millisecond))
	timeout := max(3*time.Minute, 10*res.floorEq+2*time.Minute)
	if err := waitFor(ctx, timeout, func() bool { return b.tr.readyCount() >= n }); err != nil {
		return fmt.Errorf("%d of %d ArcGISTokens Ready after %s; the others' reasons: %v", b.tr.readyCount(), n, timeout, b.tr.reasons())
	}
	var last time.Time
	var ready, server []time.Duration
	early := 0
	for _, s := range b.tr.snapshot() {
		if s.readySeen.After(last) {
			last = s.readySeen
		}
		ready = append(ready, s.readySeen.Sub(s.sent))
		server = append(server, s.readyLTT.Sub(s.created))
		if len(s.issued) > 1 {
			early++
		}
	}
	if early > 0 {
		b.warn("%d ArcGISTokens were renewed before issuance was over, which mixes the phases: raise -lifetime", early)
	}
	res.total = last.Sub(t0)
	res.readyP50, res.readyP99 = percentile(ready, 50), percentile(ready, 99)
	res.serverP50, res.serverP99 = percentile(server, 50), percentile(server, 99)
	b.logf("all Ready after %s (p50 %s, p99 %s)", res.total.Round(time.Millisecond), res.readyP50.Round(time.Millisecond), res.readyP99.Round(time.Millisecond))

	if res.issue, res.settle, err = b.endPhase(ctx, "issuance", before, profDone); err != nil {
		return err
	}
	if path := b.heapProfile(ctx, "issuance"); path != "" {
		res.profiles = append(res.profiles, profileFile{"heap in use, after issuance", path, ""})
	}
	b.logf("issuance: %d generateToken calls, API writes %s; events %s",
		res.issue.calls, res.issue.writes.describe("operator", "other"), res.issue.writes.describe("events"))
	return nil
}

// firstDue is the earliest renewal time of all ArcGISTokens.
func (b *bench) firstDue() time.Time {
	var first time.Time
	for _, s := range b.tr.snapshot() {
		if first.IsZero() || s.renewalTime.Before(first) {
			first = s.renewalTime
		}
	}
	return first
}

func (b *bench) steadyWindow(ctx context.Context) error {
	b.logf("steady state: %s with nothing due (validationInterval %s)", b.o.steady, b.o.validationInterval)
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.o.steady):
	}
	after, err := b.snap(ctx)
	if err != nil {
		return err
	}
	b.res.steadyDur = time.Since(start)
	b.res.steady = b.phase(before, after)
	b.logf("steady state: %d calls, API writes %s, events %s", b.res.steady.calls,
		b.res.steady.writes.describe("operator", "other"), b.res.steady.writes.describe("events"))
	return nil
}

func (b *bench) naturalWave(ctx context.Context) error {
	n, w := b.n, &b.res.natural
	pre := b.tr.snapshot()
	base := b.tr.issuedCounts()
	var firstDue, lastDue time.Time
	var jit []time.Duration
	for _, s := range pre {
		if firstDue.IsZero() || s.renewalTime.Before(firstDue) {
			firstDue = s.renewalTime
		}
		if s.renewalTime.After(lastDue) {
			lastDue = s.renewalTime
		}
		if k := len(s.issued); k > 0 {
			lifetime := s.expiresAt.Sub(s.issued[k-1].issuedAt)
			jit = append(jit, s.expiresAt.Add(-lifetime/3).Sub(s.renewalTime))
		}
	}
	sort.Slice(jit, func(i, j int) bool { return jit[i] < jit[j] })
	if len(jit) > 0 {
		w.jitMin, w.jitMax = jit[0], jit[len(jit)-1]
	}
	lifetime := time.Duration(b.res.lifetime) * time.Minute
	w.window = min(policies.JitterWindow(lifetime), (lifetime-lifetime/3)/2)

	b.logf("natural wave: renewals due from %s to %s (in %s)", firstDue.Format("15:04:05"), lastDue.Format("15:04:05"),
		time.Until(firstDue).Round(time.Second))
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	timeout := time.Until(lastDue) + max(2*b.res.total, time.Minute) + time.Minute
	if err := waitFor(ctx, timeout, func() bool { return b.tr.renewedSince(base) >= n }); err != nil {
		return fmt.Errorf("natural wave: %d of %d renewed after %s", b.tr.renewedSince(base), n, timeout.Round(time.Second))
	}
	if w.counts, w.settle, err = b.endPhase(ctx, "natural wave", before, nil); err != nil {
		return err
	}

	lags, first, last := w.collect(b.tr.snapshot(), base, func(name string) time.Time { return pre[name].renewalTime })
	w.total = last.Sub(firstDue)
	w.spread = last.Sub(first)
	w.p50, w.p99 = percentile(lags, 50), percentile(lags, 99)
	w.lagMax = percentile(lags, 100)
	b.logf("natural wave: all renewed %s after the first was due; lag p50 %s p99 %s; spread %s (jitter window %s); %d calls; writes %s",
		w.total.Round(time.Millisecond), w.p50.Round(time.Millisecond), w.p99.Round(time.Millisecond),
		w.spread.Round(time.Millisecond), w.window, w.counts.calls, w.counts.writes.describe("operator", "other"))
	return nil
}

// collect records the wave's renewals: every token issued again since base
// (its count of issued tokens before the wave). It returns, per renewed
// token, the time from since(name) to the first renewal seen, and the first
// and last renewals seen.
func (w *wave) collect(tokens map[string]tokenState, base map[string]int, since func(name string) time.Time) (lat []time.Duration, first, last time.Time) {
	for name, s := range tokens {
		k := base[name]
		if len(s.issued) <= k {
			continue
		}
		w.renewed++
		w.extra += len(s.issued) - k - 1
		seen := s.issued[k].seen
		lat = append(lat, seen.Sub(since(name)))
		if first.IsZero() || seen.Before(first) {
			first = seen
		}
		if seen.After(last) {
			last = seen
		}
	}
	w.ran = true
	return lat, first, last
}

func (b *bench) forcedWave(ctx context.Context) error {
	o, n, w := b.o, b.n, &b.res.forced
	// Status times have seconds: let a second pass since the last renewal so
	// that the next is told apart.
	time.Sleep(1100 * time.Millisecond)
	base := b.tr.issuedCounts()
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	profDone := b.startCPUProfile(ctx, b.res.total.Seconds(), "forced-wave", "the forced wave")
	if o.waveLatency > 0 {
		if err := b.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultDelay, Delay: o.waveLatency}); err != nil {
			return err
		}
		defer b.sim.ClearFaults()
	}
	b.logf("forced wave: spec.expirationMinutes %d → %d on all %d ArcGISTokens at once (the portal takes %s per token)", b.res.lifetime, o.forcedLifetime, n, o.waveLatency)
	t0 := time.Now()
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"expirationMinutes":%d}}`, o.forcedLifetime))
	if err := parallel(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		tok := &arcgisv1alpha1.ArcGISToken{}
		tok.Namespace, tok.Name = benchNS, tokenName(i)
		return b.admin.Patch(ctx, tok, patch)
	}); err != nil {
		return err
	}
	timeout := max(3*time.Minute, 10*b.res.total+2*time.Minute)
	if err := waitFor(ctx, timeout, func() bool { return b.tr.renewedSince(base) >= n }); err != nil {
		return fmt.Errorf("forced wave: %d of %d re-issued after %s", b.tr.renewedSince(base), n, timeout)
	}
	if w.counts, w.settle, err = b.endPhase(ctx, "forced wave", before, profDone); err != nil {
		return err
	}
	lat, first, last := w.collect(b.tr.snapshot(), base, func(string) time.Time { return t0 })
	w.total = last.Sub(t0)
	w.spread = last.Sub(first)
	w.p50, w.p99 = percentile(lat, 50), percentile(lat, 99)
	b.logf("forced wave: all re-issued after %s (p50 %s, p99 %s); %d calls, peak %d in flight; writes %s",
		w.total.Round(time.Millisecond), w.p50.Round(time.Millisecond), w.p99.Round(time.Millisecond),
		w.counts.calls, w.counts.peak, w.counts.writes.describe("operator", "other"))
	return nil
}

// idleSample is the median of a few samples of a settled manager's memory,
// each right after a garbage collection, so that the heap is the live heap
// whenever the last collection happened to run.
func (b *bench) idleSample(ctx context.Context, m *manager) (rss, heap float64, err error) {
	var rs, hs []float64
	for i := range 5 {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
		if err := m.collectGarbage(ctx); err != nil {
			return 0, 0, err
		}
		mm, err := scrapeManager(ctx, m.metricsURL)
		if err != nil {
			return 0, 0, err
		}
		r, _, _ := procMem(m.pid())
		rs, hs = append(rs, float64(r)), append(hs, mm.heapInuse)
	}
	sort.Float64s(rs)
	sort.Float64s(hs)
	return rs[len(rs)/2], hs[len(hs)/2], nil
}

// idleManager is what a freshly started manager measured once idle.
type idleManager struct {
	rss, heap float64 // median of idleSample
	hwm       uint64  // VmHWM
	profile   string  // its heap profile, when -profile is on and it worked
}

// startIdleManager starts a fresh manager (logging to logName in the run's
// folder), waits until it has reconciled all N ArcGISTokens and its writes
// have settled, and samples its memory; with -profile it also saves a heap
// profile n<N>-<profileName>.heap.pprof. The manager is left running in b.mgr.
func (b *bench) startIdleManager(ctx context.Context, logName, profileName string) (idleManager, error) {
	var im idleManager
	var err error
	if b.mgr, err = startManager(ctx, b.o, b.kubecfg, filepath.Join(b.dir, logName), true); err != nil {
		return im, err
	}
	if err := b.mgr.waitIdle(ctx, b.n, 5*time.Minute); err != nil {
		return im, err
	}
	time.Sleep(5 * time.Second)
	if im.rss, im.heap, err = b.idleSample(ctx, b.mgr); err != nil {
		return im, err
	}
	_, im.hwm, _ = procMem(b.mgr.pid())
	im.profile = b.heapProfile(ctx, profileName)
	return im, nil
}

// heapProfile saves the manager's heap profile as n<N>-<name>.heap.pprof
// when -profile is on, and returns its path; "" when off or on failure.
func (b *bench) heapProfile(ctx context.Context, name string) string {
	if !b.o.profile {
		return ""
	}
	path := filepath.Join(b.o.profileDir, fmt.Sprintf("n%d-%s.heap.pprof", b.n, name))
	if err := b.mgr.profile(ctx, "heap", 0, path); err != nil {
		b.warn("heap profile: %v", err)
		return ""
	}
	return path
}

func (b *bench) stopManager() {
	b.mgr.terminate()
	b.mgr = nil
}

func (b *bench) memory(ctx context.Context) error {
	o, res := b.o, b.res
	b.logf("restarting the manager (N ArcGISTokens, all up to date)")
	b.sim.ResetCounters()
	w0, err := apiWrites(ctx, b.rc)
	if err != nil {
		return err
	}
	idle, err := b.startIdleManager(ctx, "manager-2.log", "idle")
	if err != nil {
		return err
	}
	res.idleRSS, res.idleHeap, res.idleHWM, res.idleProfile = idle.rss, idle.heap, idle.hwm, idle.profile
	w1, err := apiWrites(ctx, b.rc)
	if err != nil {
		return err
	}
	mm1, err := scrapeManager(ctx, b.mgr.metricsURL)
	if err != nil {
		return err
	}
	// The new process's own counters start at zero.
	res.restart = b.phase(counters{writes: w0}, counters{writes: w1, mm: mm1, cpu: b.mgr.usage().cpu})
	b.logf("restarted manager idle: RSS %s, heap %s; restart cost %d calls, API writes %s",
		mib(res.idleRSS), mib(res.idleHeap), res.restart.calls, res.restart.writes.describe("operator", "other"))

	if o.unrelated <= 0 {
		b.stopManager()
		return nil
	}
	res.unrelated = o.unrelated
	b.logf("adding %d unrelated Secrets", o.unrelated)
	if err := createUnrelated(ctx, b.admin, o, o.unrelated); err != nil {
		return err
	}
	if _, err := b.mgr.waitWritesSettled(ctx, 3*time.Second, time.Minute); err != nil {
		b.warn("unrelated Secrets: %v", err)
	}
	time.Sleep(5 * time.Second)
	if res.liveRSS, res.liveHeap, err = b.idleSample(ctx, b.mgr); err != nil {
		return err
	}
	b.stopManager()

	b.logf("restarting the manager with the unrelated Secrets in the cluster")
	cold, err := b.startIdleManager(ctx, "manager-3.log", "idle-unrelated")
	if err != nil {
		return err
	}
	b.stopManager()
	res.coldRSS, res.coldHeap, res.coldHWM = cold.rss, cold.heap, cold.hwm
	if cold.profile != "" {
		res.profiles = append(res.profiles, profileFile{fmt.Sprintf("heap in use, idle, with %s unrelated Secrets", thousands(o.unrelated)), cold.profile, ""})
		if res.idleProfile != "" {
			res.profiles = append(res.profiles, profileFile{fmt.Sprintf("what the %s unrelated Secrets add to the idle heap (-base: the idle manager without them)", thousands(o.unrelated)), cold.profile, res.idleProfile})
		}
	}
	b.logf("with %d unrelated Secrets: RSS %s (idle without: %s), heap %s (without: %s)",
		o.unrelated, mib(res.coldRSS), mib(res.idleRSS), mib(res.coldHeap), mib(res.idleHeap))
	return nil
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func mib(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

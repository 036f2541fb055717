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
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

// result holds everything measured for one N.
type result struct {
	n        int
	wall     time.Duration
	err      string
	warnings []string
	phases   []phaseTime // wall time of each phase, in order

	floor  floorResult
	issue  issuance
	wave   wave
	steady steady

	// The manager that ran the phases above: peak RSS (VmHWM), peak heap
	// (sampled), CPU, and its memory idle before the first ArcGISToken.
	peakRSS  uint64
	peakHeap float64
	cpu      time.Duration
	baseline idleSample

	// Restarted managers.
	restart   phaseCounts
	idle      idleSample // fresh manager, N tokens
	unrelated idleSample // fresh manager, N tokens and the unrelated Secrets
	profiles  []profileFile
}

type phaseTime struct {
	name string
	took time.Duration
}

// phaseCounts is what happened during one phase.
type phaseCounts struct {
	calls  map[string]int // simulator requests by endpoint
	failed int            // generateToken calls that did not succeed
	peak   int            // peak requests in flight at the simulator
	api    apiCounts      // the API server's counts
	// The manager's own counts of its API requests (every attempt), of those
	// answered 429, and of its retries.
	restWrites, restReads, rest429, restRetries float64
	reconciles                                  map[string]float64 // by result
	cpu                                         time.Duration
}

func (p phaseCounts) generateToken() int { return p.calls[arcgissim.EndpointPortalGenerateToken] }
func (p phaseCounts) probes() int        { return p.calls[arcgissim.EndpointPortalSelf] }

type issuance struct {
	createDur        time.Duration // the benchmark's own N creates
	total            time.Duration // first create sent → last Ready seen
	p50, p99, settle time.Duration
	counts           phaseCounts
}

// wave is the forced rotation wave.
type wave struct {
	total            time.Duration // first spec patch → last renewal seen
	p50, p99, settle time.Duration
	renewed, extra   int // extra: renewals beyond one per token
	counts           phaseCounts
}

// steady is the window with probes on and nothing else due.
type steady struct {
	window    time.Duration
	interval  time.Duration
	due       int // probes due in the window, from the status
	tokensDue int // ArcGISTokens with at least one probe due in it
	counts    phaseCounts
}

// idleSample is a settled manager's memory.
type idleSample struct {
	rss, heap   float64 // median of 5 samples, each right after a forced GC
	anon        float64 // the part of rss that is not the executable's pages
	hwm         uint64
	tokenSeries int // arcgistoken_* samples in one scrape
	scrapeBytes int
}

// profileFile is a saved profile.
type profileFile struct{ label, path string }

// bench is the state of one N's run.
type bench struct {
	o     *options
	n     int
	res   *result
	dir   string
	env   *testenv.Env
	sim   *arcgissim.Simulator
	admin client.Client
	rc    rest.Interface
	tr    *tracker
	mgr   *manager
	cfg   string // kubeconfig
	spec  tokenSpec
}

func runN(ctx context.Context, o *options, n int, run *runInfo) *result {
	res := &result{n: n}
	start := time.Now()
	b := &bench{o: o, n: n, res: res}
	// The informers and samplers of this N stop before its control plane.
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

func logf(format string, args ...any) {
	fmt.Printf("    [%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.warnings = append(b.res.warnings, msg)
	logf("WARNING: %s", msg)
}

// phase runs one phase and records how long it took.
func (b *bench) phase(name string, f func() error) error {
	start := time.Now()
	err := f()
	b.res.phases = append(b.res.phases, phaseTime{name, time.Since(start)})
	return err
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

// start brings up a control plane, the simulator and the admin client.
func (b *bench) start(run *runInfo) error {
	var err error
	if b.dir, err = os.MkdirTemp("", "arcgis-token-operator-bench-"); err != nil {
		return err
	}
	logf("starting the control plane")
	if b.env, err = testenv.Start(); err != nil {
		return err
	}
	b.cfg = filepath.Join(b.dir, "kubeconfig")
	if err := b.env.WriteKubeconfig(b.cfg); err != nil {
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
	for i := range b.o.accounts {
		users[accountName(i)] = accountPassword(i)
	}
	if b.sim, err = arcgissim.New(arcgissim.Config{Users: users}); err != nil {
		return err
	}
	if err := b.sim.Start(); err != nil {
		return err
	}
	b.admin, err = newClient(b.env.Config)
	return err
}

func (b *bench) run(ctx context.Context, run *runInfo) error {
	o, n, res := b.o, b.n, b.res
	if err := b.start(run); err != nil {
		return err
	}
	b.spec = tokenSpec{portalURL: b.sim.PortalURL(), accounts: o.accounts, lifetime: o.lifetime, validationInterval: o.validationInterval, lastApplied: o.lastApplied}

	// 1. The floor, with no manager running.
	if err := b.phase("floor", func() error {
		logf("floor: %d ArcGISTokens created by the benchmark, each Secret and status written by a plain client (no client-side limit, %d workers)", n, o.workers)
		var err error
		res.floor, err = runFloor(ctx, b.admin, b.env.Config, b.rc, o, b.spec, n)
		logf("floor: issuance %s, rotation %s", secs(res.floor.issue), secs(res.floor.rotate))
		return err
	}); err != nil {
		return err
	}

	if err := setupNamespace(ctx, b.admin, benchNS, o.accounts, b.sim.CAPEM()); err != nil {
		return err
	}
	var err error
	if b.tr, err = startTracker(ctx, b.env.Config, benchNS); err != nil {
		return err
	}
	if b.mgr, err = startManager(ctx, o, b.cfg, filepath.Join(b.dir, "manager-1.log")); err != nil {
		return err
	}
	if run.managerVersion == "" {
		run.managerVersion = b.mgr.version
	}
	// The manager with no ArcGISToken yet: the fixed part of its memory.
	time.Sleep(3 * time.Second)
	if res.baseline, err = b.idleSample(ctx); err != nil {
		return err
	}
	logf("manager with no ArcGISToken: RSS %s, heap %s", mib(res.baseline.rss), mib(res.baseline.heap))

	// 2. Issuance, 3. the forced wave, 4. steady state with probes.
	if err := b.phase("issuance", func() error { return b.issuance(ctx) }); err != nil {
		return err
	}
	if err := b.phase("forced wave", func() error { return b.forcedWave(ctx) }); err != nil {
		return err
	}
	if o.steady {
		if err := b.phase("steady state", func() error { return b.steadyState(ctx) }); err != nil {
			return err
		}
	}

	res.peakHeap = b.mgr.peak(ctx)
	u := b.mgr.usage()
	res.peakRSS, res.cpu = u.hwm, u.cpu
	b.stopManager()
	logf("manager: peak RSS %s, peak heap %s, CPU %s", mib(float64(res.peakRSS)), mib(res.peakHeap), res.cpu.Round(10*time.Millisecond))

	// 5. Memory when idle, and with unrelated Secrets.
	return b.phase("memory", func() error { return b.memory(ctx) })
}

// counters snapshots what the counts of a phase are computed from.
type counters struct {
	api apiCounts
	mm  managerMetrics
	cpu time.Duration
}

func (b *bench) snap(ctx context.Context) (counters, error) {
	var c counters
	var err error
	if c.api, err = apiServerCounts(ctx, b.rc); err != nil {
		return c, err
	}
	if c.mm, err = scrapeManager(ctx, b.mgr.metricsURL); err != nil {
		return c, err
	}
	c.cpu = b.mgr.usage().cpu
	return c, nil
}

// counts computes a phase's counts from the snapshots around it and the
// simulator's counters (reset at its start).
func (b *bench) counts(before, after counters) phaseCounts {
	sc := b.sim.Counters()
	p := phaseCounts{calls: map[string]int{}, peak: sc.PeakInFlight, reconciles: map[string]float64{}}
	for ep, outcomes := range sc.Requests {
		for outcome, k := range outcomes {
			p.calls[ep] += k
			if ep == arcgissim.EndpointPortalGenerateToken && outcome != arcgissim.OutcomeOK {
				p.failed += k
			}
		}
	}
	p.api = after.api.sub(before.api)
	p.restWrites = after.mm.restWrites - before.mm.restWrites
	p.restReads = after.mm.restReads - before.mm.restReads
	p.rest429 = after.mm.rest429 - before.mm.rest429
	p.restRetries = after.mm.restRetries - before.mm.restRetries
	p.cpu = after.cpu - before.cpu
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

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

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
	b.res.profiles = append(b.res.profiles, profileFile{fmt.Sprintf("CPU, the first %d s of %s", n, what), path})
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
	return b.counts(before, after), settle, nil
}

func (b *bench) issuance(ctx context.Context) error {
	o, n, is := b.o, b.n, &b.res.issue
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	profDone := b.startCPUProfile(ctx, 1.5*b.res.floor.issue.Seconds()+5, "issuance", "issuance")

	logf("issuance: creating %d ArcGISTokens at once (%d concurrent requests)", n, o.createWorkers)
	t0 := time.Now()
	if err := forEach(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		tok := b.spec.tokenObject(i, benchNS)
		b.tr.markSent(tok.Name, time.Now())
		if err := b.admin.Create(ctx, tok); err != nil {
			return fmt.Errorf("creating ArcGISToken %s: %w", tok.Name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	is.createDur = time.Since(t0)
	logf("issuance: created in %s; waiting for Ready", secs(is.createDur))
	timeout := max(3*time.Minute, 10*b.res.floor.issue+2*time.Minute)
	if err := waitFor(ctx, timeout, func() bool { return b.tr.readyCount() >= n }); err != nil {
		return fmt.Errorf("%d of %d ArcGISTokens Ready after %s; the others' reasons: %v", b.tr.readyCount(), n, timeout, b.tr.notReady())
	}
	var last time.Time
	var ready []time.Duration
	for _, s := range b.tr.snapshot() {
		last = latest(last, s.readySeen)
		ready = append(ready, s.readySeen.Sub(s.sent))
	}
	is.total = last.Sub(t0)
	is.p50, is.p99 = percentile(ready, 50), percentile(ready, 99)
	logf("issuance: all Ready after %s (p50 %s, p99 %s)", secs(is.total), secs(is.p50), secs(is.p99))

	if is.counts, is.settle, err = b.endPhase(ctx, "issuance", before, profDone); err != nil {
		return err
	}
	if path := b.heapProfile(ctx, "issuance"); path != "" {
		b.res.profiles = append(b.res.profiles, profileFile{"heap in use, after issuance", path})
	}
	logf("issuance: %d generateToken calls, API writes %s; events %s; 429s %.0f",
		is.counts.generateToken(), is.counts.api.describe(operatorClasses...), is.counts.api.describe("events"), is.counts.api.rejected)
	return nil
}

func (b *bench) forcedWave(ctx context.Context) error {
	o, n, w := b.o, b.n, &b.res.wave
	// Status times have seconds: let a second pass since issuance so that
	// the next token is told apart.
	time.Sleep(1100 * time.Millisecond)
	base := b.tr.issuedCounts()
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	profDone := b.startCPUProfile(ctx, b.res.issue.total.Seconds(), "forced-wave", "the forced wave")
	if o.waveLatency > 0 {
		if err := b.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultDelay, Delay: o.waveLatency}); err != nil {
			return err
		}
		defer b.sim.ClearFaults()
	}
	logf("forced wave: spec.expirationMinutes %d → %d on all %d ArcGISTokens at once", o.lifetime, o.forcedLifetime, n)
	t0 := time.Now()
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"expirationMinutes":%d}}`, o.forcedLifetime))
	if err := forEach(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		tok := &arcgisv1alpha1.ArcGISToken{}
		tok.Namespace, tok.Name = benchNS, tokenName(i)
		return b.admin.Patch(ctx, tok, patch)
	}); err != nil {
		return err
	}
	timeout := max(3*time.Minute, 10*b.res.issue.total+2*time.Minute)
	if err := waitFor(ctx, timeout, func() bool { return b.tr.renewedSince(base) >= n }); err != nil {
		return fmt.Errorf("forced wave: %d of %d re-issued after %s", b.tr.renewedSince(base), n, timeout)
	}
	if w.counts, w.settle, err = b.endPhase(ctx, "forced wave", before, profDone); err != nil {
		return err
	}
	var lat []time.Duration
	var last time.Time
	for name, s := range b.tr.snapshot() {
		k := base[name]
		if len(s.issuedSeen) <= k {
			continue
		}
		w.renewed++
		w.extra += len(s.issuedSeen) - k - 1
		lat = append(lat, s.issuedSeen[k].Sub(t0))
		last = latest(last, s.issuedSeen[k])
	}
	w.total = last.Sub(t0)
	w.p50, w.p99 = percentile(lat, 50), percentile(lat, 99)
	logf("forced wave: all re-issued after %s (p50 %s, p99 %s); %d calls; writes %s; 429s %.0f",
		secs(w.total), secs(w.p50), secs(w.p99), w.counts.generateToken(), w.counts.api.describe(operatorClasses...), w.counts.api.rejected)
	return nil
}

// probesDue counts the probes due in [from, to]: each token is probed every
// interval after its base (the later of its issuedAt and its Validated condition's transition time).
// It also returns how many tokens have at least one due, and the latest
// first due time in the window.
func probesDue(bases []time.Time, interval time.Duration, from, to time.Time) (due, tokens int, lastFirst time.Time) {
	if interval <= 0 {
		return 0, 0, time.Time{}
	}
	for _, base := range bases {
		at := base.Add(interval)
		if at.Before(from) {
			at = at.Add(from.Sub(at).Truncate(interval))
			if at.Before(from) {
				at = at.Add(interval)
			}
		}
		if at.After(to) {
			continue
		}
		tokens++
		lastFirst = latest(lastFirst, at)
		for ; !at.After(to); at = at.Add(interval) {
			due++
		}
	}
	return due, tokens, lastFirst
}

// probeBases are the times each token's probes are counted from.
func (b *bench) probeBases() []time.Time {
	var bases []time.Time
	for _, s := range b.tr.snapshot() {
		base := s.issuedAt
		if s.lastValidated.After(base) {
			base = s.lastValidated
		}
		bases = append(bases, base)
	}
	return bases
}

// steadyState counts what the manager does in a window with nothing due but
// the probes of every token (validationInterval after the forced wave): the
// calls they cost and the writes they cause.
func (b *bench) steadyState(ctx context.Context) error {
	st := &b.res.steady
	st.interval = b.o.validationInterval
	b.sim.ResetCounters()
	before, err := b.snap(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	// Every token's next probe falls in the next interval; the window ends a
	// little after the last of them.
	bases := b.probeBases()
	_, _, last := probesDue(bases, st.interval, start, start.Add(st.interval))
	end := latest(start, last).Add(b.o.probeSlack)
	logf("steady state: until %s (%s), every token is probed once (validationInterval %s)", end.Format("15:04:05"), secs(time.Until(end)), st.interval)
	if err := sleep(ctx, time.Until(end)); err != nil {
		return err
	}
	st.due, st.tokensDue, _ = probesDue(bases, st.interval, start, end)
	if err := b.mgr.waitIdle(ctx, 0, 5*time.Minute); err != nil {
		b.warn("steady state: %v", err)
	}
	after, err := b.snap(ctx)
	if err != nil {
		return err
	}
	st.window = time.Since(start)
	st.counts = b.counts(before, after)
	logf("steady state: %d probes due (%d tokens), %d made; writes %s; events %s; generateToken %d",
		st.due, st.tokensDue, st.counts.probes(), st.counts.api.describe(operatorClasses...), st.counts.api.describe("events"), st.counts.generateToken())
	return nil
}

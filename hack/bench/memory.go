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
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"
)

// idleSample samples the memory of the settled manager b.mgr: the median of
// 5 samples 2 s apart, each right after a garbage collection, so that the
// heap is the live heap whenever the last collection happened to run.
func (b *bench) idleSample(ctx context.Context) (idleSample, error) {
	var s idleSample
	var rs, hs, as []float64
	for i := range 5 {
		if i > 0 {
			if err := sleep(ctx, 2*time.Second); err != nil {
				return s, err
			}
		}
		if err := b.mgr.collectGarbage(ctx); err != nil {
			return s, err
		}
		mm, err := scrapeManager(ctx, b.mgr.metricsURL)
		if err != nil {
			return s, err
		}
		u := b.mgr.usage()
		rs, hs, as = append(rs, float64(u.rss)), append(hs, mm.heapInuse), append(as, float64(u.anon))
		s.hwm, s.tokenSeries, s.scrapeBytes = u.hwm, mm.tokenSeries, mm.scrapeBytes
	}
	slices.Sort(rs)
	slices.Sort(hs)
	slices.Sort(as)
	s.rss, s.heap, s.anon = rs[len(rs)/2], hs[len(hs)/2], as[len(as)/2]
	return s, nil
}

// startIdleManager starts a fresh manager (logging to logName in the run's
// folder), waits until it has reconciled all N ArcGISTokens and is idle, and
// samples its memory; with -profile it also saves a heap profile
// n<N>-<profileName>.heap.pprof. The manager is left running in b.mgr.
func (b *bench) startIdleManager(ctx context.Context, logName, profileName string) (idleSample, error) {
	var err error
	if b.mgr, err = startManager(ctx, b.o, b.cfg, filepath.Join(b.dir, logName)); err != nil {
		return idleSample{}, err
	}
	if err := b.mgr.waitIdle(ctx, b.n, 10*time.Minute); err != nil {
		return idleSample{}, err
	}
	if err := sleep(ctx, 5*time.Second); err != nil {
		return idleSample{}, err
	}
	s, err := b.idleSample(ctx)
	if err != nil {
		return s, err
	}
	if path := b.heapProfile(ctx, profileName); path != "" {
		b.res.profiles = append(b.res.profiles, profileFile{"heap in use, " + profileName, path})
	}
	return s, nil
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

// memory restarts the manager with N ArcGISTokens, all up to date, and
// samples it idle; then adds the unrelated Secrets and samples a fresh
// manager again.
func (b *bench) memory(ctx context.Context) error {
	o, res := b.o, b.res
	logf("memory: restarting the manager (N ArcGISTokens, all up to date)")
	b.sim.ResetCounters()
	before, err := apiServerCounts(ctx, b.rc)
	if err != nil {
		return err
	}
	if res.idle, err = b.startIdleManager(ctx, "manager-2.log", "idle"); err != nil {
		return err
	}
	after, err := b.snap(ctx)
	if err != nil {
		return err
	}
	// The new process's own counters start at zero.
	res.restart = b.counts(counters{api: before, mm: managerMetrics{reconcileResults: map[string]float64{}}}, after)
	b.stopManager()
	logf("memory: idle RSS %s, heap %s; the restart cost %d calls, writes %s",
		mib(res.idle.rss), mib(res.idle.heap), res.restart.generateToken()+res.restart.probes(), res.restart.api.describe(operatorClasses...))

	if o.unrelated <= 0 {
		return nil
	}
	logf("memory: adding %d unrelated Secrets in namespace %s", o.unrelated, o.unrelatedNS)
	if err := createUnrelated(ctx, b.admin, o.unrelatedNS, o.unrelated, o.createWorkers); err != nil {
		return err
	}
	logf("memory: a fresh manager with them")
	if res.unrelated, err = b.startIdleManager(ctx, "manager-3.log", "idle-unrelated"); err != nil {
		return err
	}
	b.stopManager()
	logf("memory: with %d unrelated Secrets: RSS %s (without: %s), heap %s (without: %s)",
		o.unrelated, mib(res.unrelated.rss), mib(res.idle.rss), mib(res.unrelated.heap), mib(res.idle.heap))
	return nil
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func mib(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

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
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// soakResult is what the real-time soak measured.
type soakResult struct {
	n        int
	done     bool
	err      string
	wall     time.Duration
	warnings []string

	// expiredUp is the time Secrets held an expired token while the service
	// was up, summed over all of them; expiredDown the same during the
	// outage; expiredTokens how many Secrets had any of expiredUp, and
	// expiredMax the longest single stretch.
	expiredUp, expiredDown, expiredMax time.Duration
	expiredTokens                      int

	// Requests at the flaky front, by outcome: generateToken calls in all,
	// those it answered 503 at random, those during the outage.
	calls, flaky, outage int
	probes, probesFailed int
	// needed counts the tokens stored that were due (the first of each
	// ArcGISToken, and each renewal at least half a lifetime after the
	// previous token); premature the others.
	needed, premature int
	stored            int

	writes  apiCounts
	peakRSS uint64
	cpu     time.Duration
}

// flakyFront stands between the manager and the simulated portal like a
// load balancer in a bad mood: it answers a share of the requests 503 at
// random, and every request 503 during the outage. It counts what it sees.
type flakyFront struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu         sync.Mutex
	rng        *rand.Rand
	failRate   float64
	downFrom   time.Time
	downTo     time.Time
	requests   map[string]map[string]int // endpoint → outcome → count
	frontNowFn func() time.Time
}

const (
	outcomeForwarded = "forwarded"
	outcomeFlaky     = "503 (random)"
	outcomeOutage    = "503 (outage)"
)

func newFlakyFront(target string, targetCA []byte, failRate float64, seed uint64) (*flakyFront, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(targetCA) {
		return nil, fmt.Errorf("the simulator's CA is not PEM")
	}
	f := &flakyFront{
		rng:        rand.New(rand.NewPCG(seed, seed^0x5eed)),
		failRate:   failRate,
		requests:   map[string]map[string]int{},
		frontNowFn: time.Now,
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 64},
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.StartTLS()
	return f, nil
}

// caPEM is the certificate the manager must trust to reach the front.
func (f *flakyFront) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

func (f *flakyFront) setOutage(from, to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downFrom, f.downTo = from, to
}

// decide picks a request's fate and counts it.
func (f *flakyFront) decide(endpoint string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.frontNowFn()
	outcome := outcomeForwarded
	switch {
	case !now.Before(f.downFrom) && now.Before(f.downTo):
		outcome = outcomeOutage
	case f.rng.Float64() < f.failRate:
		outcome = outcomeFlaky
	}
	if f.requests[endpoint] == nil {
		f.requests[endpoint] = map[string]int{}
	}
	f.requests[endpoint][outcome]++
	return outcome
}

// frontEndpoint names a request by the end of its path.
func frontEndpoint(path string) string {
	for _, ep := range []string{"generateToken", "portals/self"} {
		if strings.HasSuffix(path, "/"+ep) {
			return ep
		}
	}
	return "other"
}

func (f *flakyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.decide(frontEndpoint(r.URL.Path)) == outcomeForwarded {
		f.proxy.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = fmt.Fprint(w, "<html><body><h1>503 Service Unavailable</h1></body></html>\n")
}

func (f *flakyFront) counts() map[string]map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]int{}
	for ep, m := range f.requests {
		out[ep] = map[string]int{}
		for k, v := range m {
			out[ep][k] = v
		}
	}
	return out
}

func (f *flakyFront) close() { f.srv.Close() }

// expiredTime sums, over the successive contents of one Secret, the time it
// held a token past its expiry: from the expiry (or from when the content
// was seen, if later) until the next content was seen, or until end. The
// part inside [downFrom, downTo) is returned apart, and the longest stretch
// while up.
func expiredTime(vs []secretVersion, end, downFrom, downTo time.Time) (up, down, longest time.Duration) {
	for i, v := range vs {
		next := end
		if i+1 < len(vs) {
			next = vs[i+1].seen
		}
		from := latest(v.seen, v.expires)
		if !from.Before(next) {
			continue
		}
		total := next.Sub(from)
		var overlap time.Duration
		if lo, hi := latest(from, downFrom), earliest(next, downTo); lo.Before(hi) {
			overlap = hi.Sub(lo)
		}
		up += total - overlap
		down += overlap
		longest = max(longest, total-overlap)
	}
	return up, down, longest
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// renewalsNeeded counts, for one Secret, the tokens that were due: the first,
// and every next one that expires at least half a lifetime after the
// previous (the operator renews at two thirds of the lifetime, never before
// half); the others were premature.
func renewalsNeeded(vs []secretVersion, lifetime time.Duration) (needed, premature int) {
	for i, v := range vs {
		if i == 0 || v.expires.Sub(vs[i-1].expires) >= lifetime/2 {
			needed++
		} else {
			premature++
		}
	}
	return needed, premature
}

// runSoak runs N ArcGISTokens with short tokens for o.soakDuration in real
// time behind the flaky front, with one outage, and measures how long
// Secrets held expired tokens while the service was up and how many
// generateToken calls the renewals cost.
func runSoak(ctx context.Context, o *options, run *runInfo) *soakResult {
	res := &soakResult{n: o.soakN}
	start := time.Now()
	b := &bench{o: o, n: o.soakN, res: &result{n: o.soakN}}
	sctx, cancel := context.WithCancel(ctx)
	err := b.soak(sctx, run, res)
	cancel()
	b.cleanup(err != nil)
	res.wall = time.Since(start)
	res.warnings = b.res.warnings
	if err != nil {
		res.err = err.Error()
	} else {
		res.done = true
	}
	return res
}

func (b *bench) soak(ctx context.Context, run *runInfo, res *soakResult) error {
	o, n := b.o, b.n
	if err := b.start(run); err != nil {
		return err
	}
	front, err := newFlakyFront(b.sim.URL(), b.sim.CAPEM(), o.soakFailRate, o.seed)
	if err != nil {
		return err
	}
	defer front.close()
	b.spec = tokenSpec{portalURL: front.srv.URL + strings.TrimPrefix(b.sim.PortalURL(), b.sim.URL()), accounts: o.accounts,
		lifetime: o.soakLifetime, validationInterval: o.validationInterval, lastApplied: o.lastApplied}
	if err := setupNamespace(ctx, b.admin, benchNS, o.accounts, front.caPEM()); err != nil {
		return err
	}
	secrets, err := startSecretTracker(ctx, b.env.Config, benchNS)
	if err != nil {
		return err
	}
	if b.tr, err = startTracker(ctx, b.env.Config, benchNS); err != nil {
		return err
	}
	if b.mgr, err = startManager(ctx, o, b.cfg, filepath.Join(b.dir, "manager-soak.log")); err != nil {
		return err
	}
	if run.managerVersion == "" {
		run.managerVersion = b.mgr.version
	}
	before, err := apiServerCounts(ctx, b.rc)
	if err != nil {
		return err
	}

	t0 := time.Now()
	end := t0.Add(o.soakDuration)
	downFrom, downTo := t0.Add(o.soakOutageAt), t0.Add(o.soakOutageAt+o.soakOutage)
	front.setOutage(downFrom, downTo)
	logf("soak: %d ArcGISTokens of %d-minute tokens until %s; %.0f%% of requests answered 503, all of them from %s to %s",
		n, o.soakLifetime, end.Format("15:04:05"), 100*o.soakFailRate, downFrom.Format("15:04:05"), downTo.Format("15:04:05"))
	if err := forEach(ctx, n, o.createWorkers, func(ctx context.Context, i int) error {
		return b.admin.Create(ctx, b.spec.tokenObject(i, benchNS))
	}); err != nil {
		return err
	}
	for time.Now().Before(end) {
		if err := sleep(ctx, min(time.Minute, time.Until(end))); err != nil {
			return err
		}
		now := time.Now()
		expiredNow, stored := 0, 0
		for _, vs := range secrets.snapshot() {
			stored += len(vs)
			if k := len(vs); k > 0 && vs[k-1].expires.Before(now) {
				expiredNow++
			}
		}
		c := front.counts()["generateToken"]
		logf("soak: %s in: %d Ready, %d tokens stored, %d Secrets expired now; generateToken %s",
			now.Sub(t0).Round(time.Second), b.tr.readyCount(), stored, expiredNow, fmtMap(c))
	}

	versions := secrets.snapshot()
	if secrets.bad > 0 {
		b.warn("%d Secret contents without a readable expiry", secrets.bad)
	}
	for _, vs := range versions {
		up, down, longest := expiredTime(vs, end, downFrom, downTo)
		res.expiredUp += up
		res.expiredDown += down
		res.expiredMax = max(res.expiredMax, longest)
		if up > 0 {
			res.expiredTokens++
		}
		needed, premature := renewalsNeeded(vs, time.Duration(o.soakLifetime)*time.Minute)
		res.needed += needed
		res.premature += premature
		res.stored += len(vs)
	}
	counts := front.counts()
	for outcome, k := range counts["generateToken"] {
		res.calls += k
		switch outcome {
		case outcomeFlaky:
			res.flaky += k
		case outcomeOutage:
			res.outage += k
		}
	}
	for outcome, k := range counts["portals/self"] {
		res.probes += k
		if outcome != outcomeForwarded {
			res.probesFailed += k
		}
	}
	after, err := apiServerCounts(ctx, b.rc)
	if err != nil {
		return err
	}
	res.writes = after.sub(before)
	u := b.mgr.usage()
	res.peakRSS, res.cpu = u.hwm, u.cpu
	logf("soak: expired while up %s (%d tokens), during the outage %s; %d generateToken calls for %d tokens needed (%d premature)",
		secs(res.expiredUp), res.expiredTokens, secs(res.expiredDown), res.calls, res.needed, res.premature)
	return nil
}

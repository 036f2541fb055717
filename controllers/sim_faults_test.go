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

package controllers

// The seeded faults of the simulation: each draws its details from the
// seed's source when it happens, and opens a disturbance for the objects it
// keeps from renewing.

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// Graces: how long after a disturbance ends an object may still be without
// a fresh token. They follow the backoff caps: 5 minutes for transient
// failures (the workqueue's and the reasons table's), 10 for refused Secret
// writes, an hour of login backoff plus a 15-minute lock-out for credentials.
const (
	graceTransient   = 6 * time.Minute
	graceSecretWrite = 11 * time.Minute
	graceCredentials = 2*time.Hour + 15*time.Minute
)

// simFaults are the kinds of faults, with their weights.
var simFaults = []struct {
	name   string
	weight int
	do     func(w *simWorld)
}{
	{"service outage", 3, (*simWorld).faultOutage},
	{"flaky service", 4, (*simWorld).faultFlaky},
	{"clock jump", 1, (*simWorld).faultSkew},
	{"account locked by someone else", 1, (*simWorld).faultLockout},
	{"all tokens revoked", 2, (*simWorld).faultRevoke},
	{"wrong password in the credentials Secret", 2, (*simWorld).faultWrongPassword},
	{"password changed at the service", 1, (*simWorld).faultServicePassword},
	{"Secret writes refused", 3, (*simWorld).faultSecretWrites},
	{"status writes refused", 2, (*simWorld).faultStatusWrites},
	{"manager restart", 2, (*simWorld).faultRestart},
	{"spec changed", 1, (*simWorld).faultSpecChange},
}

// planFaults schedules random faults over the run, about one every three
// simulated hours.
func (w *simWorld) planFaults() {
	total := 0
	for _, f := range simFaults {
		total += f.weight
	}
	limit := time.Duration(w.cfg.days) * 24 * time.Hour
	at := time.Duration(0)
	for {
		at += time.Duration(w.plan.ExpFloat64() * float64(3*time.Hour)).Truncate(time.Second)
		if at >= limit {
			return
		}
		n := w.plan.IntN(total)
		for _, f := range simFaults {
			if n < f.weight {
				w.schedule(at, f.name, f.do)
				break
			}
			n -= f.weight
		}
	}
}

func (w *simWorld) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1)).Truncate(time.Second)
}

func (w *simWorld) after(d time.Duration) time.Duration { return w.elapsed() + d }

func (w *simWorld) injectSimFault(f arcgissim.Fault, what string, d time.Duration) {
	if w.simFault != nil {
		w.logf("  skipped: a simulator fault is active")
		return
	}
	if err := w.sim.InjectFault(f); err != nil {
		w.violate("world", "injecting %+v: %v", f, err)
		return
	}
	w.simFault = w.disturb(what, "all", graceTransient)
	if f.Endpoint == "" && f.Kind == arcgissim.FaultStatus && f.Count == 0 {
		w.outage = &simOutage{start: w.now(), hosts: map[string]*simOutageHost{}}
	}
	w.logf("  %s for %s", what, d)
	w.schedule(w.after(d), what+" ends", func(w *simWorld) {
		w.sim.ClearFaults()
		w.closeDisturbance(w.simFault)
		w.simFault, w.outage = nil, nil
	})
}

// simOutage is a fault that fails every call to the service, and per host
// the reconciles that called it since the operator started.
type simOutage struct {
	start time.Time
	hosts map[string]*simOutageHost
}

type simOutageHost struct {
	calls int       // reconciles that called the host since the operator started
	last  time.Time // the last of them
}

func (w *simWorld) faultOutage() {
	ep := []string{"", "portal", "server"}[w.rng.IntN(3)]
	w.injectSimFault(arcgissim.Fault{Endpoint: ep, Kind: arcgissim.FaultStatus, Status: 503},
		fmt.Sprintf("503 on %q", ep), w.between(5*time.Minute, 2*time.Hour))
}

func (w *simWorld) faultFlaky() {
	faults := []arcgissim.Fault{
		{Kind: arcgissim.FaultStatus, Status: 503},
		{Kind: arcgissim.FaultStatus, Status: 502, RetryAfter: 30 * time.Second},
		{Kind: arcgissim.FaultHTMLError},
		{Kind: arcgissim.FaultHTMLLogin},
		{Kind: arcgissim.FaultDrop},
	}
	f := faults[w.rng.IntN(len(faults))]
	f.Endpoint = append([]string{""}, tokenEndpoints...)[w.rng.IntN(len(tokenEndpoints)+1)]
	f.Count = 1 + w.rng.IntN(3)
	w.injectSimFault(f, fmt.Sprintf("%d× %s %d on %q", f.Count, f.Kind, f.Status, f.Endpoint), 30*time.Minute)
}

func (w *simWorld) faultSkew() {
	off := time.Duration(w.rng.IntN(241)-120) * time.Second
	w.sim.SetClockOffset(off)
	d := w.disturb("clock jump", "all", 0)
	d.wholeLife = true
	w.closeDisturbance(d)
	w.logf("  service clock offset now %s", off)
}

// faultLockout has someone else fail to log in five times: the account is
// locked for 15 minutes.
func (w *simWorld) faultLockout() {
	var users []*simObject
	for _, o := range w.objects {
		if o.typ != arcgisv1alpha1.ServiceTypeOAuth {
			users = append(users, o)
		}
	}
	if len(users) == 0 {
		return
	}
	o := users[w.rng.IntN(len(users))]
	realm, user, _ := strings.Cut(o.account, "/")
	endpoint := w.sim.PortalURL() + "/sharing/rest/generateToken"
	if realm == arcgissim.RealmServer {
		endpoint = w.sim.ServerURL() + "/tokens/generateToken"
	}
	first := len(w.sim.Counters().LoginAttempts[o.account])
	for i := range 5 {
		form := url.Values{"username": {user}, "password": {fmt.Sprintf("not-the-password-%d", i)},
			"client": {"requestip"}, "f": {"json"}}
		resp, err := w.agent.PostForm(endpoint, form)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	last := len(w.sim.Counters().LoginAttempts[o.account])
	if w.agentAttempts[o.account] == nil {
		w.agentAttempts[o.account] = map[int]bool{}
	}
	for i := first; i < last; i++ {
		w.agentAttempts[o.account][i] = true
	}
	d := w.disturb("lock-out of "+o.account, "account:"+o.account, graceCredentials)
	w.logf("  %d failed logins on %s by someone else", last-first, o.account)
	w.schedule(w.after(15*time.Minute), "lock-out of "+o.account+" ends", func(w *simWorld) { w.closeDisturbance(d) })
}

func (w *simWorld) faultRevoke() {
	w.sim.RevokeAll()
	for _, o := range w.objects {
		o.pendingOK, o.forced = 0, true
	}
}

// editCredentials writes what a credentials Secret holds and enqueues the
// objects that use it, as the reference watch would.
func (w *simWorld) editCredentials(c *simCreds, value string) {
	c.current = value
	c.edits++
	s := &corev1.Secret{}
	ctx := context.Background()
	if err := w.raw.Get(ctx, types.NamespacedName{Namespace: simNamespace, Name: c.name}, s); err != nil {
		w.violate("world", "reading %s: %v", c.name, err)
		return
	}
	s.Data = c.data()
	if err := w.raw.Update(ctx, s); err != nil {
		w.violate("world", "writing %s: %v", c.name, err)
		return
	}
	for _, o := range w.objects {
		if o.creds == c {
			o.pendingOK, o.forced = 0, true
			w.enqueue(o)
		}
	}
	if c.current == c.good {
		w.closeDisturbance(c.disturbed)
		c.disturbed = nil
	} else if c.disturbed == nil {
		c.disturbed = w.disturb("wrong credentials in "+c.name, "creds:"+c.name, graceCredentials)
	}
}

func (w *simWorld) pickCreds() *simCreds {
	var free []*simCreds
	for _, c := range w.creds {
		if c.disturbed == nil {
			free = append(free, c)
		}
	}
	if len(free) == 0 {
		w.logf("  skipped: every credentials Secret is being edited")
		return nil
	}
	return free[w.rng.IntN(len(free))]
}

// faultWrongPassword puts a wrong password into a credentials Secret, then
// "fixes" it, sometimes with other wrong ones first.
func (w *simWorld) faultWrongPassword() {
	c := w.pickCreds()
	if c == nil {
		return
	}
	w.editCredentials(c, fmt.Sprintf("wrong-password-%d-%08x", c.edits, w.rng.Uint32()))
	at := w.between(10*time.Minute, 3*time.Hour)
	w.logf("  %s holds a wrong password; fixed after %s", c.name, at)
	for i := range w.rng.IntN(4) {
		at += w.between(time.Minute, 5*time.Minute)
		w.schedule(w.after(at), fmt.Sprintf("%s fixed with another wrong password (%d)", c.name, i+1), func(w *simWorld) {
			w.editCredentials(c, fmt.Sprintf("wrong-password-%d-%08x", c.edits, w.rng.Uint32()))
		})
	}
	w.schedule(w.after(at+time.Minute), c.name+" fixed", func(w *simWorld) { w.editCredentials(c, c.good) })
}

// faultServicePassword changes the password at the service; the Secret
// follows later.
func (w *simWorld) faultServicePassword() {
	c := w.pickCreds()
	if c == nil {
		return
	}
	c.good = fmt.Sprintf("%s-rotated-%d-%08x", c.user, c.edits, w.rng.Uint32())
	if c.oauth {
		w.sim.SetApp(c.user, c.good)
	} else {
		w.sim.SetUser(c.user, c.good)
	}
	c.disturbed = w.disturb("service password of "+c.user+" changed", "creds:"+c.name, graceCredentials)
	at := w.between(0, 30*time.Minute)
	w.logf("  %s changed at the service; %s follows after %s", c.user, c.name, at)
	w.schedule(w.after(at), c.name+" updated to the new password", func(w *simWorld) { w.editCredentials(c, c.good) })
}

func (w *simWorld) writeFault(target string, errs []int, grace time.Duration) *simWriteFault {
	e := simAPIErrors[errs[w.rng.IntN(len(errs))]]
	gr := schema.GroupResource{Resource: "secrets"}
	if target == "status" {
		gr = schema.GroupResource{Group: arcgisv1alpha1.GroupVersion.Group, Resource: "arcgistokens"}
	}
	f := &simWriteFault{target: target, errName: e.name, err: func(name string) error { return e.err(gr, name) }}
	if w.rng.IntN(2) == 0 {
		f.remaining = 1 + w.rng.IntN(3)
		f.until = w.now().Add(time.Hour)
		w.logf("  the next %d %s writes fail with %s", f.remaining, target, e.name)
	} else {
		d := w.between(5*time.Minute, time.Hour)
		f.until = w.now().Add(d)
		w.logf("  %s writes fail with %s for %s", target, e.name, d)
	}
	f.disturbed = w.disturb(target+" writes refused", "all", grace)
	return f
}

func (w *simWorld) faultSecretWrites() {
	if w.secretFault != nil {
		w.logf("  skipped: Secret writes are already refused")
		return
	}
	w.secretFault = w.writeFault("secret", []int{0, 1, 2, 3, 4}, graceSecretWrite)
}

func (w *simWorld) faultStatusWrites() {
	if w.statusFault != nil {
		w.logf("  skipped: status writes are already refused")
		return
	}
	w.statusFault = w.writeFault("status", []int{2, 3, 4}, graceTransient)
}

func (w *simWorld) faultRestart() {
	w.restarts++
	w.startOperator()
	for _, o := range w.objects {
		o.forced = true
	}
}

// faultSpecChange changes an object's expiration and renewal settings.
func (w *simWorld) faultSpecChange() {
	o := w.objects[w.rng.IntN(len(w.objects))]
	tok := w.token(o)
	if tok == nil {
		return
	}
	tok.Spec.ExpirationMinutes = int32([]int{30, 60, 120, 240, 1440}[w.rng.IntN(5)])
	w.randomRenewal(tok, w.service)
	tok.Generation++
	if err := w.raw.Update(context.Background(), tok); err != nil {
		w.violate("world", "updating %s: %v", o.name, err)
		return
	}
	o.pendingOK, o.forced = 0, true
	w.enqueue(o)
	w.logf("  %s: expirationMinutes %d, renewBefore %s, renewBeforePercentage %s", o.name,
		tok.Spec.ExpirationMinutes, fmtDuration(tok.Spec.RenewBefore), fmtPercent(tok.Spec.RenewBeforePercentage))
}

// lifetime is the shortest lifetime the service may grant an object's tokens
// (server tokens issued at the portal follow the portal's cap): after it, a
// token issued but not yet stored has expired and a new call is right.
func (w *simWorld) lifetime(tok *arcgisv1alpha1.ArcGISToken) time.Duration {
	c := w.service
	return min(time.Duration(tok.Spec.ExpirationMinutes)*time.Minute,
		time.Duration(c.PortalMaxMinutes)*time.Minute, time.Duration(c.ServerLongMinutes)*time.Minute)
}

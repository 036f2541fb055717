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

// The invariants of the simulation, checked after every step.

import (
	"fmt"
	"k8s.io/apimachinery/pkg/api/meta"
	"slices"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
	"github.com/tokenoperator/arcgis-token-operator/internal/tokenspec"
)

// simInvariants names and explains every invariant.
var simInvariants = map[string]string{
	"one-call-per-rotation": "at most one successful generateToken call per rotation of an object's token: a token issued but not stored (a refused write) is stored later, not replaced, until half its lifetime has passed (a restart, a revocation, a change of spec or credentials allow another)",
	"failed-logins":         "at most 4 failed logins by the operator per ArcGIS account (the simulator's own login log) in any 15 minutes",
	"secret-fresh":          "the Secret is never missing, empty or expired (on our clock or the service's) unless a fault kept the object from renewing since the token was half-way through its life (plus that fault's grace)",
	"failure-visible":       "a failed ArcGIS call or a refused Secret write shows in a condition of the object (a failure reason of internal/reasons) when that reconcile ends",
	"write-changes":         "every write of a Secret or a status changes what is stored",
	"issue-spacing":         "two successful generateToken calls for one object are at least a minute apart unless a restart, a revocation or a change of inputs came between (ends the seed: a renewal loop would take the run's time)",
	"reconcile-loop":        "at most 30 reconciles of one object per simulated minute (ends the seed: a hot loop would take the run's time)",
	"probe-spacing":         "checks of one stored token are at least validationInterval apart after a check that worked, and at least a minute apart after one that failed (they back off), one per reconcile at most; a new token or a restart starts the timing again",
	"result-or-error":       "Reconcile never returns a RequeueAfter together with an error (controller-runtime drops the result)",
	"reconcile-returns":     "Reconcile returns (a wait on a fake clock never ends)",
	"reconcile-panics":      "Reconcile does not panic",
	"outage-calls":          "while every call to the service fails, after openAfter reconciles that called a host (since the operator started), two reconciles that call it are at least trialEvery apart: one trial call per host, whatever the number of objects",
	"world":                 "the simulation's own faults could be injected",
}

// failingToday are the invariants the core breaks today, with the defect of
// issue 10. `make test` checks and reports them but fails only on the
// others; SIMULATE_STRICT=1 (make simulate STRICT=1) fails on them too. The
// lead empties this map as the core's rework lands.
var failingToday = map[string]string{
	// Empty since the core's rework (issue 10): every invariant is enforced
	// by make test. Add an entry only with the issue that will fix it.
}

// violate records a broken invariant. The first one that counts ends the
// seed; known ones (failingToday, not strict) are noted once each and the
// seed goes on.
func (w *simWorld) violate(invariant, format string, args ...any) {
	v := simViolation{invariant: invariant, at: w.elapsed(), detail: fmt.Sprintf(format, args...)}
	w.logf("VIOLATION %s: %s", invariant, v.detail)
	if (invariant == "reconcile-loop" || invariant == "issue-spacing") && w.stopped == "" {
		w.stopped = invariant // a hot loop would take the run's whole time
	}
	if _, known := failingToday[invariant]; (known && !w.cfg.strict) || w.cfg.survey {
		if !w.knownSeen[invariant] {
			w.knownSeen[invariant] = true
			w.known = append(w.known, v)
		}
		return
	}
	w.violations = append(w.violations, v)
	if w.stopped == "" {
		w.stopped = invariant
	}
}

// checkReconcile checks what one reconcile did.
func (w *simWorld) checkReconcile(o *simObject, tok *arcgisv1alpha1.ArcGISToken, res ctrl.Result, err error, calls simCalls) {
	now := w.now()
	if err != nil && res.RequeueAfter > 0 {
		w.violate("result-or-error", "Reconcile of %s returned RequeueAfter %s with an error (%s)", o.name, res.RequeueAfter, errorClass(err))
	}
	for _, nw := range w.cur.noopWrites {
		w.violate("write-changes", "%s changed nothing", nw)
	}
	w.checkOutageCalls(o, tok, calls)

	// reconcile-loop
	o.recent = append(o.recent, now)
	for len(o.recent) > 0 && now.Sub(o.recent[0]) >= time.Minute {
		o.recent = o.recent[1:]
	}
	if len(o.recent) > 30 {
		w.violate("reconcile-loop", "%s was reconciled %d times within a simulated minute", o.name, len(o.recent))
	}
	if tok == nil {
		return
	}

	// one-call-per-rotation and issue-spacing
	if calls.okIssues > 0 {
		if !o.lastIssue.IsZero() && now.Sub(o.lastIssue) >= (w.lifetime(tok)-max(w.sim.ClockOffset(), 0))/2 {
			// The token issued then, if still unstored, is itself due for
			// renewal: replacing it is no waste.
			o.pendingOK = 0
		}
		if !o.lastIssue.IsZero() && !o.forced && now.Sub(o.lastIssue) < time.Minute {
			w.violate("issue-spacing", "%s got a new token %s after the previous one, with nothing forcing it",
				o.name, now.Sub(o.lastIssue))
		}
		o.lastIssue, o.forced = now, false
	}
	o.pendingOK += calls.okIssues
	rotated := false
	if s := w.secret(tok); s != nil {
		if v := string(s.Data[arcgisv1alpha1.SecretKeyToken]); v != "" && v != o.token {
			o.token, rotated = v, true
			o.rotations++
		}
	}
	if o.pendingOK > 1 {
		w.violate("one-call-per-rotation", "%s made %d successful generateToken calls since its token's rotation #%d",
			o.name, o.pendingOK, o.rotations)
	}
	if rotated {
		o.pendingOK = 0
	}

	w.checkProbes(o, tok, calls, now)

	// failure-visible. A failed look-up of the service's info (rest/info:
	// which account a login counts against, where a server sends its
	// logins) that the client answered from its last good answer, in a
	// reconcile that did what it set out to do, is not a failure of the
	// object.
	failed := append([]string(nil), calls.failures...)
	if infoFailures(failed) == len(failed) && readyTrue(tok) {
		failed = nil
	}
	if w.cur.refusedSecret > 0 {
		failed = append(failed, fmt.Sprintf("%d refused Secret writes", w.cur.refusedSecret))
	}
	if rotated && calls.okIssues == 0 && len(failed) == len(calls.failures) && w.cur.refusedSecret == 0 && readyTrue(tok) {
		// A check of the old token failed, then the pending new token was
		// stored: the conditions are about the new token, and the failed
		// check was told by an event.
		failed = nil
	}
	if len(failed) > 0 && !w.cur.refusedStatus {
		if !showsFailure(tok) {
			w.violate("failure-visible", "%s: %s, yet its conditions say %s", o.name, strings.Join(failed, ", "), conditionSummary(tok))
		}
	}
}

// checkProbes: checks of a stored token are spaced (probe-spacing).
func (w *simWorld) checkProbes(o *simObject, tok *arcgisv1alpha1.ArcGISToken, calls simCalls, now time.Time) {
	if calls.probes == 0 {
		return
	}
	if calls.probes > 1 {
		w.violate("probe-spacing", "%s's token was checked %d times in one reconcile", o.name, calls.probes)
	}
	if !o.lastProbe.IsZero() && o.probeRotations == o.rotations && o.probeRestart == w.restarts {
		gap, want := now.Sub(o.lastProbe), policies.ProbeRetryBase
		if o.lastProbeOK {
			want, _ = policies.ProbeInterval(tok)
		}
		if gap < want {
			w.violate("probe-spacing", "%s's token was checked %s after the previous check (which %s), want at least %s",
				o.name, gap, map[bool]string{true: "worked", false: "failed"}[o.lastProbeOK], want)
		}
	}
	o.lastProbe, o.lastProbeOK = now, calls.probesFailed == 0
	o.probeRotations, o.probeRestart = o.rotations, w.restarts
}

// infoFailures counts the failed rest/info look-ups among failures.
func infoFailures(failures []string) int {
	n := 0
	for _, f := range failures {
		if strings.HasPrefix(f, "portal/info=") || strings.HasPrefix(f, "server/rest/info=") {
			n++
		}
	}
	return n
}

func readyTrue(tok *arcgisv1alpha1.ArcGISToken) bool {
	return meta.IsStatusConditionTrue(tok.Status.Conditions, arcgisv1alpha1.ConditionReady)
}

// showsFailure says whether a condition of the object names a failure.
func showsFailure(tok *arcgisv1alpha1.ArcGISToken) bool {
	for _, c := range tok.Status.Conditions {
		if reasons.Known(c.Reason) && reasons.Lookup(c.Reason).Failure() {
			return true
		}
	}
	return false
}

// checkFreshAll checks every object's Secret; run after the clock moved and
// before anything acts on the new time.
func (w *simWorld) checkFreshAll() {
	for _, o := range w.objects {
		w.checkFresh(o)
	}
}

// checkLogins: at most 4 failed logins by the operator per account in any
// 15 minutes, from the simulator's own log.
func (w *simWorld) checkLogins() {
	c := w.sim.Counters()
	accounts := make([]string, 0, len(c.LoginAttempts))
	for a := range c.LoginAttempts {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, a := range accounts {
		attempts := c.LoginAttempts[a]
		for i := w.loginsChecked[a]; i < len(attempts); i++ {
			if !w.operatorFailure(a, i, attempts[i]) {
				continue
			}
			n := 0
			for j := i; j >= 0 && attempts[i].At.Sub(attempts[j].At) < 15*time.Minute; j-- {
				if w.operatorFailure(a, j, attempts[j]) {
					n++
				}
			}
			if n > 4 {
				w.violate("failed-logins", "%d failed logins on %s within 15 minutes (the latest %s, %s)", n, a,
					attempts[i].Outcome, fmtElapsed(attempts[i].At.Sub(simEpoch)))
			}
		}
		w.loginsChecked[a] = len(attempts)
	}
}

func (w *simWorld) operatorFailure(account string, i int, a arcgissim.LoginAttempt) bool {
	return a.Outcome != arcgissim.OutcomeOK && !w.agentAttempts[account][i]
}

// checkFresh: the Secret holds a token that has not expired on either clock,
// unless a fault kept the object from renewing.
func (w *simWorld) checkFresh(o *simObject) {
	now := w.now()
	tok := w.token(o)
	if tok == nil {
		return
	}
	s := w.secret(tok)
	if s == nil || len(s.Data[arcgisv1alpha1.SecretKeyToken]) == 0 {
		if now.After(o.created) && w.quiet(o, o.created, o.created, now) {
			w.violate("secret-fresh", "%s has no token in its Secret %s after %s, with no fault in the way",
				o.name, tokenspec.SecretName(tok), now.Sub(o.created))
		}
		return
	}
	expires, err1 := time.Parse(time.RFC3339, s.Annotations[arcgisv1alpha1.ExpiresAnnotation])
	issued, err2 := time.Parse(time.RFC3339, s.Annotations[arcgisv1alpha1.IssuedAtAnnotation])
	if err1 != nil || err2 != nil {
		w.violate("secret-fresh", "%s's Secret has unreadable expiry or issue annotations", o.name)
		return
	}
	// The operator writes the expiry on its own clock: the earlier of the
	// service's expiry and the lifetime the service granted (on the service's
	// clock) counted from the issue on ours. The service clock moving ahead
	// since the issue (beyond the skew the operator measured then) brings the
	// service's end of the token forward by as much.
	skewAtIssue, _ := time.ParseDuration(s.Annotations[arcgisv1alpha1.ClockSkewAnnotation])
	offset := w.sim.ClockOffset()
	deadline := expires.Add(-max(offset-skewAtIssue, 0))
	if now.Before(deadline) || o.expiredToken == o.token {
		return
	}
	lifetime := expires.Sub(issued)
	if w.quiet(o, issued, issued.Add(lifetime/2), now) {
		o.expiredToken = o.token
		w.violate("secret-fresh", "%s's Secret holds a token issued at %s that expired at %s on the %s clock (service clock offset %s, lifetime read %s, status.renewalTime %s), with no fault in the way",
			o.name, fmtElapsed(issued.Sub(simEpoch)), fmtElapsed(deadline.Sub(simEpoch)), map[bool]string{true: "service's", false: "operator's"}[offset > 0],
			offset, lifetime, renewalOf(tok))
	}
}

func renewalOf(tok *arcgisv1alpha1.ArcGISToken) string {
	if tok.Status.RenewalTime == nil {
		return "unset"
	}
	return fmtElapsed(tok.Status.RenewalTime.Sub(simEpoch))
}

// checkOutageCalls: in an outage of the whole service, a host's calls are
// held back after openAfter failures in a row: one trial per trialEvery.
func (w *simWorld) checkOutageCalls(o *simObject, tok *arcgisv1alpha1.ArcGISToken, calls simCalls) {
	if w.outage == nil || len(calls.list) == 0 || tok == nil {
		return
	}
	host := serviceHost(tok)
	h := w.outage.hosts[host]
	if h == nil {
		h = &simOutageHost{}
		w.outage.hosts[host] = h
	}
	h.calls++
	if gap := w.now().Sub(h.last); h.calls > openAfter && gap < trialEvery {
		w.violate("outage-calls", "%s called %s (%s) %s after the previous call, in an outage %s old, after %d calls: want one trial every %s",
			o.name, host, strings.Join(calls.list, " "), gap, w.now().Sub(w.outage.start), h.calls-1, trialEvery)
	}
	h.last = w.now()
}

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

package policies_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
)

// freshFacts are the facts of a stored one-hour token, now seconds after
// its issue, issued for the current spec and inputs.
func freshFacts(now time.Duration) policies.Facts {
	in := freshInput()
	return policies.Facts{
		Now:               issued.Add(now),
		Token:             in.Token,
		Stored:            in.Stored,
		SpecFingerprint:   specFP,
		InputsFingerprint: inputsFP,
		LastProbe:         issued,
	}
}

func TestPlan(t *testing.T) {
	failed := func(f *policies.Facts, generation int64) {
		f.Token.Generation = 2
		st := &f.Token.Status
		st.FailedAttempts, st.LastFailureReason = 1, arcgisv1alpha1.ReasonSecretRejected
		st.LastFailureTime = &metav1.Time{Time: f.Now.Add(-time.Second)}
		st.LastFailureFingerprint = policies.FailedFor(specFP, inputsFP, generation)
		f.Stored.Exists = false
	}
	tests := map[string]struct {
		facts  func() policies.Facts
		action policies.Action
		due    string
		next   time.Duration // from issued; 0: not checked
	}{
		"nothing due":    {facts: func() policies.Facts { return freshFacts(time.Minute) }, action: policies.Nothing},
		"a check is due": {facts: func() policies.Facts { return freshFacts(10 * time.Minute) }, action: policies.Probe},
		"terminating": {facts: func() policies.Facts {
			f := freshFacts(time.Minute)
			f.Terminating, f.Stored.Exists = true, false
			return f
		}, action: policies.Nothing},
		"suspended": {facts: func() policies.Facts {
			f := freshFacts(time.Minute)
			f.Token.Spec.Suspend = true
			return f
		}, action: policies.Suspended, next: time.Hour},
		"Secret deleted 10 s after the issue waits for the floor": {facts: func() policies.Facts {
			f := freshFacts(10 * time.Second)
			f.Stored.Exists, f.Stored.HasToken = false, false
			return f
		}, action: policies.Wait, due: arcgisv1alpha1.ReasonSecretMissing, next: time.Minute},
		"Secret deleted a minute after the issue": {facts: func() policies.Facts {
			f := freshFacts(time.Minute)
			f.Stored.Exists, f.Stored.HasToken = false, false
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonSecretMissing},
		"a spec change 10 s after the issue is issued at once": {facts: func() policies.Facts {
			f := freshFacts(10 * time.Second)
			f.SpecFingerprint = "spec-fp-2"
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonSpecChanged},
		"a credentials change 10 s after the issue is issued at once": {facts: func() policies.Facts {
			f := freshFacts(10 * time.Second)
			f.InputsFingerprint = "inputs-fp-2"
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonCredentialsChanged},
		"a pending token is stored without a login": {facts: func() policies.Facts {
			f := freshFacts(50 * time.Minute)
			f.Pending = true
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonRenewing},
		"a refused write backs off": {facts: func() policies.Facts {
			f := freshFacts(2 * time.Minute)
			failed(&f, 2)
			return f
		}, action: policies.Wait, due: arcgisv1alpha1.ReasonSecretMissing},
		"an edit of the spec ends the backoff": {facts: func() policies.Facts {
			f := freshFacts(2 * time.Minute)
			failed(&f, 1)
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonSecretMissing},
		"bad inputs wait for a fix": {facts: func() policies.Facts {
			f := freshFacts(time.Minute)
			f.Stored.Exists = false
			f.InputError = &policies.Cause{Reason: arcgisv1alpha1.ReasonCredentialsNotFound, Message: "no Secret"}
			return f
		}, action: policies.Wait, due: arcgisv1alpha1.ReasonSecretMissing},
		"a one-minute token is renewed before it expires": {facts: func() policies.Facts {
			f := freshFacts(45 * time.Second)
			f.Stored.Expires, f.Stored.Lifetime = issued.Add(time.Minute), time.Minute
			return f
		}, action: policies.Issue, due: arcgisv1alpha1.ReasonRenewing},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := policies.Plan(tc.facts())
			if d.Action != tc.action || d.Due.Reason != tc.due {
				t.Fatalf("Plan = %s (due %q, block %q), want %s (due %q)", d.Action, d.Due.Reason, d.Block.Reason, tc.action, tc.due)
			}
			if tc.next != 0 && !d.Next.Equal(issued.Add(tc.next)) {
				t.Errorf("Next = %s, want issue + %s", d.Next, tc.next)
			}
		})
	}
}

// FuzzPlanSpacing: whatever the lifetime, skew, renewal setting and time,
// Plan never issues a token for a reason nobody asked for sooner than a
// minute (or half the lifetime) after the last one, and never renews before
// half the lifetime.
func FuzzPlanSpacing(f *testing.F) {
	f.Add(int64(3600), int64(1), int64(3600), int32(0))
	f.Add(int64(60), int64(45), int64(0), int32(0))
	f.Add(int64(3602), int64(2), int64(3600), int32(0))
	f.Add(int64(7200), int64(4000), int64(0), int32(99))
	f.Fuzz(func(t *testing.T, lifetimeS, nowS, renewBeforeS int64, pct int32) {
		if lifetimeS < 1 || lifetimeS > 20160*60 || nowS < 0 || nowS > lifetimeS*2 {
			return
		}
		l := time.Duration(lifetimeS) * time.Second
		facts := freshFacts(time.Duration(nowS) * time.Second)
		facts.Stored.Expires, facts.Stored.Lifetime = issued.Add(l), l
		switch {
		case renewBeforeS > 0:
			facts.Token.Spec.RenewBefore = &metav1.Duration{Duration: time.Duration(renewBeforeS) * time.Second}
		case pct >= 1 && pct <= 99:
			facts.Token.Spec.RenewBeforePercentage = &pct
		}
		facts.LastProbe = facts.Now // no check due
		d := policies.Plan(facts)
		if d.Action != policies.Issue {
			return
		}
		since := facts.Now.Sub(issued)
		if since < min(policies.MinIssueInterval, l/2) {
			t.Fatalf("issued %s after the last token (lifetime %s): due %s", since, l, d.Due.Reason)
		}
		if d.Due.Reason == arcgisv1alpha1.ReasonRenewing && since < l/2 && facts.Now.Before(facts.Stored.Expires) {
			t.Fatalf("renewed %s into a %s lifetime", since, l)
		}
	})
}

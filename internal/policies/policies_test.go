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
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
)

// issued is when the stored token of every test was issued.
var issued = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

const (
	specFP   = "spec-fp-1"
	inputsFP = "inputs-fp-1"
)

func newToken(uid string, mutate ...func(*arcgisv1alpha1.ArcGISToken)) *arcgisv1alpha1.ArcGISToken {
	t := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: "ns", UID: types.UID(uid)},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type:    arcgisv1alpha1.ServiceTypePortal,
			URL:     "https://gis.example.com/portal",
			Referer: "https://apps.example.com",
		},
	}
	t.Status.IssuedAt = &metav1.Time{Time: issued}
	for _, m := range mutate {
		m(t)
	}
	return t
}

// freshInput is a stored token that nothing wants to replace: one minute
// into a one-hour lifetime, issued for the current spec and inputs.
func freshInput() policies.Input {
	return policies.Input{
		Now:   issued.Add(time.Minute),
		Token: newToken("uid-fresh"),
		Stored: policies.Stored{
			Exists:            true,
			HasToken:          true,
			IssuedAt:          issued,
			Expires:           issued.Add(time.Hour),
			SpecFingerprint:   specFP,
			InputsFingerprint: inputsFP,
		},
		SpecFingerprint:   specFP,
		InputsFingerprint: inputsFP,
	}
}

// uids returns n distinct UUID-shaped UIDs, the same on every run.
func uids(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x",
			r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
	}
	return out
}

func int32p(v int32) *int32 { return &v }

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func funcName(c policies.Check) uintptr { return reflect.ValueOf(c).Pointer() }

func TestDefaultChainOrder(t *testing.T) {
	t.Parallel()
	want := []policies.Check{
		policies.SecretMissing,
		policies.SpecChanged,
		policies.CredentialsChanged,
		policies.ManualRenew,
		policies.Revoked,
		policies.NearingExpiry,
	}
	if len(policies.DefaultChain) != len(want) {
		t.Fatalf("DefaultChain has %d checks, want %d", len(policies.DefaultChain), len(want))
	}
	for i := range want {
		if funcName(policies.DefaultChain[i]) != funcName(want[i]) {
			t.Errorf("DefaultChain[%d] is not the expected check #%d", i, i)
		}
	}
}

func TestSecretMissing(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate     func(*policies.Input)
		wantReason string
		wantIssue  bool
	}{
		"complete Secret": {
			mutate: func(*policies.Input) {},
		},
		"no Secret, never issued: the first token": {
			mutate: func(in *policies.Input) {
				in.Stored = policies.Stored{}
				in.Token.Status.IssuedAt = nil
			},
			wantReason: arcgisv1alpha1.ReasonIssuing,
			wantIssue:  true,
		},
		"no Secret, issued before: it was deleted": {
			mutate:     func(in *policies.Input) { in.Stored = policies.Stored{} },
			wantReason: arcgisv1alpha1.ReasonSecretMissing,
			wantIssue:  true,
		},
		"Secret gone although it claimed a token": {
			mutate:     func(in *policies.Input) { in.Stored.Exists = false },
			wantReason: arcgisv1alpha1.ReasonSecretMissing,
			wantIssue:  true,
		},
		"Secret without token": {
			mutate:     func(in *policies.Input) { in.Stored.HasToken = false },
			wantReason: arcgisv1alpha1.ReasonSecretMissing,
			wantIssue:  true,
		},
		"Secret without expiry": {
			mutate:     func(in *policies.Input) { in.Stored.Expires = time.Time{} },
			wantReason: arcgisv1alpha1.ReasonSecretMissing,
			wantIssue:  true,
		},
		"Secret without token and never issued: still a missing token, not the first": {
			mutate: func(in *policies.Input) {
				in.Stored.HasToken = false
				in.Token.Status.IssuedAt = nil
			},
			wantReason: arcgisv1alpha1.ReasonSecretMissing,
			wantIssue:  true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			tc.mutate(&in)
			reason, msg, issue := policies.SecretMissing(in)
			checkDecision(t, reason, msg, issue, tc.wantReason, tc.wantIssue)
		})
	}
}

// checkDecision checks one Check's answer: a reason and a message exactly
// when it wants a token.
func checkDecision(t *testing.T, reason, msg string, issue bool, wantReason string, wantIssue bool) {
	t.Helper()
	if issue != wantIssue || reason != wantReason {
		t.Fatalf("got (%q, %q, %v), want reason %q issue %v", reason, msg, issue, wantReason, wantIssue)
	}
	if issue && msg == "" {
		t.Errorf("reason %q has an empty message", reason)
	}
	if !issue && msg != "" {
		t.Errorf("no issue but message %q", msg)
	}
}

func TestSpecChanged(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		stored, current string
		wantIssue       bool
	}{
		"same fingerprint":              {stored: specFP, current: specFP},
		"different fingerprint":         {stored: specFP, current: "spec-fp-2", wantIssue: true},
		"Secret predates fingerprints":  {stored: "", current: specFP, wantIssue: true},
		"fingerprints compared exactly": {stored: "ABC", current: "abc", wantIssue: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			in.Stored.SpecFingerprint, in.SpecFingerprint = tc.stored, tc.current
			in.InputsFingerprint = "other-inputs" // must not matter here
			want := ""
			if tc.wantIssue {
				want = arcgisv1alpha1.ReasonSpecChanged
			}
			reason, msg, issue := policies.SpecChanged(in)
			checkDecision(t, reason, msg, issue, want, tc.wantIssue)
		})
	}
}

func TestCredentialsChanged(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		stored, current string
		wantIssue       bool
	}{
		"same fingerprint":             {stored: inputsFP, current: inputsFP},
		"new resourceVersion or CA":    {stored: inputsFP, current: "inputs-fp-2", wantIssue: true},
		"Secret predates fingerprints": {stored: "", current: inputsFP, wantIssue: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			in.Stored.InputsFingerprint, in.InputsFingerprint = tc.stored, tc.current
			in.SpecFingerprint = "other-spec" // must not matter here
			want := ""
			if tc.wantIssue {
				want = arcgisv1alpha1.ReasonCredentialsChanged
			}
			reason, msg, issue := policies.CredentialsChanged(in)
			checkDecision(t, reason, msg, issue, want, tc.wantIssue)
		})
	}
}

func TestManualRenew(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		annotation *string // nil: not set
		stored     string
		wantIssue  bool
	}{
		"no annotation":            {},
		"no annotation, old value": {stored: "2026-03-01T10:00:00Z"},
		"empty annotation":         {annotation: ptr("")},
		"new request":              {annotation: ptr("2026-03-01T12:30:00Z"), wantIssue: true},
		"new request after an older one": {
			annotation: ptr("2026-03-01T12:30:00Z"), stored: "2026-03-01T10:00:00Z", wantIssue: true,
		},
		"request already handled": {annotation: ptr("2026-03-01T12:30:00Z"), stored: "2026-03-01T12:30:00Z"},
		// An ArcGISToken created with the annotation gets its first token
		// (SecretMissing) recorded with that value: no second token.
		"set at creation, first token issued for it": {annotation: ptr("created-with-it"), stored: "created-with-it"},
		"any value counts, not only times":           {annotation: ptr("again"), stored: "once", wantIssue: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			if tc.annotation != nil {
				in.Token.Annotations = map[string]string{
					arcgisv1alpha1.RenewAtAnnotation: *tc.annotation,
					"unrelated":                      "x",
				}
			}
			in.Stored.RenewRequest = tc.stored
			want := ""
			if tc.wantIssue {
				want = arcgisv1alpha1.ReasonManualRenew
			}
			reason, msg, issue := policies.ManualRenew(in)
			checkDecision(t, reason, msg, issue, want, tc.wantIssue)
			if issue && !strings.Contains(msg, arcgisv1alpha1.RenewAtAnnotation) {
				t.Errorf("message %q does not name the annotation", msg)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestManualRenewAtCreationIsOneToken(t *testing.T) {
	t.Parallel()
	// Created with the annotation: the first reconcile issues for SecretMissing.
	in := freshInput()
	in.Token.Status.IssuedAt = nil
	in.Token.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: "now"}
	in.Stored = policies.Stored{}
	if reason, _, issue := policies.Evaluate(in, policies.DefaultChain); !issue || reason != arcgisv1alpha1.ReasonIssuing {
		t.Fatalf("first reconcile: got (%q, %v), want Issuing", reason, issue)
	}
	// The reconciler stores the token with the annotation's value: nothing more is due.
	in = freshInput()
	in.Token.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: "now"}
	in.Stored.RenewRequest = "now"
	if reason, _, issue := policies.Evaluate(in, policies.DefaultChain); issue {
		t.Fatalf("second reconcile: got %q, want no new token", reason)
	}
}

func TestRevoked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		revokedAt *time.Time
		wantIssue bool
	}{
		"never revoked":                   {},
		"revoked after issue":             {revokedAt: ptr(issued.Add(5 * time.Minute)), wantIssue: true},
		"revoked the instant it was":      {revokedAt: ptr(issued), wantIssue: true},
		"previous token revoked":          {revokedAt: ptr(issued.Add(-time.Second))},
		"previous token revoked long ago": {revokedAt: ptr(issued.Add(-24 * time.Hour))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			if tc.revokedAt != nil {
				in.Token.Status.RevokedAt = &metav1.Time{Time: *tc.revokedAt}
			}
			if got := policies.IsRevoked(in.Token, in.Stored); got != tc.wantIssue {
				t.Errorf("IsRevoked = %v, want %v", got, tc.wantIssue)
			}
			want := ""
			if tc.wantIssue {
				want = arcgisv1alpha1.ReasonRevoked
			}
			reason, msg, issue := policies.Revoked(in)
			checkDecision(t, reason, msg, issue, want, tc.wantIssue)
		})
	}
}

func TestNearingExpiry(t *testing.T) {
	t.Parallel()
	tok := newToken("uid-nearing")
	expires := issued.Add(time.Hour)
	renewAt := policies.RenewalTime(tok, issued, expires)
	// A third of an hour before expiry, minus up to 5% (3m) of jitter.
	if lo, hi := issued.Add(37*time.Minute), issued.Add(40*time.Minute); !renewAt.After(lo) || renewAt.After(hi) {
		t.Fatalf("RenewalTime = %s, want in (%s, %s]", renewAt, lo, hi)
	}
	expiresText := expires.UTC().Format(time.RFC3339)
	tests := map[string]struct {
		now         time.Time
		wantIssue   bool
		wantMessage string
	}{
		"just issued":               {now: issued},
		"half way":                  {now: issued.Add(30 * time.Minute)},
		"just before renewal time":  {now: renewAt.Add(-time.Nanosecond)},
		"at renewal time":           {now: renewAt, wantIssue: true, wantMessage: "The token expires at " + expiresText},
		"after renewal time":        {now: renewAt.Add(time.Minute), wantIssue: true, wantMessage: "The token expires at " + expiresText},
		"just before expiry":        {now: expires.Add(-time.Nanosecond), wantIssue: true, wantMessage: "The token expires at " + expiresText},
		"at expiry":                 {now: expires, wantIssue: true, wantMessage: "The token expired at " + expiresText},
		"long after expiry":         {now: expires.Add(48 * time.Hour), wantIssue: true, wantMessage: "The token expired at " + expiresText},
		"clock before issue (skew)": {now: issued.Add(-time.Hour)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			in.Token = tok
			in.Stored.Expires = expires
			in.Now = tc.now
			want := ""
			if tc.wantIssue {
				want = arcgisv1alpha1.ReasonRenewing
			}
			reason, msg, issue := policies.NearingExpiry(in)
			checkDecision(t, reason, msg, issue, want, tc.wantIssue)
			if msg != tc.wantMessage {
				t.Errorf("message = %q, want %q", msg, tc.wantMessage)
			}
		})
	}
}

// TestRenewalOverTime steps a fake clock through a token's life and checks
// that the chain first asks for a new token at the renewal time, for the
// reason Renewing, and not a second earlier.
func TestRenewalOverTime(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lifetime time.Duration
		spec     func(*arcgisv1alpha1.ArcGISToken)
		// wantBefore is renewBefore as the spec means it.
		wantBefore time.Duration
	}{
		"default, 1h":           {lifetime: time.Hour, wantBefore: 20 * time.Minute},
		"renewBefore 15m, 1h":   {lifetime: time.Hour, spec: func(t *arcgisv1alpha1.ArcGISToken) { t.Spec.RenewBefore = dur(15 * time.Minute) }, wantBefore: 15 * time.Minute},
		"25 percent, 2h":        {lifetime: 2 * time.Hour, spec: func(t *arcgisv1alpha1.ArcGISToken) { t.Spec.RenewBeforePercentage = int32p(25) }, wantBefore: 30 * time.Minute},
		"default, short 10m":    {lifetime: 10 * time.Minute, wantBefore: 10 * time.Minute / 3},
		"granted less, 30m/3rd": {lifetime: 30 * time.Minute, wantBefore: 10 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := clocktesting.NewFakeClock(issued)
			in := freshInput()
			in.Token = newToken("uid-over-time-" + name)
			if tc.spec != nil {
				tc.spec(in.Token)
			}
			in.Stored.Expires = issued.Add(tc.lifetime)
			renewAt := policies.RenewalTime(in.Token, issued, in.Stored.Expires)
			window := min(policies.JitterWindow(tc.lifetime), (tc.lifetime-tc.wantBefore)/2)
			latest := in.Stored.Expires.Add(-tc.wantBefore)
			if renewAt.After(latest) || !renewAt.After(latest.Add(-window)) && window > 0 {
				t.Fatalf("RenewalTime = %s, want in (%s, %s]", renewAt, latest.Add(-window), latest)
			}
			var first time.Time
			for !clk.Now().After(in.Stored.Expires) {
				in.Now = clk.Now()
				if reason, _, issue := policies.Evaluate(in, policies.DefaultChain); issue {
					if reason != arcgisv1alpha1.ReasonRenewing {
						t.Fatalf("at %s: reason %q, want Renewing", in.Now, reason)
					}
					first = in.Now
					break
				}
				clk.Step(time.Second)
			}
			if first.IsZero() {
				t.Fatalf("never renewed before expiry at %s", in.Stored.Expires)
			}
			if first.Before(renewAt) || first.Sub(renewAt) >= time.Second {
				t.Errorf("first renewal at %s, want within a second after %s", first, renewAt)
			}
		})
	}
}

func TestEvaluateOrder(t *testing.T) {
	t.Parallel()
	// Each trigger makes one check of DefaultChain want a token, in chain order.
	triggers := []struct {
		reason string
		apply  func(*policies.Input)
	}{
		{arcgisv1alpha1.ReasonSecretMissing, func(in *policies.Input) { in.Stored.Exists = false }},
		{arcgisv1alpha1.ReasonSpecChanged, func(in *policies.Input) { in.SpecFingerprint = "spec-fp-2" }},
		{arcgisv1alpha1.ReasonCredentialsChanged, func(in *policies.Input) { in.InputsFingerprint = "inputs-fp-2" }},
		{arcgisv1alpha1.ReasonManualRenew, func(in *policies.Input) {
			in.Token.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: "now"}
		}},
		{arcgisv1alpha1.ReasonRevoked, func(in *policies.Input) {
			in.Token.Status.RevokedAt = &metav1.Time{Time: issued.Add(time.Minute)}
		}},
		{arcgisv1alpha1.ReasonRenewing, func(in *policies.Input) { in.Now = issued.Add(2 * time.Hour) }},
	}
	tests := map[string]struct {
		from       int // triggers from this index on are applied
		wantReason string
	}{}
	for i, tr := range triggers {
		tests[fmt.Sprintf("%d: %s and every later reason", i, tr.reason)] = struct {
			from       int
			wantReason string
		}{from: i, wantReason: tr.reason}
	}
	tests["nothing due"] = struct {
		from       int
		wantReason string
	}{from: len(triggers)}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := freshInput()
			for _, tr := range triggers[tc.from:] {
				tr.apply(&in)
			}
			reason, msg, issue := policies.Evaluate(in, policies.DefaultChain)
			checkDecision(t, reason, msg, issue, tc.wantReason, tc.wantReason != "")
		})
	}
	// Every trigger alone is seen by the chain: none is shadowed.
	for _, tr := range triggers {
		in := freshInput()
		tr.apply(&in)
		if reason, _, _ := policies.Evaluate(in, policies.DefaultChain); reason != tr.reason {
			t.Errorf("trigger for %s alone: got %q", tr.reason, reason)
		}
	}
}

func TestEvaluateCustomChain(t *testing.T) {
	t.Parallel()
	calls := []string{}
	check := func(name string, issue bool) policies.Check {
		return func(policies.Input) (string, string, bool) {
			calls = append(calls, name)
			if issue {
				return name, "message " + name, true
			}
			return "", "", false
		}
	}
	reason, msg, issue := policies.Evaluate(freshInput(), []policies.Check{check("a", false), check("b", true), check("c", true)})
	if reason != "b" || msg != "message b" || !issue {
		t.Errorf("got (%q, %q, %v), want the first check that wants a token", reason, msg, issue)
	}
	if got := strings.Join(calls, ","); got != "a,b" {
		t.Errorf("checks run: %s, want a,b (stop at the first)", got)
	}
	if reason, msg, issue := policies.Evaluate(freshInput(), nil); reason != "" || msg != "" || issue {
		t.Errorf("empty chain: got (%q, %q, %v)", reason, msg, issue)
	}
}

func TestStoredUsable(t *testing.T) {
	t.Parallel()
	exp := issued.Add(time.Hour)
	ok := policies.Stored{Exists: true, HasToken: true, IssuedAt: issued, Expires: exp}
	tests := map[string]struct {
		stored policies.Stored
		now    time.Time
		want   bool
	}{
		"valid":          {stored: ok, now: issued, want: true},
		"just before":    {stored: ok, now: exp.Add(-time.Nanosecond), want: true},
		"at expiry":      {stored: ok, now: exp},
		"expired":        {stored: ok, now: exp.Add(time.Hour)},
		"no Secret":      {stored: policies.Stored{HasToken: true, Expires: exp}, now: issued},
		"no token":       {stored: policies.Stored{Exists: true, Expires: exp}, now: issued},
		"no expiry seen": {stored: policies.Stored{Exists: true, HasToken: true}, now: issued},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.stored.Usable(tc.now); got != tc.want {
				t.Errorf("Usable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJitterWindow(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lifetime, want time.Duration
	}{
		"zero":                {0, 0},
		"1m: 5%":              {time.Minute, 3 * time.Second},
		"1h: 5%":              {time.Hour, 3 * time.Minute},
		"200m: exactly max":   {200 * time.Minute, policies.MaxJitter},
		"1d: capped":          {24 * time.Hour, policies.MaxJitter},
		"14 days: capped":     {14 * 24 * time.Hour, policies.MaxJitter},
		"max jitter is 10min": {time.Duration(math.MaxInt64), 10 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := policies.JitterWindow(tc.lifetime); got != tc.want {
				t.Errorf("JitterWindow(%s) = %s, want %s", tc.lifetime, got, tc.want)
			}
		})
	}
}

func TestRenewalTime(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := map[string]struct {
		lifetime time.Duration
		spec     func(*arcgisv1alpha1.ArcGISToken)
		// The renewal time is expires − wantBefore − jitter, jitter in [0, wantWindow).
		wantBefore, wantWindow time.Duration
		// tooLong: the spec's value was set aside for the default.
		tooLong bool
	}{
		"default: a third of 1h":            {lifetime: time.Hour, wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute},
		"default: a third of 2h":            {lifetime: 2 * time.Hour, wantBefore: 40 * time.Minute, wantWindow: 6 * time.Minute},
		"default: a third of 14 days":       {lifetime: 14 * day, wantBefore: 14 * day / 3, wantWindow: policies.MaxJitter},
		"default: a third of 90s":           {lifetime: 90 * time.Second, wantBefore: 30 * time.Second, wantWindow: 4500 * time.Millisecond},
		"renewBefore 15m of 1h":             {lifetime: time.Hour, spec: renewBefore(15 * time.Minute), wantBefore: 15 * time.Minute, wantWindow: 3 * time.Minute},
		"renewBefore 1h of 1d":              {lifetime: day, spec: renewBefore(time.Hour), wantBefore: time.Hour, wantWindow: policies.MaxJitter},
		"renewBefore just under 1h: third":  {lifetime: time.Hour, spec: renewBefore(59 * time.Minute), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"renewBefore half of 1h":            {lifetime: time.Hour, spec: renewBefore(30 * time.Minute), wantBefore: 30 * time.Minute, wantWindow: time.Nanosecond},
		"renewBefore just over half: third": {lifetime: time.Hour, spec: renewBefore(30*time.Minute + time.Second), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"renewBefore = lifetime: third":     {lifetime: time.Hour, spec: renewBefore(time.Hour), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"renewBefore > lifetime: third":     {lifetime: time.Hour, spec: renewBefore(2 * time.Hour), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"renewBefore 0: third":              {lifetime: time.Hour, spec: renewBefore(0), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute},
		"renewBefore negative: third":       {lifetime: time.Hour, spec: renewBefore(-time.Minute), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute},
		"1 percent of 100m":                 {lifetime: 100 * time.Minute, spec: percent(1), wantBefore: time.Minute, wantWindow: 5 * time.Minute},
		"50 percent of 1h":                  {lifetime: time.Hour, spec: percent(50), wantBefore: 30 * time.Minute, wantWindow: time.Nanosecond},
		"40 percent of 1h":                  {lifetime: time.Hour, spec: percent(40), wantBefore: 24 * time.Minute, wantWindow: 3 * time.Minute},
		"51 percent: third":                 {lifetime: time.Hour, spec: percent(51), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"99 percent of 100m: third":         {lifetime: 100 * time.Minute, spec: percent(99), wantBefore: 100 * time.Minute / 3, wantWindow: 5 * time.Minute, tooLong: true},
		"0 percent: third":                  {lifetime: time.Hour, spec: percent(0), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute},
		"100 percent: third":                {lifetime: time.Hour, spec: percent(100), wantBefore: 20 * time.Minute, wantWindow: 3 * time.Minute, tooLong: true},
		"renewBefore wins over percentage": {
			lifetime: time.Hour, spec: both(10*time.Minute, 50), wantBefore: 10 * time.Minute, wantWindow: 3 * time.Minute,
		},
		"renewBefore too long, percentage used": {
			lifetime: time.Hour, spec: both(3*time.Hour, 50), wantBefore: 30 * time.Minute, wantWindow: time.Nanosecond,
		},
	}
	all := uids(200)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expires := issued.Add(tc.lifetime)
			var maxJitter time.Duration
			for _, uid := range all {
				tok := newToken(uid)
				if tc.spec != nil {
					tc.spec(tok)
				}
				got, tooLong := policies.Renewal(tok, issued, expires)
				if tooLong != tc.tooLong {
					t.Fatalf("tooLong = %v, want %v", tooLong, tc.tooLong)
				}
				jitter := expires.Sub(got) - tc.wantBefore
				if jitter < 0 || jitter >= tc.wantWindow {
					t.Fatalf("uid %s: RenewalTime = issued+%s, want expires-%s minus a jitter in [0, %s), jitter %s",
						uid, got.Sub(issued), tc.wantBefore, tc.wantWindow, jitter)
				}
				maxJitter = max(maxJitter, jitter)
			}
			// The window is as wide as claimed: 200 objects reach its upper half.
			if tc.wantWindow > time.Nanosecond && maxJitter < tc.wantWindow/2 {
				t.Errorf("largest jitter over %d UIDs is %s, want at least half of %s", len(all), maxJitter, tc.wantWindow)
			}
		})
	}
}

func renewBefore(d time.Duration) func(*arcgisv1alpha1.ArcGISToken) {
	return func(t *arcgisv1alpha1.ArcGISToken) { t.Spec.RenewBefore = dur(d) }
}

func percent(p int32) func(*arcgisv1alpha1.ArcGISToken) {
	return func(t *arcgisv1alpha1.ArcGISToken) { t.Spec.RenewBeforePercentage = int32p(p) }
}

func both(d time.Duration, p int32) func(*arcgisv1alpha1.ArcGISToken) {
	return func(t *arcgisv1alpha1.ArcGISToken) {
		t.Spec.RenewBefore = dur(d)
		t.Spec.RenewBeforePercentage = int32p(p)
	}
}

func TestRenewalTimeNoLifetime(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		expires time.Time
	}{
		"expires at issue":     {expires: issued},
		"expires before issue": {expires: issued.Add(-time.Hour)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := policies.RenewalTime(newToken("u"), issued, tc.expires); !got.Equal(tc.expires) {
				t.Errorf("RenewalTime = %s, want the expiry %s", got, tc.expires)
			}
		})
	}
}

func TestRenewalTimeDeterministicPerUID(t *testing.T) {
	t.Parallel()
	expires := issued.Add(24 * time.Hour)
	a := newToken("4c8a1b7e-0000-4000-8000-000000000001")
	b := newToken("4c8a1b7e-0000-4000-8000-000000000001", func(t *arcgisv1alpha1.ArcGISToken) {
		t.Name, t.Namespace, t.ResourceVersion, t.Generation = "other", "elsewhere", "42", 7
	})
	c := newToken("4c8a1b7e-0000-4000-8000-000000000002")
	first := policies.RenewalTime(a, issued, expires)
	for range 10 {
		if got := policies.RenewalTime(a, issued, expires); !got.Equal(first) {
			t.Fatalf("same object: %s then %s", first, got)
		}
	}
	if got := policies.RenewalTime(b, issued, expires); !got.Equal(first) {
		t.Errorf("same UID, other name and version: %s, want %s (only the UID matters)", got, first)
	}
	if got := policies.RenewalTime(c, issued, expires); got.Equal(first) {
		t.Errorf("another UID renews at the same instant %s", got)
	}
}

// TestRenewalTimeSpreadsUIDs issues 1000 tokens at the same instant and checks
// that their renewals cover the jitter window evenly and never leave it.
func TestRenewalTimeSpreadsUIDs(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lifetime time.Duration
		spec     func(*arcgisv1alpha1.ArcGISToken)
		before   time.Duration
	}{
		"1d, default: 10m window":    {lifetime: 24 * time.Hour, before: 8 * time.Hour},
		"1h, default: 3m window":     {lifetime: time.Hour, before: 20 * time.Minute},
		"2h, 25 percent: 6m window":  {lifetime: 2 * time.Hour, spec: percent(25), before: 30 * time.Minute},
		"1h, renewBefore 5m: 3m win": {lifetime: time.Hour, spec: renewBefore(5 * time.Minute), before: 5 * time.Minute},
	}
	const n, buckets = 1000, 10
	all := uids(n)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			window := policies.JitterWindow(tc.lifetime)
			expires := issued.Add(tc.lifetime)
			counts := make([]int, buckets)
			distinct := map[time.Time]bool{}
			for _, uid := range all {
				tok := newToken(uid)
				if tc.spec != nil {
					tc.spec(tok)
				}
				got := policies.RenewalTime(tok, issued, expires)
				jitter := expires.Add(-tc.before).Sub(got)
				if jitter < 0 || jitter >= window {
					t.Fatalf("uid %s: jitter %s outside [0, %s)", uid, jitter, window)
				}
				counts[int(jitter*buckets/window)]++
				distinct[got] = true
			}
			if len(distinct) < n*99/100 {
				t.Errorf("%d UIDs renew at only %d distinct instants", n, len(distinct))
			}
			// Uniform: 100 per tenth of the window; allow 5 standard deviations.
			for i, c := range counts {
				if c < 50 || c > 150 {
					t.Errorf("tenth %d of the window has %d of %d renewals, want about %d: %v", i, c, n, n/buckets, counts)
				}
			}
		})
	}
}

// TestRenewalTimeNeverBeforeIssue sweeps lifetimes and settings: the renewal
// is never before issue, and jitter never takes more than half of the time
// from issue to the unjittered renewal.
func TestRenewalTimeNeverBeforeIssue(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	all := uids(50)
	for i := range 5000 {
		lifetime := time.Duration(1 + r.Int64N(int64(14*24*time.Hour)))
		tok := newToken(all[i%len(all)])
		before := lifetime / 3
		switch i % 3 {
		case 1:
			p := int32(1 + r.IntN(99))
			tok.Spec.RenewBeforePercentage = int32p(p)
			if p <= 50 {
				before = lifetime * time.Duration(p) / 100
			}
		case 2:
			d := time.Duration(1 + r.Int64N(int64(lifetime)))
			tok.Spec.RenewBefore = dur(d)
			if d <= lifetime/2 {
				before = d
			}
		}
		expires := issued.Add(lifetime)
		got := policies.RenewalTime(tok, issued, expires)
		if got.Before(issued) {
			t.Fatalf("lifetime %s, spec %+v: renewal %s before issue", lifetime, tok.Spec, got)
		}
		earliest := issued.Add((lifetime - before) - (lifetime-before)/2)
		if got.Before(earliest) {
			t.Fatalf("lifetime %s, before %s: renewal at issue+%s, want at least issue+%s",
				lifetime, before, got.Sub(issued), earliest.Sub(issued))
		}
		if got.After(expires.Add(-before)) {
			t.Fatalf("lifetime %s, before %s: renewal at issue+%s after expires-before", lifetime, before, got.Sub(issued))
		}
	}
}

// TestRenewalTimeLongLifetime shows an overflow: lifetime × percentage is
// computed in nanoseconds and wraps for lifetimes beyond MaxInt64/percentage
// (about 5.8 years at 50%, 2.9 years at 99%), so the renewal lands after the
// expiry, and NearingExpiry then does not even replace the expired token.
func TestRenewalTimeLongLifetime(t *testing.T) {
	t.Parallel()
	tok := newToken("uid-long", percent(50))
	expires := issued.AddDate(10, 0, 0)
	lifetime := expires.Sub(issued)
	got := policies.RenewalTime(tok, issued, expires)
	want := expires.Add(-lifetime / 2)
	if got.After(want) || got.Before(want.Add(-policies.MaxJitter)) {
		t.Errorf("RenewalTime = %s, want in [%s, %s]", got, want.Add(-policies.MaxJitter), want)
	}
	in := freshInput()
	in.Token = tok
	in.Stored.Expires = expires
	in.Now = expires.Add(time.Minute)
	if _, _, issue := policies.NearingExpiry(in); !issue {
		t.Errorf("NearingExpiry after expiry: no new token")
	}
}

func TestNextProbe(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		interval  *metav1.Duration
		ip        bool
		lastProbe time.Time
		failures  int32
		wantAt    time.Time
		wantOK    bool
	}{
		"default 10m after issue":          {wantAt: issued.Add(10 * time.Minute), wantOK: true},
		"explicit 30m":                     {interval: dur(30 * time.Minute), wantAt: issued.Add(30 * time.Minute), wantOK: true},
		"0s turns checks off":              {interval: dur(0)},
		"negative turns checks off":        {interval: dur(-time.Minute)},
		"IP-bound tokens are never probed": {ip: true},
		"checked after issue":              {lastProbe: issued.Add(25 * time.Minute), wantAt: issued.Add(35 * time.Minute), wantOK: true},
		"checked before issue: the previous token": {
			lastProbe: issued.Add(-5 * time.Minute), wantAt: issued.Add(10 * time.Minute), wantOK: true,
		},
		// Issue 10, defect 5: a check failing with 401, 403 or 5xx backs off
		// from a minute up to the interval, not every minute for ever.
		"1 failure: a minute":   {lastProbe: issued.Add(12 * time.Minute), failures: 1, wantAt: issued.Add(13 * time.Minute), wantOK: true},
		"2 failures: 2 minutes": {lastProbe: issued.Add(12 * time.Minute), failures: 2, wantAt: issued.Add(14 * time.Minute), wantOK: true},
		"4 failures: 8 minutes": {lastProbe: issued.Add(12 * time.Minute), failures: 4, wantAt: issued.Add(20 * time.Minute), wantOK: true},
		"5 failures: the interval, not 16 minutes": {
			lastProbe: issued.Add(12 * time.Minute), failures: 5, wantAt: issued.Add(22 * time.Minute), wantOK: true,
		},
		"many failures, 1h interval: capped at it": {
			interval: dur(time.Hour), lastProbe: issued.Add(12 * time.Minute), failures: 40, wantAt: issued.Add(72 * time.Minute), wantOK: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := newToken("u")
			tok.Spec.ValidationInterval = tc.interval
			if tc.ip {
				tok.Spec.Client = arcgisv1alpha1.ClientBindingIP
			}
			at, ok := policies.NextProbe(tok, policies.Stored{Exists: true, HasToken: true, IssuedAt: issued, Expires: issued.Add(time.Hour)},
				tc.lastProbe, tc.failures)
			if ok != tc.wantOK || !at.Equal(tc.wantAt) {
				t.Errorf("NextProbe = (%s, %v), want (%s, %v)", at, ok, tc.wantAt, tc.wantOK)
			}
		})
	}
	if policies.DefaultValidationInterval != 10*time.Minute {
		t.Errorf("DefaultValidationInterval = %s, want 10m", policies.DefaultValidationInterval)
	}
}

// backoffClass is the expected schedule of one failure class.
type backoffClass struct {
	base, limit time.Duration
}

var (
	transient   = backoffClass{5 * time.Second, 5 * time.Minute}
	credentials = backoffClass{5 * time.Minute, time.Hour}
	lockout     = backoffClass{15 * time.Minute, time.Hour}
	permanent   = backoffClass{time.Minute, 30 * time.Minute}
	// A Secret the operator may not write is retried every so often: its
	// cause is not watched.
	secretClass = backoffClass{30 * time.Second, 10 * time.Minute}
)

// unjittered is base × 2^(attempts−1), capped.
func (c backoffClass) unjittered(attempts int32) time.Duration {
	d := c.base
	for i := int32(1); i < attempts && d < c.limit; i++ {
		d *= 2
	}
	return min(d, c.limit)
}

// capAttempt is the first attempt whose backoff reaches the cap.
func (c backoffClass) capAttempt() int32 {
	n := int32(1)
	for c.unjittered(n) < c.limit {
		n++
	}
	return n
}

var backoffReasons = map[string]backoffClass{
	arcgisv1alpha1.ReasonServiceUnavailable:  transient,
	arcgisv1alpha1.ReasonInvalidResponse:     transient,
	arcgisv1alpha1.ReasonSecretConflict:      secretClass,
	arcgisv1alpha1.ReasonSecretRejected:      secretClass,
	arcgisv1alpha1.ReasonSecretWriteFailed:   transient,
	arcgisv1alpha1.ReasonValidationFailed:    {time.Minute, 10 * time.Minute},
	arcgisv1alpha1.ReasonInvalidCredentials:  credentials,
	arcgisv1alpha1.ReasonAccountLocked:       lockout,
	arcgisv1alpha1.ReasonPermissionDenied:    permanent,
	arcgisv1alpha1.ReasonInvalidToken:        permanent,
	arcgisv1alpha1.ReasonBadRequest:          permanent,
	arcgisv1alpha1.ReasonInvalidSpec:         permanent,
	arcgisv1alpha1.ReasonCredentialsNotFound: permanent,
	arcgisv1alpha1.ReasonExpired:             permanent,
	"":                                       permanent,
	"SomethingNew":                           permanent,
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reason   string
		attempts int32
		// The backoff is in [want, want×1.2).
		want time.Duration
	}{
		"no failure":                        {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 0},
		"negative attempts":                 {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: -3},
		"transient 1":                       {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 1, want: 5 * time.Second},
		"transient 2":                       {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 2, want: 10 * time.Second},
		"transient 6":                       {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 6, want: 160 * time.Second},
		"transient 7 capped at 5m":          {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 7, want: 5 * time.Minute},
		"transient 1000 capped":             {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 1000, want: 5 * time.Minute},
		"invalid response is transient":     {reason: arcgisv1alpha1.ReasonInvalidResponse, attempts: 3, want: 20 * time.Second},
		"Secret conflict":                   {reason: arcgisv1alpha1.ReasonSecretConflict, attempts: 1, want: 30 * time.Second},
		"Secret write failed, transient":    {reason: arcgisv1alpha1.ReasonSecretWriteFailed, attempts: 2, want: 10 * time.Second},
		"credentials 1":                     {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 1, want: 5 * time.Minute},
		"credentials 2":                     {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 2, want: 10 * time.Minute},
		"credentials 4":                     {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 4, want: 40 * time.Minute},
		"credentials 5 capped at 1h":        {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 5, want: time.Hour},
		"credentials max int32":             {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: math.MaxInt32, want: time.Hour},
		"locked 1: the 15m lock-out":        {reason: arcgisv1alpha1.ReasonAccountLocked, attempts: 1, want: 15 * time.Minute},
		"locked 2":                          {reason: arcgisv1alpha1.ReasonAccountLocked, attempts: 2, want: 30 * time.Minute},
		"locked 3 capped at 1h":             {reason: arcgisv1alpha1.ReasonAccountLocked, attempts: 3, want: time.Hour},
		"permission 1":                      {reason: arcgisv1alpha1.ReasonPermissionDenied, attempts: 1, want: time.Minute},
		"permission 5":                      {reason: arcgisv1alpha1.ReasonPermissionDenied, attempts: 5, want: 16 * time.Minute},
		"permission 6 capped at 30m":        {reason: arcgisv1alpha1.ReasonPermissionDenied, attempts: 6, want: 30 * time.Minute},
		"invalid token (federated) 2":       {reason: arcgisv1alpha1.ReasonInvalidToken, attempts: 2, want: 2 * time.Minute},
		"bad request 1":                     {reason: arcgisv1alpha1.ReasonBadRequest, attempts: 1, want: time.Minute},
		"invalid spec 1":                    {reason: arcgisv1alpha1.ReasonInvalidSpec, attempts: 1, want: time.Minute},
		"credentials not found 10 (capped)": {reason: arcgisv1alpha1.ReasonCredentialsNotFound, attempts: 10, want: 30 * time.Minute},
		"unknown reason 1":                  {reason: "SomethingNew", attempts: 1, want: time.Minute},
		"empty reason 1":                    {reason: "", attempts: 1, want: time.Minute},
	}
	all := uids(100)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, uid := range all {
				got := policies.Backoff(tc.attempts, tc.reason, uid)
				hi := tc.want + tc.want/5
				if got < tc.want || got >= hi && tc.want > 0 || tc.want == 0 && got != 0 {
					t.Fatalf("Backoff(%d, %q, %s) = %s, want in [%s, %s)", tc.attempts, tc.reason, uid, got, tc.want, hi)
				}
			}
		})
	}
}

func TestBackoffMonotonicAndDeterministic(t *testing.T) {
	t.Parallel()
	all := uids(500)
	for reason, class := range backoffReasons {
		t.Run("reason "+reason, func(t *testing.T) {
			t.Parallel()
			last := class.capAttempt()
			for _, uid := range all {
				prev := time.Duration(0)
				for n := int32(1); n <= last+3; n++ {
					got := policies.Backoff(n, reason, uid)
					if again := policies.Backoff(n, reason, uid); again != got {
						t.Fatalf("Backoff(%d, %q, %s) not deterministic: %s then %s", n, reason, uid, got, again)
					}
					if n <= last && got < prev {
						t.Fatalf("uid %s: Backoff(%d) = %s < Backoff(%d) = %s before the cap", uid, n, got, n-1, prev)
					}
					if n >= last && (got < class.limit || got >= class.limit+class.limit/5) {
						t.Fatalf("uid %s: Backoff(%d) = %s, want the cap %s plus under 20%%", uid, n, got, class.limit)
					}
					prev = got
				}
			}
		})
	}
}

// TestBackoffJitterSpread checks that the jitter spreads objects over up to
// 20% of the delay, differently per UID.
func TestBackoffJitterSpread(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reason   string
		attempts int32
		base     time.Duration
	}{
		"transient":   {reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 1, base: 5 * time.Second},
		"credentials": {reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 2, base: 10 * time.Minute},
		"permanent":   {reason: arcgisv1alpha1.ReasonPermissionDenied, attempts: 3, base: 4 * time.Minute},
	}
	all := uids(1000)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			distinct := map[time.Duration]bool{}
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for _, uid := range all {
				j := policies.Backoff(tc.attempts, tc.reason, uid) - tc.base
				distinct[j] = true
				lo, hi = min(lo, j), max(hi, j)
			}
			if len(distinct) < 900 {
				t.Errorf("1000 UIDs share only %d distinct jitters", len(distinct))
			}
			if lo > tc.base/100 || hi < tc.base*19/100 {
				t.Errorf("jitter spans [%s, %s], want about [0, 20%% of %s)", lo, hi, tc.base)
			}
		})
	}
}

func TestRetryAt(t *testing.T) {
	t.Parallel()
	failed := issued.Add(3 * time.Minute)
	tests := map[string]struct {
		attempts    int32
		failureTime *time.Time
		reason      string
		fingerprint string
		current     string
		wantOK      bool
		// wantAt is failureTime + [wantBackoff, wantBackoff×1.2).
		wantBackoff time.Duration
	}{
		"no failure": {current: inputsFP},
		"attempts but no failure time": {
			attempts: 2, reason: arcgisv1alpha1.ReasonInvalidCredentials, fingerprint: inputsFP, current: inputsFP,
		},
		"failure time but no attempts": {
			failureTime: &failed, reason: arcgisv1alpha1.ReasonInvalidCredentials, fingerprint: inputsFP, current: inputsFP,
		},
		"inputs changed since: at once": {
			attempts: 3, failureTime: &failed, reason: arcgisv1alpha1.ReasonInvalidCredentials, fingerprint: inputsFP, current: "inputs-fp-2",
		},
		"failure predates fingerprints: at once": {
			attempts: 1, failureTime: &failed, reason: arcgisv1alpha1.ReasonServiceUnavailable, current: inputsFP,
		},
		"transient, first failure": {
			attempts: 1, failureTime: &failed, reason: arcgisv1alpha1.ReasonServiceUnavailable, fingerprint: inputsFP, current: inputsFP,
			wantOK: true, wantBackoff: 5 * time.Second,
		},
		"invalid credentials, third failure": {
			attempts: 3, failureTime: &failed, reason: arcgisv1alpha1.ReasonInvalidCredentials, fingerprint: inputsFP, current: inputsFP,
			wantOK: true, wantBackoff: 20 * time.Minute,
		},
		"locked": {
			attempts: 1, failureTime: &failed, reason: arcgisv1alpha1.ReasonAccountLocked, fingerprint: inputsFP, current: inputsFP,
			wantOK: true, wantBackoff: 15 * time.Minute,
		},
		"permission denied, many failures": {
			attempts: 40, failureTime: &failed, reason: arcgisv1alpha1.ReasonPermissionDenied, fingerprint: inputsFP, current: inputsFP,
			wantOK: true, wantBackoff: 30 * time.Minute,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := newToken("uid-retry")
			tok.Status.FailedAttempts = tc.attempts
			tok.Status.LastFailureReason = tc.reason
			tok.Status.LastFailureFingerprint = tc.fingerprint
			if tc.failureTime != nil {
				tok.Status.LastFailureTime = &metav1.Time{Time: *tc.failureTime}
			}
			at, ok := policies.RetryAt(tok, tc.current, time.Time{})
			if ok != tc.wantOK {
				t.Fatalf("RetryAt = (%s, %v), want ok %v", at, ok, tc.wantOK)
			}
			if !ok {
				if !at.IsZero() {
					t.Errorf("RetryAt not ok but at = %s", at)
				}
				return
			}
			lo, hi := failed.Add(tc.wantBackoff), failed.Add(tc.wantBackoff+tc.wantBackoff/5)
			if at.Before(lo) || !at.Before(hi) {
				t.Errorf("RetryAt = %s, want in [%s, %s)", at, lo, hi)
			}
			if want := failed.Add(policies.Backoff(tc.attempts, tc.reason, "uid-retry")); !at.Equal(want) {
				t.Errorf("RetryAt = %s, want lastFailureTime + Backoff = %s (jitter by the object's UID)", at, want)
			}
		})
	}
}

// A backoff that grew while the service was down ends once the service answers
// again: the retry comes within RecoverySpread of the recovery, never before
// the first backoff step after the object's own failure. Backoffs about the
// object (credentials, a refused Secret) are not shortened by it.
func TestRetryAtAfterRecovery(t *testing.T) {
	t.Parallel()
	failed := issued.Add(3 * time.Minute)
	first := policies.Backoff(1, arcgisv1alpha1.ReasonServiceUnavailable, "uid-retry") // 5 s + jitter
	tests := map[string]struct {
		reason    string
		attempts  int32
		serviceUp time.Time
		// want is the retry time, in [lo, hi) when hi is set.
		lo, hi time.Time
	}{
		"outage, service still down": {
			reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 7,
			lo: failed.Add(policies.Backoff(7, arcgisv1alpha1.ReasonServiceUnavailable, "uid-retry")),
		},
		"outage, service up since before the failure": {
			reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 7, serviceUp: failed.Add(-time.Second),
			lo: failed.Add(policies.Backoff(7, arcgisv1alpha1.ReasonServiceUnavailable, "uid-retry")),
		},
		"outage, service up a minute after the failure": {
			reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 7, serviceUp: failed.Add(time.Minute),
			lo: failed.Add(time.Minute), hi: failed.Add(time.Minute + policies.RecoverySpread),
		},
		"service up a moment after the failure: the first backoff step still holds": {
			reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 7, serviceUp: failed.Add(time.Millisecond),
			lo: failed.Add(first), hi: failed.Add(time.Millisecond + policies.RecoverySpread + first),
		},
		"first failure: recovery never makes a retry later": {
			reason: arcgisv1alpha1.ReasonServiceUnavailable, attempts: 1, serviceUp: failed.Add(time.Hour),
			lo: failed.Add(first),
		},
		"invalid credentials: not about the service": {
			reason: arcgisv1alpha1.ReasonInvalidCredentials, attempts: 2, serviceUp: failed.Add(time.Minute),
			lo: failed.Add(policies.Backoff(2, arcgisv1alpha1.ReasonInvalidCredentials, "uid-retry")),
		},
		"a refused Secret write: not about the service": {
			reason: arcgisv1alpha1.ReasonSecretWriteFailed, attempts: 6, serviceUp: failed.Add(time.Minute),
			lo: failed.Add(policies.Backoff(6, arcgisv1alpha1.ReasonSecretWriteFailed, "uid-retry")),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := newToken("uid-retry")
			tok.Status.FailedAttempts = tc.attempts
			tok.Status.LastFailureReason = tc.reason
			tok.Status.LastFailureFingerprint = inputsFP
			tok.Status.LastFailureTime = &metav1.Time{Time: failed}
			at, ok := policies.RetryAt(tok, inputsFP, tc.serviceUp)
			if !ok {
				t.Fatal("RetryAt not ok")
			}
			if tc.hi.IsZero() {
				if !at.Equal(tc.lo) {
					t.Errorf("RetryAt = %s, want %s", at, tc.lo)
				}
				return
			}
			if at.Before(tc.lo) || !at.Before(tc.hi) {
				t.Errorf("RetryAt = %s, want in [%s, %s)", at, tc.lo, tc.hi)
			}
		})
	}
}

// FuzzRetryAtRecovery: whatever the failure, its count and when the service
// came back, a recovery never makes a retry later than the backoff alone, and
// never sooner than the first backoff step after the object's own failure;
// only a service's failure is shortened by it, and only by a recovery after it.
func FuzzRetryAtRecovery(f *testing.F) {
	f.Add(int32(7), int64(60_000), uint8(0))
	f.Add(int32(1), int64(1), uint8(0))
	f.Add(int32(3), int64(-5_000), uint8(1))
	f.Add(int32(40), int64(3_600_000), uint8(2))
	all := []string{arcgisv1alpha1.ReasonServiceUnavailable, arcgisv1alpha1.ReasonInvalidCredentials,
		arcgisv1alpha1.ReasonSecretWriteFailed, arcgisv1alpha1.ReasonInvalidResponse, arcgisv1alpha1.ReasonAccountLocked}
	f.Fuzz(func(t *testing.T, attempts int32, upAfterMS int64, which uint8) {
		if attempts < 1 || upAfterMS < -86_400_000 || upAfterMS > 86_400_000 {
			return
		}
		reason := all[int(which)%len(all)]
		failed := issued.Add(3 * time.Minute)
		tok := newToken("uid-fuzz")
		tok.Status.FailedAttempts, tok.Status.LastFailureReason = attempts, reason
		tok.Status.LastFailureFingerprint, tok.Status.LastFailureTime = inputsFP, &metav1.Time{Time: failed}
		up := failed.Add(time.Duration(upAfterMS) * time.Millisecond)
		plain, _ := policies.RetryAt(tok, inputsFP, time.Time{})
		at, ok := policies.RetryAt(tok, inputsFP, up)
		if !ok {
			t.Fatal("RetryAt not ok")
		}
		if at.After(plain) {
			t.Fatalf("recovery at %s made the retry later: %s, backoff alone %s", up, at, plain)
		}
		if first := failed.Add(policies.Backoff(1, reason, "uid-fuzz")); at.Before(first) {
			t.Fatalf("retry at %s, before the first backoff step %s", at, first)
		}
		if at.Before(plain) && (reason != arcgisv1alpha1.ReasonServiceUnavailable || up.Before(failed)) {
			t.Fatalf("%s shortened by a recovery at %s (failure at %s)", reason, up, failed)
		}
		if at.Before(plain) && !at.Before(up.Add(policies.RecoverySpread)) && at.After(failed.Add(policies.Backoff(1, reason, "uid-fuzz"))) {
			t.Fatalf("released retry at %s, not within %s of the recovery at %s", at, policies.RecoverySpread, up)
		}
	})
}

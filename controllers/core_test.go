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

// The defects of issue 10, each as the test that failed before the core's
// rework: a refused Secret nobody reported, a renewal cliff under clock
// skew, probes that ignored validationInterval when they failed.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
)

// Defect 1: the API server refuses the Secret (here an invalid label value
// from secretTemplate; a quota, an admission webhook or a policy engine are
// the same). The refusal is a condition and a Warning event with the API
// server's message; once the template is fixed the token already issued is
// stored, without a second login.
func TestRefusedSecretIsReported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token("refused", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.SecretTemplate = &arcgisv1alpha1.SecretTemplate{Labels: map[string]string{"team": "gis apps!"}}
	h.create(tok)

	got := h.waitCondition("refused", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonSecretRejected)
	ready := findCondition(got, arcgisv1alpha1.ConditionReady)
	if !strings.Contains(ready.Message, "gis apps!") || !strings.Contains(ready.Message, "the token is kept") {
		t.Errorf("Ready message %q does not give the API server's reason and say the token is kept", ready.Message)
	}
	h.waitCondition("refused", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonSecretRejected)
	h.waitEvent("refused", arcgisv1alpha1.ReasonSecretRejected)
	if got.Status.FailedAttempts < 1 {
		t.Errorf("failedAttempts = %d, want the refused write counted", got.Status.FailedAttempts)
	}

	// Fixed by a person: the pending token is stored at once.
	cur := h.get("refused")
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.SecretTemplate.Labels["team"] = "gis-apps"
	if err := k8sClient.Patch(h.ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	h.waitReady("refused")
	if l := h.secret("refused").Labels["team"]; l != "gis-apps" {
		t.Errorf("Secret label team = %q, want gis-apps", l)
	}
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls = %d, want 1: the token refused with its Secret is stored when the Secret is fixed", n)
	}
}

// Defect 2: renewBefore 1h, a service that caps tokens at 60 minutes and a
// service clock 2 seconds ahead of ours. The lifetime read on our clock was
// 1h0m2s, so renewBefore counted as shorter than the lifetime and renewal
// fell due a second after each issue: 59 generateToken calls in a minute.
// Now renewBefore is used only when at most half the lifetime, and the
// renewal never comes before half the lifetime.
func TestRenewalCliffUnderClockSkew(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) {
		c.PortalMaxMinutes = 60
		c.PortalDefaultMinutes = 60
		c.ClockOffset = 2 * time.Second
	}))
	tok := h.token("cliff", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.RenewBefore = &metav1.Duration{Duration: time.Hour}
	h.create(tok)
	h.waitReady("cliff")
	h.waitEvent("cliff", arcgisv1alpha1.EventRenewBeforeTooLong)

	for range 60 {
		h.step(time.Second, "cliff")
		time.Sleep(20 * time.Millisecond)
	}
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls = %d in the first minute, want 1 (the renewal is due at half the lifetime at the earliest)", n)
	}
	got := h.get("cliff")
	if got.Status.RenewalTime == nil || got.Status.IssuedAt == nil ||
		got.Status.RenewalTime.Sub(got.Status.IssuedAt.Time) < 30*time.Minute {
		t.Errorf("renewalTime %v for a token issued at %v: want at least half of its 60 minutes after", got.Status.RenewalTime, got.Status.IssuedAt)
	}
}

// Defect 5: a probe failing with something other than 498 (a web tier's
// 401/403, a 5xx) was retried every minute for ever. Now it is reported
// (Validated=False with the reason, a Warning event), the token is kept, and
// the checks back off from a minute up to validationInterval.
func TestFailingProbesBackOff(t *testing.T) {
	t.Parallel()
	for name, status := range map[string]int{"403 from a web tier": 403, "503": 503} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.create(h.token("probed", arcgisv1alpha1.ServiceTypePortal))
			h.waitReady("probed")
			token := string(h.secret("probed").Data[arcgisv1alpha1.SecretKeyToken])
			if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalSelf, Kind: arcgissim.FaultStatus, Status: status}); err != nil {
				t.Fatal(err)
			}

			// The first check after the interval fails: reported, token kept.
			h.step(10*time.Minute, "probed")
			h.waitCondition("probed", arcgisv1alpha1.ConditionValidated, metav1.ConditionFalse, arcgisv1alpha1.ReasonValidationFailed)
			h.waitEvent("probed", arcgisv1alpha1.ReasonValidationFailed)
			h.quiesce()
			if got := string(h.secret("probed").Data[arcgisv1alpha1.SecretKeyToken]); got != token {
				t.Fatal("a failed check replaced the token")
			}

			// Then 10 more minutes, a minute at a time: the retries back off
			// (1, 2, 4 minutes, then the 10-minute interval): 3 checks, not 10.
			before := h.calls(arcgissim.EndpointPortalSelf)
			for range 10 {
				h.step(time.Minute, "probed")
				time.Sleep(50 * time.Millisecond)
				h.quiesce()
			}
			if n := h.calls(arcgissim.EndpointPortalSelf) - before; n < 2 || n > 3 {
				t.Errorf("%d checks in the 10 minutes after a failed one, want 2 or 3 (backing off from a minute)", n)
			}
			if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
				t.Errorf("generateToken calls = %d, want 1: a failed check is not a revoked token", n)
			}

			// The service answers again: Validated turns True.
			h.sim.ClearFaults()
			h.step(10*time.Minute, "probed")
			h.waitCondition("probed", arcgisv1alpha1.ConditionValidated, metav1.ConditionTrue, arcgisv1alpha1.ReasonValidated)
		})
	}
}

// The soak of issue 14 (1,000 tokens, a 2-minute outage, 10% of calls failing
// at random) found tokens left expired for 5 to 15 minutes after the service
// came back: the outage had grown their backoff to its 5-minute cap, and a
// random 503 after it started another. Now a backoff about the service ends
// once the service answers again (three calls in a row): the objects it held
// back are queued and retry within policies.RecoverySpread.
func TestServiceRecoveryEndsBackoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	names := []string{"held", "a", "b", "c"}
	for _, n := range names {
		h.create(h.token(n, arcgisv1alpha1.ServiceTypePortal))
	}
	for _, n := range names {
		h.waitReady(n)
	}
	old := string(h.secret("held").Data[arcgisv1alpha1.SecretKeyToken])
	renew := func(name, at string) {
		tok := h.get(name)
		patch := client.MergeFrom(tok.DeepCopy())
		tok.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: at}
		if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
			t.Fatal(err)
		}
	}

	// An outage of the whole portal; "held" is asked for a new token and
	// fails until its backoff reaches the cap (5 s, 10 s, … 5 minutes).
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: "portal", Kind: arcgissim.FaultStatus, Status: 503}); err != nil {
		t.Fatal(err)
	}
	renew("held", "2026-12-06T04:00:00Z")
	h.waitCondition("held", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	h.stepUntil("held", "held's backoff at its cap", func() bool { return h.get("held").Status.FailedAttempts >= 7 })
	h.quiesce()
	before := h.calls(arcgissim.EndpointPortalGenerateToken)

	// The service is back. Three other tokens renew (asked for: at once),
	// the first at the service's next trial call (TestOutageCallsTheServiceOncePerTrial).
	h.sim.ClearFaults()
	h.clock.Step(trialEvery)
	for i, n := range []string{"a", "b", "c"} {
		old := string(h.secret(n).Data[arcgisv1alpha1.SecretKeyToken])
		renew(n, fmt.Sprintf("2026-12-06T05:00:0%dZ", i))
		h.waitToken(n, old)
		h.quiesce()
	}
	// Nobody pokes "held": the recovery queued it. Within the spread of the
	// recovery it has its new token, where its backoff said minutes.
	h.clock.Step(policies.RecoverySpread + time.Second)
	got := h.waitToken("held", old)
	if got == old {
		t.Fatal("held kept its old token")
	}
	h.waitReady("held")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken) - before; n != 4 {
		t.Errorf("generateToken calls after the recovery = %d, want 4 (a, b, c and held once each)", n)
	}
}

// The soak of issue 14 counted 4,769 generateToken calls in a 2-minute
// outage: every one of 1,000 objects retried on its own backoff, 40 calls a
// second at a service that answered none. Now, after openAfter calls in a row
// found the service unavailable, its objects do not call it: the first object
// due calls it once every trialEvery, and the first answer releases them all.
func TestOutageCallsTheServiceOncePerTrial(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	olds := map[string]string{}
	for _, n := range names {
		h.create(h.token(n, arcgisv1alpha1.ServiceTypePortal))
	}
	for _, n := range names {
		h.waitReady(n)
		olds[n] = string(h.secret(n).Data[arcgisv1alpha1.SecretKeyToken])
	}
	h.quiesce()

	// The portal goes down, and every object is asked for a new token.
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: "portal", Kind: arcgissim.FaultStatus, Status: 503}); err != nil {
		t.Fatal(err)
	}
	before := h.calls(arcgissim.EndpointPortalGenerateToken)
	for i, n := range names {
		tok := h.get(n)
		patch := client.MergeFrom(tok.DeepCopy())
		tok.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: fmt.Sprintf("2026-12-06T04:00:%02dZ", i)}
		if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		h.waitCondition(n, arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	}
	h.quiesce()

	// Ten minutes of outage in 30-second steps. On their own backoffs (5 s,
	// 10 s, … 5 minutes) the 12 objects would call about 8 times each.
	const rounds = 20
	for range rounds {
		h.step(30*time.Second, names...)
		h.quiesce()
	}
	calls := h.calls(arcgissim.EndpointPortalGenerateToken) - before
	// The calls before the hold (openAfter, and those already in flight on
	// the harness's 4 workers), then at most one trial per step.
	if limit := openAfter + 3 + rounds; calls > limit {
		t.Errorf("%d generateToken calls in the outage, want at most %d (one trial per %s)", calls, limit, trialEvery)
	}
	attempts := 0
	for _, n := range names {
		tok := h.get(n)
		attempts += int(tok.Status.FailedAttempts)
		c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionIssuing)
		if c == nil || c.Reason != arcgisv1alpha1.ReasonServiceUnavailable {
			t.Fatalf("%s: Issuing = %+v, want reason %s", n, c, arcgisv1alpha1.ReasonServiceUnavailable)
		}
		if string(h.secret(n).Data[arcgisv1alpha1.SecretKeyToken]) != olds[n] {
			t.Fatalf("%s: the stored token changed in an outage", n)
		}
	}
	// Every attempt is still counted and shown, made or held.
	if attempts <= calls {
		t.Errorf("%d failed attempts in status for %d calls: the held attempts are not recorded", attempts, calls)
	}
	t.Logf("outage: %d generateToken calls for %d failed attempts of %d objects", calls, attempts, len(names))
	// The objects held back say so, in the condition and an event.
	held := 0
	for _, n := range names {
		c := meta.FindStatusCondition(h.get(n).Status.Conditions, arcgisv1alpha1.ConditionIssuing)
		if strings.Contains(c.Message, "it is called once every") {
			held++
		}
		h.waitEvent(n, arcgisv1alpha1.ReasonServiceUnavailable)
	}
	if held == 0 {
		t.Error("no condition says the service's calls are held back")
	}

	// The service is back: the first object due makes the trial call and
	// gets an answer, and every other object gets its new token within the
	// recovery's spread, one call each.
	h.sim.ClearFaults()
	before = h.calls(arcgissim.EndpointPortalGenerateToken)
	renewed := func() bool {
		for _, n := range names {
			if string(h.secret(n).Data[arcgisv1alpha1.SecretKeyToken]) != olds[n] {
				return true
			}
		}
		return false
	}
	for i := 0; !renewed(); i++ {
		if i == 12 {
			t.Fatal("no object renewed within 6 minutes of the service's return")
		}
		h.step(30*time.Second, names...)
		h.quiesce()
	}
	h.step(policies.RecoverySpread+time.Second, names...)
	for _, n := range names {
		h.waitToken(n, olds[n])
		h.waitReady(n)
	}
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken) - before; n != len(names) {
		t.Errorf("generateToken calls after the outage = %d, want %d (one per object)", n, len(names))
	}
}

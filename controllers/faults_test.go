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

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// serviceFaults are the ways a token service fails that the operator must
// ride out: each is injected during a first issue and during a rotation.
var serviceFaults = map[string]arcgissim.Fault{
	"5xx":                   {Kind: arcgissim.FaultStatus, Status: 503},
	"5xx with Retry-After":  {Kind: arcgissim.FaultStatus, Status: 502, RetryAfter: 3 * time.Second},
	"HTML error page":       {Kind: arcgissim.FaultHTMLError},
	"HTML login page":       {Kind: arcgissim.FaultHTMLLogin},
	"HTML Invalid Token":    {Kind: arcgissim.FaultHTMLInvalidToken},
	"connection dropped":    {Kind: arcgissim.FaultDrop},
	"slower than a timeout": {Kind: arcgissim.FaultDelay, Delay: 3 * time.Second},
}

func TestServiceFaultsDuringFirstIssueAndRotation(t *testing.T) {
	t.Parallel()
	for name, fault := range serviceFaults {
		for _, rotation := range []bool{false, true} {
			phase := "first issue"
			if rotation {
				phase = "rotation"
			}
			t.Run(name+" during "+phase, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, withManager(managerOptions{clientTimeout: time.Second}))
				fault.Endpoint = arcgissim.EndpointPortalGenerateToken
				var old string
				if rotation {
					h.create(h.token("tok", arcgisv1alpha1.ServiceTypePortal))
					h.waitReady("tok")
					old = string(h.secret("tok").Data[arcgisv1alpha1.SecretKeyToken])
				}
				base := h.calls(arcgissim.EndpointPortalGenerateToken)
				if err := h.sim.InjectFault(fault); err != nil {
					t.Fatal(err)
				}
				if rotation {
					renew(h, "tok", "now")
				} else {
					h.create(h.token("tok", arcgisv1alpha1.ServiceTypePortal))
				}

				got := h.waitCondition("tok", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
				ready := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionReady)
				if rotation {
					if ready.Status != metav1.ConditionTrue {
						t.Errorf("Ready = %s/%s while the old token is valid, want True", ready.Status, ready.Reason)
					}
					if s := string(h.secret("tok").Data[arcgisv1alpha1.SecretKeyToken]); s != old {
						t.Errorf("the old token was lost from the Secret")
					}
				} else {
					if ready.Status != metav1.ConditionFalse || ready.Reason != arcgisv1alpha1.ReasonServiceUnavailable {
						t.Errorf("Ready = %s/%s, want False/ServiceUnavailable", ready.Status, ready.Reason)
					}
					if !meta.IsStatusConditionTrue(got.Status.Conditions, arcgisv1alpha1.ConditionReconciling) {
						t.Errorf("Reconciling is not True while the first token is retried")
					}
					if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "tok"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
						t.Errorf("a Secret exists without a token: %v", err)
					}
				}

				// Retries back off: 5 s (+ up to 20%), then 10 s, counted
				// against the fake clock, whatever the reconciles in between.
				calls := func() int {
					h.quiesce()
					// A request held by a slow service is counted when it ends.
					h.eventually("no request in flight", func() (bool, string) {
						return h.sim.Counters().InFlight == 0, "in flight"
					})
					return h.calls(arcgissim.EndpointPortalGenerateToken) - base
				}
				want := []struct {
					step  time.Duration
					calls int
				}{
					{0, 1}, {2 * time.Second, 1}, {5 * time.Second, 2}, {5 * time.Second, 2}, {5 * time.Second, 2}, {3 * time.Second, 3},
				}
				for i, w := range want {
					h.step(w.step, "tok")
					if n := calls(); n != w.calls {
						t.Fatalf("after step %d (%s): %d generateToken calls, want %d", i, w.step, n, w.calls)
					}
				}
				if got := h.get("tok"); got.Status.FailedAttempts != 3 || got.Status.LastFailureReason != arcgisv1alpha1.ReasonServiceUnavailable {
					t.Errorf("failedAttempts/lastFailureReason = %d/%q, want 3/ServiceUnavailable", got.Status.FailedAttempts, got.Status.LastFailureReason)
				}

				// The service is back: renewed at the next retry.
				h.sim.ClearFaults()
				h.step(30*time.Second, "tok")
				h.waitToken("tok", old)
				h.waitReady("tok")
			})
		}
	}
}

func TestServiceDownAtFirstIssue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A port nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	tok := h.token("down", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.URL = "https://" + addr + "/portal"
	h.create(tok)
	got := h.waitCondition("down", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonServiceUnavailable)
	if c := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionReady); !strings.Contains(c.Message, addr) {
		t.Errorf("Ready message %q does not name the service", c.Message)
	}
}

func TestBadTokenResponses(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body string
	}{
		"expires in the past":       {`{"token":"abcdefghijklmnopqrstuvwxyz0123456789..","expires":946684800000,"ssl":true}`},
		"expires absurdly far":      {`{"token":"abcdefghijklmnopqrstuvwxyz0123456789..","expires":32503680000000,"ssl":true}`},
		"expires of the wrong type": {`{"token":"abcdefghijklmnopqrstuvwxyz0123456789..","expires":true}`},
		"no token":                  {`{"expires":1893456000000}`},
		"not an object":             {`["token"]`},
	}
	for name, tc := range tests {
		for _, rotation := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s (rotation %v)", name, rotation), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				var old string
				if rotation {
					h.create(h.token("tok", arcgisv1alpha1.ServiceTypePortal))
					h.waitReady("tok")
					old = string(h.secret("tok").Data[arcgisv1alpha1.SecretKeyToken])
				}
				if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultJSON, Body: tc.body}); err != nil {
					t.Fatal(err)
				}
				if rotation {
					renew(h, "tok", "now")
				} else {
					h.create(h.token("tok", arcgisv1alpha1.ServiceTypePortal))
				}
				got := h.waitCondition("tok", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonInvalidResponse)
				wantReady := metav1.ConditionFalse
				if rotation {
					wantReady = metav1.ConditionTrue
					if s := string(h.secret("tok").Data[arcgisv1alpha1.SecretKeyToken]); s != old {
						t.Errorf("the old token was replaced by a bad answer")
					}
				}
				if c := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionReady); c.Status != wantReady {
					t.Errorf("Ready = %s/%s, want %s", c.Status, c.Reason, wantReady)
				}
				h.waitEvent("tok", arcgisv1alpha1.ReasonInvalidResponse)
			})
		}
	}
}

func TestManagerKilledMidRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withoutManager())
	writes, kill := h.startManager(managerOptions{})
	h.create(h.token("crash", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("crash")
	before := h.secret("crash")
	old := string(before.Data[arcgisv1alpha1.SecretKeyToken])

	// The rotation gets its token, then the manager dies while writing it.
	hung := writes.hangNext("PATCH secrets")
	renew(h, "crash", "now")
	select {
	case <-hung:
	case <-time.After(15 * time.Second):
		t.Fatal("the rotation never reached the Secret write")
	}
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Fatalf("generateToken calls before the crash = %d, want 2", n)
	}
	kill()

	// Nothing half-written: the Secret is the old one, whole.
	after := h.secret("crash")
	if after.ResourceVersion != before.ResourceVersion || string(after.Data[arcgisv1alpha1.SecretKeyToken]) != old {
		t.Fatalf("the Secret changed although its write never happened")
	}

	// A new manager finishes the rotation, with one extra call at most.
	h.startManager(managerOptions{})
	token := h.waitToken("crash", old)
	h.waitReady("crash")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 3 {
		t.Errorf("generateToken calls = %d, want 3 (issue, the lost rotation, its retry)", n)
	}
	s := h.secret("crash")
	if !slices.Contains(h.sim.Secrets(), token) {
		t.Errorf("the stored token was not issued by the service")
	}
	if s.Annotations[arcgisv1alpha1.ExpiresAnnotation] != string(s.Data[arcgisv1alpha1.SecretKeyExpires]) {
		t.Errorf("the Secret's expiry annotation and key disagree: %q vs %q",
			s.Annotations[arcgisv1alpha1.ExpiresAnnotation], s.Data[arcgisv1alpha1.SecretKeyExpires])
	}
}

func TestLeaderElection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withoutManager())
	w1, stop1 := h.startManager(managerOptions{leaderElection: true})
	w2, stop2 := h.startManager(managerOptions{leaderElection: true})
	h.create(h.token("le", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("le")
	h.quiesce()

	leader, follower, stopLeader := w1, w2, stop1
	if w2.snapshot()["POST secrets"] > 0 {
		leader, follower, stopLeader = w2, w1, stop2
	}
	if n := leader.snapshot()["POST secrets"]; n != 1 {
		t.Fatalf("the leader created %d Secrets, want 1", n)
	}
	if n := follower.total(); n != 0 {
		t.Fatalf("the follower made %d writes, want 0: %v", n, follower.snapshot())
	}
	old := string(h.secret("le").Data[arcgisv1alpha1.SecretKeyToken])

	// The leader dies; what falls due is renewed by the other.
	stopLeader()
	h.step(time.Hour, "le")
	h.waitToken("le", old)
	if n := follower.snapshot()["PATCH secrets"]; n != 1 {
		t.Errorf("the new leader patched the Secret %d times, want 1", n)
	}
}

func TestEveryTokenRevokedAtOnce(t *testing.T) {
	t.Parallel()
	const n, perHost = 20, 2
	h := newHarness(t, withManager(managerOptions{perHostLimit: perHost}))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%02d", i)
		h.create(h.token(names[i], arcgisv1alpha1.ServiceTypePortal))
	}
	olds := map[string]string{}
	for _, name := range names {
		h.waitReady(name)
		olds[name] = string(h.secret(name).Data[arcgisv1alpha1.SecretKeyToken])
	}
	h.quiesce()

	h.sim.RevokeAll() // the portal's shared key changed
	h.sim.ResetCounters()
	h.step(10*time.Minute, names...) // one validation interval
	for _, name := range names {
		h.waitToken(name, olds[name])
	}
	h.quiesce()
	c := h.sim.Counters()
	if got := c.Total(arcgissim.EndpointPortalGenerateToken); got != n {
		t.Errorf("generateToken calls = %d, want %d (one per revoked token)", got, n)
	}
	if got := c.Total(arcgissim.EndpointPortalSelf); got != n {
		t.Errorf("validation calls = %d, want %d", got, n)
	}
	if c.PeakInFlight > perHost {
		t.Errorf("the simulator saw %d requests at once, above the per-host limit of %d", c.PeakInFlight, perHost)
	}
}

func TestSystemRootsByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token("noca", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.CABundleRef = nil // the simulator's CA is not among the system roots
	h.create(tok)
	got := h.waitCondition("noca", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonServiceUnavailable)
	msg := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionReady).Message
	if !strings.Contains(strings.ToLower(msg), "certificate") {
		t.Errorf("Ready message %q does not say the certificate is not trusted", msg)
	}
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 0 {
		t.Errorf("%d requests reached the service over an untrusted connection", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultStatus,
		Status: 503, RetryAfter: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	h.create(h.token("busy", arcgisv1alpha1.ServiceTypePortal))
	h.waitCondition("busy", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonServiceUnavailable)
	// The backoff alone would allow a retry after 5 s: the service asked for 2 minutes.
	h.step(30*time.Second, "busy")
	h.step(60*time.Second, "busy")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls within the Retry-After = %d, want 1", n)
	}
	h.sim.ClearFaults()
	h.step(31*time.Second, "busy")
	h.waitReady("busy")
}

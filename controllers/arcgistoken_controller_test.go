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
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
)

func TestFirstIssueForEveryType(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ arcgisv1alpha1.ServiceType
		// endpoint and calls: the simulator endpoint that issues the token,
		// and how many requests it gets for one token.
		endpoint string
		calls    int
		wantURL  func(*arcgissim.Simulator) string
		identity string
	}{
		"Portal": {arcgisv1alpha1.ServiceTypePortal, arcgissim.EndpointPortalGenerateToken, 1,
			(*arcgissim.Simulator).PortalURL, testUser},
		"Server": {arcgisv1alpha1.ServiceTypeServer, arcgissim.EndpointServerGenerateToken, 1,
			(*arcgissim.Simulator).ServerURL, testUser},
		"ServerAdmin": {arcgisv1alpha1.ServiceTypeServerAdmin, arcgissim.EndpointAdminGenerateToken, 1,
			(*arcgissim.Simulator).ServerURL, testUser},
		// A portal login, then the exchange, both at the portal's generateToken.
		"Federated": {arcgisv1alpha1.ServiceTypeFederated, arcgissim.EndpointPortalGenerateToken, 2,
			(*arcgissim.Simulator).ServerURL, testUser},
		"OAuth": {arcgisv1alpha1.ServiceTypeOAuth, arcgissim.EndpointOAuthToken, 1,
			(*arcgissim.Simulator).PortalURL, testAppID},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token("tok", tc.typ)
			h.create(tok)
			got := h.waitReady("tok")

			s := h.secret("tok")
			if s.Type != corev1.SecretTypeOpaque {
				t.Errorf("Secret type = %q, want Opaque", s.Type)
			}
			token := string(s.Data[arcgisv1alpha1.SecretKeyToken])
			if !slices.Contains(h.sim.Secrets(), token) {
				t.Errorf("the Secret's token was not issued by the simulator")
			}
			expires, err := time.Parse(time.RFC3339, string(s.Data[arcgisv1alpha1.SecretKeyExpires]))
			if err != nil {
				t.Fatalf("expires key %q is not RFC 3339: %v", s.Data[arcgisv1alpha1.SecretKeyExpires], err)
			}
			if !strings.HasSuffix(string(s.Data[arcgisv1alpha1.SecretKeyExpires]), "Z") {
				t.Errorf("expires %q is not in UTC", s.Data[arcgisv1alpha1.SecretKeyExpires])
			}
			if want := h.clock.Now().Add(60 * time.Minute); !expires.Equal(want.Truncate(time.Second)) {
				t.Errorf("expires = %s, want %s (60 minutes as granted)", expires, want)
			}
			if s.Annotations[arcgisv1alpha1.ExpiresAnnotation] != string(s.Data[arcgisv1alpha1.SecretKeyExpires]) {
				t.Errorf("annotation %s = %q, want the expires key", arcgisv1alpha1.ExpiresAnnotation, s.Annotations[arcgisv1alpha1.ExpiresAnnotation])
			}
			if got, want := string(s.Data[arcgisv1alpha1.SecretKeyURL]), tc.wantURL(h.sim); got != want {
				t.Errorf("url key = %q, want %q", got, want)
			}
			_, hasReferer := s.Data[arcgisv1alpha1.SecretKeyReferer]
			if wantReferer := tc.typ != arcgisv1alpha1.ServiceTypeOAuth; hasReferer != wantReferer {
				t.Errorf("referer key present = %v, want %v", hasReferer, wantReferer)
			} else if hasReferer && string(s.Data[arcgisv1alpha1.SecretKeyReferer]) != testReferer {
				t.Errorf("referer key = %q, want %q", s.Data[arcgisv1alpha1.SecretKeyReferer], testReferer)
			}
			if s.Labels[arcgisv1alpha1.ManagedByLabel] != arcgisv1alpha1.ManagedByValue || s.Labels[arcgisv1alpha1.TokenLabel] != "tok" {
				t.Errorf("labels = %v", s.Labels)
			}
			// envtest runs no garbage collector: the controller reference is
			// what makes the cluster delete the Secret with its ArcGISToken.
			owner := metav1.GetControllerOf(s)
			if owner == nil || owner.UID != got.UID || owner.Kind != "ArcGISToken" || owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
				t.Errorf("controller reference = %+v, want the ArcGISToken %s", owner, got.UID)
			}

			st := got.Status
			if st.SecretName != "tok" || st.GrantedMinutes != 60 || st.ExpiresAt == nil || !st.ExpiresAt.Time.Equal(expires) ||
				st.IssuedAt == nil || st.RenewalTime == nil || st.Identity != tc.identity || st.ObservedGeneration != got.Generation {
				t.Errorf("status = %+v", st)
			}
			// Renewal: a third of the lifetime before expiry, minus at most the jitter.
			latest := expires.Add(-20 * time.Minute)
			if r := st.RenewalTime.Time; r.After(latest) || r.Before(latest.Add(-policies.JitterWindow(time.Hour))) {
				t.Errorf("renewalTime = %s, want within the jitter window before %s", r, latest)
			}
			if c := meta.FindStatusCondition(st.Conditions, arcgisv1alpha1.ConditionIssuing); c == nil || c.Status != metav1.ConditionFalse {
				t.Errorf("Issuing = %+v, want False", c)
			}
			for _, ct := range []string{arcgisv1alpha1.ConditionReconciling, arcgisv1alpha1.ConditionStalled} {
				if meta.FindStatusCondition(st.Conditions, ct) != nil {
					t.Errorf("condition %s present on a Ready token", ct)
				}
			}
			if n := h.calls(tc.endpoint); n != tc.calls {
				t.Errorf("%s calls = %d, want %d", tc.endpoint, n, tc.calls)
			}
			h.waitEvent("tok", "Issued")
		})
	}
}

func TestRotationKeepsOldTokenUntilNewOneIsStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("rot", arcgisv1alpha1.ServiceTypePortal))
	first := h.waitReady("rot")
	old := string(h.secret("rot").Data[arcgisv1alpha1.SecretKeyToken])

	// The service fails when the renewal is due.
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultStatus, Status: 503}); err != nil {
		t.Fatal(err)
	}
	h.step(first.Status.RenewalTime.Sub(h.clock.Now())+time.Second, "rot")
	got := h.waitCondition("rot", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonServiceUnavailable)
	if !meta.IsStatusConditionTrue(got.Status.Conditions, arcgisv1alpha1.ConditionReady) {
		t.Errorf("Ready is not True while the old token is still valid: %+v", got.Status.Conditions)
	}
	if s := string(h.secret("rot").Data[arcgisv1alpha1.SecretKeyToken]); s != old {
		t.Errorf("the Secret lost the old token during a failed renewal")
	}
	if got.Status.FailedAttempts != 1 || got.Status.LastFailureReason != arcgisv1alpha1.ReasonServiceUnavailable {
		t.Errorf("failure bookkeeping = %d/%q", got.Status.FailedAttempts, got.Status.LastFailureReason)
	}
	h.waitEvent("rot", arcgisv1alpha1.ReasonServiceUnavailable)

	// Pokes within the backoff make no call.
	calls := h.calls(arcgissim.EndpointPortalGenerateToken)
	h.poke("rot")
	h.poke("rot")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != calls {
		t.Errorf("%d generateToken calls within the backoff, want 0", n-calls)
	}

	// The service is back: after the backoff the token is renewed.
	h.sim.ClearFaults()
	h.step(10*time.Second, "rot")
	h.waitToken("rot", old)
	got = h.waitCondition("rot", arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonUpToDate)
	if got.Status.FailedAttempts != 0 || got.Status.LastFailureTime != nil || got.Status.LastFailureReason != "" {
		t.Errorf("failure bookkeeping not cleared after success: %+v", got.Status)
	}
	if !got.Status.ExpiresAt.After(first.Status.ExpiresAt.Time) {
		t.Errorf("expiresAt %s not after the old %s", got.Status.ExpiresAt, first.Status.ExpiresAt)
	}
	h.waitEvent("rot", "Renewed")
}

func TestServiceGrantsLessThanAsked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) { c.PortalMaxMinutes = 90 }))
	tok := h.token("short", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.ExpirationMinutes = 600
	h.create(tok)
	got := h.waitReady("short")
	if got.Status.GrantedMinutes != 90 {
		t.Errorf("grantedMinutes = %d, want 90", got.Status.GrantedMinutes)
	}
	// Renewal from what was granted: 30 minutes (a third of 90) before expiry.
	latest := got.Status.ExpiresAt.Add(-30 * time.Minute)
	if r := got.Status.RenewalTime.Time; r.After(latest) || r.Before(latest.Add(-policies.JitterWindow(90*time.Minute))) {
		t.Errorf("renewalTime = %s, want just before %s", r, latest)
	}
	e := h.waitEvent("short", "ExpirationClamped")
	if e.Type != corev1.EventTypeWarning {
		t.Errorf("ExpirationClamped is a %s event, want Warning", e.Type)
	}
}

func TestRevocationFoundByValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("rev", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("rev")
	old := string(h.secret("rev").Data[arcgisv1alpha1.SecretKeyToken])

	// A validation within the interval that finds the token fine.
	h.step(policies.DefaultValidationInterval, "rev")
	h.eventually("a validation", func() (bool, string) {
		return h.calls(arcgissim.EndpointPortalSelf) >= 1, "no check of the token"
	})
	h.eventually("the identity from the check", func() (bool, string) {
		return h.get("rev").Status.Identity == testUser, "identity not set"
	})
	if got := h.get("rev").Status.Identity; got != testUser {
		t.Errorf("identity = %q, want %q from the portal's self call", got, testUser)
	}
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls = %d after a good validation, want 1", n)
	}

	// The portal's shared key changes: every token dies.
	h.sim.RevokeAll()
	h.step(policies.DefaultValidationInterval, "rev")
	h.waitToken("rev", old)
	h.waitEvent("rev", arcgisv1alpha1.ReasonRevoked)
	got := h.waitReady("rev")
	if got.Status.RevokedAt != nil {
		t.Errorf("revokedAt = %v after a new token was stored, want unset", got.Status.RevokedAt)
	}
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Errorf("generateToken calls = %d, want 2 (issue, re-issue)", n)
	}
}

func TestInvalidCredentialsDoNotHotLoop(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createCredentials("bad-credentials", map[string]string{"username": testUser, "password": "wrong-password-5d1e"})
	tok := h.token("bad", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.CredentialsRef.Name = "bad-credentials"
	h.create(tok)
	got := h.waitCondition("bad", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonInvalidCredentials)
	if c := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Stalled = %+v, want True: a person must fix the credentials", c)
	}
	h.waitEvent("bad", arcgisv1alpha1.ReasonInvalidCredentials)

	// Reconciles keep coming (pokes, a minute of fake time each): no login.
	for i := 0; i < 4; i++ {
		h.step(time.Minute, "bad")
	}
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls = %d within the backoff, want 1", n)
	}

	// The credentials are fixed: a new attempt at once, whatever the backoff.
	s := &corev1.Secret{}
	h.update("bad-credentials", s, func() { s.Data["password"] = []byte(testPassword) })
	h.waitReady("bad")
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Errorf("generateToken calls = %d, want 2", n)
	}
	if got := h.get("bad"); got.Status.FailedAttempts != 0 {
		t.Errorf("failedAttempts = %d after success", got.Status.FailedAttempts)
	}
}

func TestCredentialsChangeReissuesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("cred", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("cred")
	old := string(h.secret("cred").Data[arcgisv1alpha1.SecretKeyToken])

	h.sim.SetUser("other", "other-password-1")
	s := &corev1.Secret{}
	h.update("portal-credentials", s, func() {
		s.Data = map[string][]byte{"username": []byte("other"), "password": []byte("other-password-1")}
	})
	h.waitToken("cred", old)
	got := h.waitReady("cred")
	if got.Status.Identity != "other" {
		t.Errorf("identity = %q, want other", got.Status.Identity)
	}
}

func TestManualRenewAnnotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("manual", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("manual")
	old := string(h.secret("manual").Data[arcgisv1alpha1.SecretKeyToken])

	setRenewAt := func(v string) {
		tok := h.get("manual")
		patch := client.MergeFrom(tok.DeepCopy())
		tok.Annotations = map[string]string{arcgisv1alpha1.RenewAtAnnotation: v}
		if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
			t.Fatal(err)
		}
	}
	setRenewAt("2026-11-25T10:00:00Z")
	h.waitToken("manual", old)
	h.waitReady("manual")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Errorf("generateToken calls = %d, want 2", n)
	}
	// The same request again is already handled.
	h.poke("manual")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Errorf("generateToken calls = %d after a poke, want still 2", n)
	}
}

func TestSpecChangeReissues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("spec", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("spec")
	old := string(h.secret("spec").Data[arcgisv1alpha1.SecretKeyToken])

	tok := h.get("spec")
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Spec.ExpirationMinutes = 30
	if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
		t.Fatal(err)
	}
	h.waitToken("spec", old)
	h.eventually("grantedMinutes 30", func() (bool, string) {
		got := h.get("spec")
		return got.Status.GrantedMinutes == 30 && got.Status.ObservedGeneration == got.Generation, "not yet"
	})

	// A change of how the token is stored only (template) does not re-issue.
	calls := h.calls(arcgissim.EndpointPortalGenerateToken)
	tok = h.get("spec")
	patch = client.MergeFrom(tok.DeepCopy())
	tok.Spec.SecretTemplate = &arcgisv1alpha1.SecretTemplate{Labels: map[string]string{"team": "maps"}}
	if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
		t.Fatal(err)
	}
	h.eventually("the template label on the Secret", func() (bool, string) {
		return h.secret("spec").Labels["team"] == "maps", "label missing"
	})
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != calls {
		t.Errorf("a template change made %d generateToken calls, want 0", n-calls)
	}

	// A key removed from the template is removed from the Secret.
	tok = h.get("spec")
	patch = client.MergeFrom(tok.DeepCopy())
	tok.Spec.SecretTemplate = &arcgisv1alpha1.SecretTemplate{Annotations: map[string]string{"reloader": "true"}}
	if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
		t.Fatal(err)
	}
	h.eventually("the template change on the Secret", func() (bool, string) {
		s := h.secret("spec")
		_, stale := s.Labels["team"]
		return !stale && s.Annotations["reloader"] == "true", fmt.Sprintf("labels %v annotations %v", s.Labels, s.Annotations)
	})
	if s := h.secret("spec"); s.Annotations[arcgisv1alpha1.ExpiresAnnotation] == "" || s.Labels[arcgisv1alpha1.ManagedByLabel] == "" {
		t.Errorf("the operator's own metadata was lost: %v %v", s.Labels, s.Annotations)
	}
}

func TestSecretConflictNeverOverwritten(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: h.ns},
		Data:       map[string][]byte{"token": []byte("someone-elses")},
	}
	h.create(foreign)
	tok := h.token("conflict", arcgisv1alpha1.ServiceTypePortal)
	tok.Spec.SecretName = "taken"
	h.create(tok)
	h.waitCondition("conflict", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonSecretConflict)
	h.waitEvent("conflict", arcgisv1alpha1.ReasonSecretConflict)
	s := h.secret("taken")
	if string(s.Data["token"]) != "someone-elses" || metav1.GetControllerOf(s) != nil || len(s.Labels) != 0 {
		t.Errorf("the foreign Secret was changed: %+v", s)
	}
	// More reconciles cost no more calls: the conflict is checked first.
	calls := h.calls(arcgissim.EndpointPortalGenerateToken)
	h.step(time.Minute, "conflict")
	h.step(time.Minute, "conflict")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != calls {
		t.Errorf("%d generateToken calls while in conflict, want 0", n-calls)
	}

	// Once the foreign Secret is gone, the token is stored.
	if err := k8sClient.Delete(h.ctx, foreign); err != nil {
		t.Fatal(err)
	}
	h.step(10*time.Minute, "conflict")
	h.waitReady("conflict")
}

func TestSteadyStateWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, typ := range []arcgisv1alpha1.ServiceType{arcgisv1alpha1.ServiceTypePortal, arcgisv1alpha1.ServiceTypeOAuth} {
		h.create(h.token(typeName(typ), typ))
	}
	h.waitReady("portal")
	h.waitReady("oauth")
	h.quiesce()
	writes := h.writes.snapshot()
	// First issue: one Secret create and one status patch per token.
	if writes["POST secrets"] != 2 || writes["PATCH arcgistokens/status"] > 2 || writes["PATCH secrets"] != 0 {
		t.Errorf("writes for two first issues = %v, want 2 Secret creates and at most 2 status patches", writes)
	}
	before := h.writes.total()
	calls := h.calls(arcgissim.EndpointPortalGenerateToken) + h.calls(arcgissim.EndpointOAuthToken)
	for i := 0; i < 3; i++ {
		h.poke("portal")
		h.poke("oauth")
	}
	h.step(time.Minute, "portal", "oauth")
	h.quiesce()
	if n := h.writes.total() - before; n != 0 {
		t.Errorf("the manager made %d API writes with nothing due: %v", n, h.writes.snapshot())
	}
	if n := h.calls(arcgissim.EndpointPortalGenerateToken) + h.calls(arcgissim.EndpointOAuthToken) - calls; n != 0 {
		t.Errorf("%d token calls with nothing due", n)
	}
}

func typeName(t arcgisv1alpha1.ServiceType) string {
	switch t {
	case arcgisv1alpha1.ServiceTypeOAuth:
		return "oauth"
	case arcgisv1alpha1.ServiceTypePortal:
		return "portal"
	}
	return "other"
}

func TestCABundleChangeReissues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("ca", arcgisv1alpha1.ServiceTypePortal))
	h.waitReady("ca")
	old := string(h.secret("ca").Data[arcgisv1alpha1.SecretKeyToken])

	// The CA bundle changes (a second root is added during a CA rotation).
	cm := &corev1.ConfigMap{}
	h.update("arcgis-ca", cm, func() { cm.Data["ca.crt"] += cm.Data["ca.crt"] })
	h.waitToken("ca", old)
	h.waitReady("ca")

	// A change elsewhere in the ConfigMap (another key) changes nothing.
	calls := h.calls(arcgissim.EndpointPortalGenerateToken)
	h.update("arcgis-ca", cm, func() { cm.Data["unrelated"] = "x" })
	// Nothing observable happens when nothing is due: give the watch event
	// time to arrive and be reconciled.
	time.Sleep(time.Second)
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != calls {
		t.Errorf("%d generateToken calls after an unrelated key of the CA ConfigMap changed, want 0", n-calls)
	}
}

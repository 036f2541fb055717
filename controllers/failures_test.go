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
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// failLogins makes n failed logins for user at the simulator's portal, as
// someone mistyping a password would.
func (h *harness) failLogins(user string, n int) {
	h.t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.sim.CAPEM())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for i := 0; i < n; i++ {
		form := url.Values{"username": {user}, "password": {"typo-password-3e7b"}, "client": {"referer"}, "referer": {testReferer}, "f": {"json"}}
		resp, err := c.PostForm(h.sim.PortalURL()+"/sharing/rest/generateToken", form)
		if err != nil {
			h.t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
}

func TestLockedAccountIsLeftAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.failLogins(testUser, 5) // someone else locked the account
	h.sim.ResetCounters()

	h.create(h.token("locked", arcgisv1alpha1.ServiceTypePortal))
	got := h.waitCondition("locked", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonAccountLocked)
	if c := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionStalled); c == nil {
		t.Errorf("no Stalled condition while locked out: %+v", got.Status.Conditions)
	}
	// While the lock-out lasts, no login is tried.
	for i := 0; i < 3; i++ {
		h.step(4*time.Minute, "locked")
	}
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("generateToken calls during the lock-out = %d, want 1", n)
	}
	// After it ends (and the object's own backoff of 15 minutes plus up to 20%
	// jitter), the right password works.
	h.step(8*time.Minute, "locked")
	h.waitReady("locked")
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
		t.Errorf("generateToken calls = %d, want 2", n)
	}
}

func TestSharedBadCredentialNeverLocksTheAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createCredentials("shared-bad", map[string]string{"username": testUser, "password": "wrong-password"})
	const n = 50
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app-%02d", i)
		tok := h.token(names[i], arcgisv1alpha1.ServiceTypePortal)
		tok.Spec.CredentialsRef.Name = "shared-bad"
		h.create(tok)
	}
	for _, name := range names {
		h.waitCondition(name, arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonInvalidCredentials)
	}
	// Two hours of fake time, every object reconciled every 5 minutes.
	for step := 0; step < 24; step++ {
		h.step(5*time.Minute, names...)
		h.quiesce()
	}
	c := h.sim.Counters()
	account := arcgissim.AccountKey(arcgissim.RealmPortal, testUser)
	attempts := c.LoginAttempts[account]
	if worst := c.MaxLoginAttemptsWithin(account, 15*time.Minute); worst > 4 {
		t.Errorf("%d login attempts within 15 minutes, want at most 4", worst)
	}
	for _, a := range attempts {
		if a.Outcome == arcgissim.OutcomeAccountLocked {
			t.Fatalf("the operator locked the account: attempts %+v", attempts)
		}
	}
	if len(attempts) < 2 || len(attempts) > 12 {
		t.Errorf("%d login attempts in two hours, want a few (backing off, still trying)", len(attempts))
	}
	t.Logf("%d ArcGISTokens, one bad password, 2 h: %d login attempts, at most %d in any 15 minutes",
		n, len(attempts), c.MaxLoginAttemptsWithin(account, 15*time.Minute))
}

func TestFederatedExchangeRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("fed", arcgisv1alpha1.ServiceTypeFederated))
	h.waitReady("fed")
	old := string(h.secret("fed").Data[arcgisv1alpha1.SecretKeyToken])

	// A revoked portal token: the exchange fails once with 498, the client
	// logs in again and the exchange then works.
	h.sim.RevokeAll()
	h.sim.ResetCounters()
	renew(h, "fed", "r1")
	h.waitToken("fed", old)
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 3 {
		t.Errorf("portal generateToken calls = %d, want 3 (exchange 498, login, exchange)", n)
	}
	h.waitReady("fed")
	old = string(h.secret("fed").Data[arcgisv1alpha1.SecretKeyToken])

	// The exchange keeps answering 498: InvalidToken, the old token is kept.
	if err := h.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointPortalGenerateToken, Kind: arcgissim.FaultJSON,
		Body: `{"error":{"code":498,"message":"Invalid token.","details":[]}}`}); err != nil {
		t.Fatal(err)
	}
	renew(h, "fed", "r2")
	got := h.waitCondition("fed", arcgisv1alpha1.ConditionIssuing, metav1.ConditionTrue, arcgisv1alpha1.ReasonInvalidToken)
	if !meta.IsStatusConditionTrue(got.Status.Conditions, arcgisv1alpha1.ConditionReady) {
		t.Errorf("Ready is not True while the old token is valid")
	}
	if s := string(h.secret("fed").Data[arcgisv1alpha1.SecretKeyToken]); s != old {
		t.Errorf("the old token was lost")
	}
}

// renew sets the renew-at annotation.
func renew(h *harness, name, value string) {
	h.t.Helper()
	tok := h.get(name)
	patch := client.MergeFrom(tok.DeepCopy())
	if tok.Annotations == nil {
		tok.Annotations = map[string]string{}
	}
	tok.Annotations[arcgisv1alpha1.RenewAtAnnotation] = value
	if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
		h.t.Fatal(err)
	}
}

func TestAPIWriteFailuresCostNoSecondCall(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind   string
		status int
	}{
		"Secret create fails with 500":       {"POST secrets", 500},
		"Secret create fails with 503":       {"POST secrets", 503},
		"status patch fails with a conflict": {"PATCH arcgistokens/status", 409},
		"status patch fails with 500":        {"PATCH arcgistokens/status", 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.writes.failNext(tc.kind, 2, tc.status)
			h.create(h.token("flaky", arcgisv1alpha1.ServiceTypePortal))
			// A failed write is retried after its backoff, on the
			// reconciler's clock: move it on until the token is stored.
			h.stepUntilReady("flaky")
			h.quiesce()
			if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
				t.Errorf("generateToken calls = %d after %s failed twice, want 1", n, tc.kind)
			}
			if n := h.writes.snapshot()[tc.kind]; n < 3 {
				t.Errorf("%s tried %d times, want the 2 failures and a success", tc.kind, n)
			}
		})
	}

	t.Run("Secret patch fails during a renewal", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.create(h.token("flaky", arcgisv1alpha1.ServiceTypePortal))
		h.waitReady("flaky")
		old := string(h.secret("flaky").Data[arcgisv1alpha1.SecretKeyToken])
		h.writes.failNext("PATCH secrets", 2, 500)
		renew(h, "flaky", "now")
		h.stepUntil("flaky", "the renewed token stored", func() bool {
			return string(h.secret("flaky").Data[arcgisv1alpha1.SecretKeyToken]) != old
		})
		h.quiesce()
		if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 2 {
			t.Errorf("generateToken calls = %d, want 2 (issue, one renewal)", n)
		}
	})
}

func TestSuspend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(h.token("sus", arcgisv1alpha1.ServiceTypePortal))
	first := h.waitReady("sus")
	tok := h.get("sus")
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Spec.Suspend = true
	if err := k8sClient.Patch(h.ctx, tok, patch); err != nil {
		t.Fatal(err)
	}
	h.waitCondition("sus", arcgisv1alpha1.ConditionIssuing, metav1.ConditionFalse, arcgisv1alpha1.ReasonSuspended)
	// Past the renewal time nothing is renewed; past the expiry Ready turns False.
	h.step(first.Status.RenewalTime.Sub(h.clock.Now())+time.Minute, "sus")
	h.quiesce()
	if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 1 {
		t.Errorf("a suspended token was renewed: %d calls", n)
	}
	h.step(time.Hour, "sus")
	got := h.waitCondition("sus", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, arcgisv1alpha1.ReasonExpired)
	for _, ct := range []string{arcgisv1alpha1.ConditionReconciling, arcgisv1alpha1.ConditionStalled} {
		if c := meta.FindStatusCondition(got.Status.Conditions, ct); c != nil {
			t.Errorf("%s = %+v on a suspended token: nothing is being worked on", ct, c)
		}
	}
	if s := h.secret("sus"); len(s.Data[arcgisv1alpha1.SecretKeyToken]) == 0 {
		t.Errorf("suspending emptied the Secret")
	}
}

func TestInputErrorsReported(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate     func(h *harness, tok *arcgisv1alpha1.ArcGISToken)
		wantReason string
		wantIn     string
	}{
		"missing credentials Secret": {
			mutate:     func(_ *harness, tok *arcgisv1alpha1.ArcGISToken) { tok.Spec.CredentialsRef.Name = "nope" },
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound, wantIn: `Secret "nope" not found`,
		},
		"missing key": {
			mutate: func(h *harness, tok *arcgisv1alpha1.ArcGISToken) {
				h.createCredentials("no-password", map[string]string{"username": testUser})
				tok.Spec.CredentialsRef.Name = "no-password"
			},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound, wantIn: `no key "password"`,
		},
		"empty password": {
			mutate: func(h *harness, tok *arcgisv1alpha1.ArcGISToken) {
				h.createCredentials("empty-password", map[string]string{"username": testUser, "password": ""})
				tok.Spec.CredentialsRef.Name = "empty-password"
			},
			wantReason: arcgisv1alpha1.ReasonCredentialsNotFound, wantIn: "is empty",
		},
		"CA bundle that is not PEM": {
			mutate: func(h *harness, tok *arcgisv1alpha1.ArcGISToken) {
				h.createCredentials("not-pem", map[string]string{"ca.crt": "this is not a certificate"})
				tok.Spec.CABundleRef = &arcgisv1alpha1.CABundleReference{Kind: arcgisv1alpha1.CABundleKindSecret, Name: "not-pem", Key: "ca.crt"}
			},
			wantReason: arcgisv1alpha1.ReasonInvalidSpec, wantIn: "no PEM certificate",
		},
		"missing CA ConfigMap": {
			mutate: func(_ *harness, tok *arcgisv1alpha1.ArcGISToken) {
				tok.Spec.CABundleRef = &arcgisv1alpha1.CABundleReference{Name: "no-such-ca"}
			},
			wantReason: arcgisv1alpha1.ReasonInvalidSpec, wantIn: `ConfigMap "no-such-ca" not found`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token("input", arcgisv1alpha1.ServiceTypePortal)
			tc.mutate(h, tok)
			h.create(tok)
			got := h.waitCondition("input", arcgisv1alpha1.ConditionReady, metav1.ConditionFalse, tc.wantReason)
			c := meta.FindStatusCondition(got.Status.Conditions, arcgisv1alpha1.ConditionReady)
			if !strings.Contains(c.Message, tc.wantIn) {
				t.Errorf("Ready message %q does not say %q", c.Message, tc.wantIn)
			}
			h.waitEvent("input", tc.wantReason)
			if n := h.calls(arcgissim.EndpointPortalGenerateToken); n != 0 {
				t.Errorf("%d generateToken calls with bad inputs", n)
			}
		})
	}
}

func TestRolloutRestartDebounced(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	labels := map[string]string{"app": "web"}
	h.create(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: h.ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:1"}}},
			},
		},
	})
	for _, name := range []string{"a", "b"} {
		tok := h.token(name, arcgisv1alpha1.ServiceTypePortal)
		tok.Spec.RolloutRestartTargets = []arcgisv1alpha1.RolloutRestartTarget{
			{Kind: arcgisv1alpha1.WorkloadKindDeployment, Name: "web"},
			{Kind: arcgisv1alpha1.WorkloadKindStatefulSet, Name: "missing"},
		}
		h.create(tok)
		h.waitReady(name)
	}
	// The first issue restarts nothing: the consumers start with it.
	h.quiesce()
	if n := h.writes.snapshot()["PATCH deployments"]; n != 0 {
		t.Errorf("%d restarts after the first issue, want 0", n)
	}
	// Both rotate together: one restart.
	renew(h, "a", "1")
	renew(h, "b", "1")
	h.eventually("the restart annotation on the pod template", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "web"}, d); err != nil {
			return false, err.Error()
		}
		return d.Spec.Template.Annotations[arcgisv1alpha1.RestartedAtAnnotation] != "", "not set"
	})
	h.waitEvent("a", "RolloutRestarted")
	h.waitEvent("b", "RolloutRestarted")
	h.waitEvent("a", "RolloutRestartFailed")
	h.quiesce()
	if n := h.writes.snapshot()["PATCH deployments"]; n != 1 {
		t.Errorf("%d Deployment restarts for two tokens rotating together, want 1", n)
	}
}

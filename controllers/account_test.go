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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// Issue 10, defects 3 and 4: one account behind two doors, or refusing
// logins in words the classifier does not know, must still get at most 4
// failed logins in any 15 minutes and never be locked.

// loginFigures are what the simulator saw of one account's failed logins.
type loginFigures struct {
	in2m, in15m, locked int
}

func (h *harness) loginFigures(account string) loginFigures {
	var failed []time.Time
	var f loginFigures
	for _, a := range h.sim.Counters().LoginAttempts[account] {
		switch a.Outcome {
		case arcgissim.OutcomeAccountLocked:
			f.locked++
			failed = append(failed, a.At)
		case arcgissim.OutcomeInvalidCredentials:
			failed = append(failed, a.At)
		}
	}
	slices.SortFunc(failed, time.Time.Compare)
	f.in2m, f.in15m = mostWithin(failed, 2*time.Minute), mostWithin(failed, 15*time.Minute)
	return f
}

// mostWithin is the most times in any half-open window [t, t+w).
func mostWithin(ts []time.Time, w time.Duration) int {
	most := 0
	for i := range ts {
		n := 0
		for _, u := range ts[i:] {
			if u.Sub(ts[i]) < w {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// wrongPasswords runs the scenario of defect 3: the tokens share the
// credentials Secret "shared" holding a wrong password, which is "fixed"
// edits times with other wrong passwords, 30 s apart; then 20 minutes pass
// with a reconcile of every token every 30 s.
func (h *harness) wrongPasswords(edits int, tokens ...*arcgisv1alpha1.ArcGISToken) {
	h.t.Helper()
	h.createCredentials("shared", map[string]string{"username": testUser, "password": "wrong-password-0-kq7Z"})
	var names []string
	for _, tok := range tokens {
		tok.Spec.CredentialsRef.Name = "shared"
		h.create(tok)
		names = append(names, tok.Name)
	}
	h.quiesce()
	for i := 1; i <= edits; i++ {
		password := fmt.Sprintf("wrong-password-%d-kq7Z", i)
		h.mu.Lock()
		h.credentials = append(h.credentials, password)
		h.mu.Unlock()
		s := &corev1.Secret{}
		h.update("shared", s, func() { s.StringData = map[string]string{"password": password} })
		h.quiesce()
		h.step(30*time.Second, names...)
		h.quiesce()
	}
	for range 40 {
		h.step(30*time.Second, names...)
		h.quiesce()
	}
}

func (h *harness) checkAccount(account string) {
	h.t.Helper()
	f := h.loginFigures(account)
	h.t.Logf("account %s: %d failed logins in the busiest 2 minutes, %d in the busiest 15 minutes, %d attempts refused as locked",
		account, f.in2m, f.in15m, f.locked)
	if f.in15m > 4 || f.locked > 0 {
		h.t.Errorf("account %s: %d failed logins in 15 minutes and %d refused as locked, want at most 4 and none", account, f.in15m, f.locked)
	}
	if f.in15m == 0 {
		h.t.Errorf("account %s: no failed login at all; the scenario did not run", account)
	}
}

// TestAccountPortalAndFederatedServer: a Portal token and a Server token
// whose federated server sends its logins to the portal are one account.
func TestAccountPortalAndFederatedServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) { c.ServerTokensAtPortal = true }))
	h.wrongPasswords(3, h.token("portal", arcgisv1alpha1.ServiceTypePortal), h.token("server", arcgisv1alpha1.ServiceTypeServer))
	h.checkAccount(arcgissim.AccountKey(arcgissim.RealmPortal, testUser))
}

// TestAccountTwoDoorsOfOnePortal: www.arcgis.com and an organisation's URL,
// or a web adaptor and the portal's own port, are one account.
func TestAccountTwoDoorsOfOnePortal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) { c.PortalAliases = []string{"/arcgis"} }))
	org := h.token("org", arcgisv1alpha1.ServiceTypePortal)
	org.Spec.URL = h.sim.HostURL(arcgissim.HostLocalhost) + "/arcgis"
	h.wrongPasswords(3, h.token("www", arcgisv1alpha1.ServiceTypePortal), org)
	h.checkAccount(arcgissim.AccountKey(arcgissim.RealmPortal, testUser))
	if n := h.sim.Counters().RequestsByDoor["localhost/arcgis"]; n == 0 {
		t.Errorf("no request through the org's door")
	}
}

// TestAccountUnknownLoginWording: two tokens of one account, refused in
// words the classifier did not know ("The user name or password is
// incorrect.", and a lock-out worded "temporarily suspended").
func TestAccountUnknownLoginWording(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSim(func(c *arcgissim.Config) {
		c.Wording = arcgissim.Wording{LoginFailure: arcgissim.LoginWordingIncorrect, Lockout: arcgissim.LockoutWordingUnknown}
	}))
	fed := h.token("federated", arcgisv1alpha1.ServiceTypeFederated)
	h.wrongPasswords(0, h.token("portal", arcgisv1alpha1.ServiceTypePortal), fed)
	h.checkAccount(arcgissim.AccountKey(arcgissim.RealmPortal, testUser))
}

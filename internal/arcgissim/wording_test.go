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

package arcgissim

import (
	"net/http"
	"testing"
	"time"
)

func TestLoginWordings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		wording     Wording
		status      int // HTTP status of a failed login
		code        int
		message     string
		details     []string
		lockDetails []string
	}{
		{Wording{}, 200, 400, msgUnableToGenerate, []string{detailInvalidCredentials}, []string{lockedDetail}},
		{Wording{LoginFailure: LoginWordingStandard, Lockout: LockoutWordingStandard}, 200, 400, msgUnableToGenerate, []string{detailInvalidCredentials}, []string{lockedDetail}},
		{Wording{LoginFailure: LoginWordingIncorrect}, 200, 400, msgUnableToGenerate, []string{"The user name or password is incorrect."}, []string{lockedDetail}},
		{Wording{LoginFailure: LoginWordingInvalidCredentials}, 200, 401, "Invalid credentials", nil, []string{lockedDetail}},
		{Wording{LoginFailure: LoginWordingHTTP401}, 401, 401, "Unauthorized access", nil, []string{lockedDetail}},
		{Wording{Lockout: LockoutWordingUnknown}, 200, 400, msgUnableToGenerate, []string{detailInvalidCredentials}, []string{"This account has been temporarily suspended."}},
	} {
		t.Run(string(tc.wording.LoginFailure)+"/"+string(tc.wording.Lockout), func(t *testing.T) {
			t.Parallel()
			h := start(t, Config{Wording: tc.wording})
			for _, path := range []string{pGenerate, pServerTokens} {
				// Four failures in the wording, the fifth too, and it locks
				// exactly as with the standard wording.
				for i := range 5 {
					r := h.post(path, login("alice", "wrong"))
					if r.status != tc.status {
						t.Fatalf("%s failure %d: HTTP %d, want %d", path, i+1, r.status, tc.status)
					}
					wantError(t, r, tc.code, tc.message, tc.details...)
					h.clock.Step(time.Second)
				}
				wantError(t, h.post(path, login("alice", alicePW)), 400, msgUnableToGenerate, tc.lockDetails...)
			}
			c := h.sim.Counters()
			for _, realm := range []string{RealmPortal, RealmServer} {
				if got := len(c.LoginAttempts[AccountKey(realm, "alice")]); got != 6 {
					t.Errorf("%s: %d attempts, want 6", realm, got)
				}
			}
			if got := c.Requests[EndpointPortalGenerateToken]; got[OutcomeInvalidCredentials] != 5 || got[OutcomeAccountLocked] != 1 {
				t.Errorf("counted %v", got)
			}
		})
	}
}

func TestWordingPerEndpoint(t *testing.T) {
	t.Parallel()
	h := start(t, Config{
		Wording:   Wording{LoginFailure: LoginWordingIncorrect},
		WordingAt: map[string]Wording{EndpointAdminGenerateToken: {LoginFailure: LoginWordingInvalidCredentials}},
	})
	wantError(t, h.post(pGenerate, login("alice", "wrong")), 400, msgUnableToGenerate, detailIncorrectCredentials)
	wantAdminError(t, h.post(pAdminGenerate, login("alice", "wrong")), 401, msgInvalidCredentials)

	// At run time: the server endpoint alone, then the global one.
	if err := h.sim.SetWording(EndpointServerGenerateToken, Wording{LoginFailure: LoginWordingHTTP401, Lockout: LockoutWordingUnknown}); err != nil {
		t.Fatal(err)
	}
	if r := h.post(pServerTokens, login("bob", "wrong")); r.status != http.StatusUnauthorized {
		t.Errorf("server: HTTP %d, want 401", r.status)
	}
	wantError(t, h.post(pGenerate, login("bob", "wrong")), 400, msgUnableToGenerate, detailIncorrectCredentials)
	if err := h.sim.SetWording("", Wording{}); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.post(pGenerate, login("bob", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	// A zero wording at an endpoint removes its override.
	if err := h.sim.SetWording(EndpointAdminGenerateToken, Wording{}); err != nil {
		t.Fatal(err)
	}
	wantAdminError(t, h.post(pAdminGenerate, login("bob", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	want := Wording{LoginFailure: LoginWordingHTTP401, Lockout: LockoutWordingUnknown}
	if got := h.sim.Wordings()[EndpointServerGenerateToken]; got != want {
		t.Errorf("Wordings()[server] = %+v, want %+v", got, want)
	}

	for name, set := range map[string]func() error{
		"not a login endpoint": func() error { return h.sim.SetWording(EndpointPortalSelf, Wording{}) },
		"unknown wording":      func() error { return h.sim.SetWording("", Wording{LoginFailure: "rude"}) },
		"unknown lock-out":     func() error { return h.sim.SetWording("", Wording{Lockout: "rude"}) },
	} {
		if set() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{WordingAt: map[string]Wording{"portal": {}}}); err == nil {
		t.Error("New accepted a wording for a non-endpoint")
	}

	// Over the control API.
	if r := h.control(http.MethodPost, "/__sim/wording", `{"endpoint":"portal/generateToken","loginFailure":"invalidCredentials"}`); r.status != http.StatusNoContent {
		t.Fatalf("POST /__sim/wording: HTTP %d %s", r.status, r.raw)
	}
	wantError(t, h.post(pGenerate, login("bob", "wrong")), 401, msgInvalidCredentials)
	if r := h.control(http.MethodPost, "/__sim/wording", `{"loginFailure":"rude"}`); r.status != http.StatusBadRequest {
		t.Errorf("a bad wording over the control API: HTTP %d", r.status)
	}
	if r := h.control(http.MethodGet, "/__sim/wording", ""); r.status != http.StatusOK {
		t.Errorf("GET /__sim/wording: HTTP %d", r.status)
	}
}

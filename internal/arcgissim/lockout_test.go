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
	"fmt"
	"testing"
	"time"
)

var lockedDetail = fmt.Sprintf(lockedTemplate, DefaultLockoutMinutes)

func TestLockout(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	fail := func(path string) {
		t.Helper()
		wantError(t, h.post(path, login("alice", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	}

	// Four failures, then a success that resets the count: four more
	// failures do not lock either.
	for range 4 {
		fail(pGenerate)
		h.clock.Step(time.Minute)
	}
	h.portalToken()
	for range 4 {
		fail(pGenerate)
		h.clock.Step(time.Minute)
	}
	h.portalToken()

	// Failures that fall out of the 15-minute window are forgotten.
	for range 4 {
		fail(pGenerate)
	}
	h.clock.Step(15 * time.Minute)
	for range 4 {
		fail(pGenerate)
	}
	h.portalToken()

	// The fifth failure within 15 minutes locks the account; it is still
	// answered as a bad password.
	for range 5 {
		fail(pGenerate)
		h.clock.Step(time.Second)
	}
	lockedAt := h.clock.Now().Add(-time.Second)
	locked := func() {
		t.Helper()
		wantError(t, h.post(pGenerate, login("alice", alicePW)), 400, msgUnableToGenerate, lockedDetail)
	}
	locked()
	wantError(t, h.post(pGenerate, login("alice", "wrong")), 400, msgUnableToGenerate, lockedDetail)

	// The server locks separately, and bob is not affected.
	h.serverToken()
	wantToken(t, h.post(pGenerate, login("bob", bobPW)), true)

	// A new password does not unlock; attempts while locked do not extend the lock.
	h.sim.SetUser("alice", "new-password")
	h.clock.SetTime(lockedAt.Add(15*time.Minute - time.Millisecond))
	locked()
	h.clock.SetTime(lockedAt.Add(15 * time.Minute))
	wantToken(t, h.post(pGenerate, login("alice", "new-password")), true)

	c := h.sim.Counters()
	key := AccountKey(RealmPortal, "alice")
	if got := len(c.LoginAttempts[key]); got != 4+1+4+1+4+4+1+5+3+1 {
		t.Errorf("%d attempts recorded for %s, want 28", got, key)
	}
	if got := c.Requests[EndpointPortalGenerateToken][OutcomeAccountLocked]; got != 3 {
		t.Errorf("%d AccountLocked outcomes, want 3", got)
	}
	// The hammering shows: 14 attempts fell within the first 15 minutes.
	if got := c.MaxLoginAttemptsWithin(key, 15*time.Minute); got != 14 {
		t.Errorf("MaxLoginAttemptsWithin = %d, want 14", got)
	}
	for _, a := range c.LoginAttempts[key] {
		if a.At.Before(t0) || a.At.After(h.clock.Now()) {
			t.Fatalf("attempt at %v is not on the simulated clock", a.At)
		}
	}
}

func TestLockoutServerRealm(t *testing.T) {
	t.Parallel()
	h := start(t, Config{LockoutAttempts: 3, LockoutMinutes: 10})
	for range 3 {
		wantError(t, h.post(pServerTokens, login("alice", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	}
	detail := fmt.Sprintf(lockedTemplate, 10)
	// The tokens endpoint and the admin API share the server's accounts.
	wantError(t, h.post(pServerTokens, login("alice", alicePW)), 400, msgUnableToGenerate, detail)
	wantAdminError(t, h.post(pAdminGenerate, login("alice", alicePW)), 400, msgUnableToGenerate, detail)
	h.portalToken()
	h.clock.Step(10 * time.Minute)
	h.serverToken()
}

func TestLockoutIgnoresOtherUsernames(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	// Wrong case is another (unknown) account: alice does not lock.
	for range 10 {
		wantError(t, h.post(pGenerate, login("Alice", alicePW)), 400, msgUnableToGenerate, detailInvalidCredentials)
	}
	h.portalToken()
	c := h.sim.Counters()
	if got := len(c.LoginAttempts[AccountKey(RealmPortal, "Alice")]); got != 10 {
		t.Errorf("%d attempts for Alice, want 10", got)
	}
	if got := c.MaxLoginAttemptsWithin(AccountKey(RealmPortal, "Alice"), time.Minute); got != 10 {
		t.Errorf("MaxLoginAttemptsWithin = %d, want 10", got)
	}
}

func TestMaxLoginAttemptsWithin(t *testing.T) {
	t.Parallel()
	at := func(minutes ...int) []LoginAttempt {
		var out []LoginAttempt
		for _, m := range minutes {
			out = append(out, LoginAttempt{At: t0.Add(time.Duration(m) * time.Minute)})
		}
		return out
	}
	for _, tc := range []struct {
		minutes []int
		want    int
	}{
		{nil, 0},
		{[]int{0}, 1},
		{[]int{0, 15, 30, 45}, 1},
		{[]int{0, 14, 15, 16}, 3},
		{[]int{30, 0, 10, 20}, 2},
		{[]int{0, 1, 2, 3, 20, 21, 22, 23, 24}, 5},
	} {
		c := Counters{LoginAttempts: map[string][]LoginAttempt{"portal/x": at(tc.minutes...)}}
		if got := c.MaxLoginAttemptsWithin("portal/x", 15*time.Minute); got != tc.want {
			t.Errorf("%v: got %d, want %d", tc.minutes, got, tc.want)
		}
	}
}

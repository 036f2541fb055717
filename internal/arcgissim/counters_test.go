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
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestCountersExact(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})

	a := h.portalToken()
	h.portalToken()
	h.portalToken()
	h.post(pGenerate, login("alice", "wrong"))
	h.do(req{method: http.MethodGet, path: pGenerate})
	h.do(req{path: pGenerate + "?username=alice&password=x", form: url.Values{}})
	h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(a.token)})
	h.do(req{method: http.MethodGet, path: pSelf + "?token=" + a.token})
	h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader("bad..")})
	h.do(req{method: http.MethodGet, path: pServices})
	h.serverToken()
	h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	h.do(req{method: http.MethodGet, path: "/nowhere"})
	h.clock.Step(time.Minute)
	h.post(pAdminGenerate, login("bob", bobPW))

	c := h.sim.Counters()
	want := map[string]map[string]int{
		EndpointPortalGenerateToken: {OutcomeOK: 3, OutcomeInvalidCredentials: 1, OutcomeMethodNotSupported: 2},
		EndpointPortalSelf:          {OutcomeOK: 2, OutcomeInvalidToken: 1},
		EndpointServerServices:      {OutcomeTokenRequired: 1},
		EndpointServerGenerateToken: {OutcomeOK: 1},
		EndpointOAuthToken:          {OutcomeOK: 1},
		EndpointAdminGenerateToken:  {OutcomePermissionDenied: 1},
		EndpointUnknown:             {OutcomeNotFound: 1},
	}
	if !reflect.DeepEqual(c.Requests, want) {
		t.Errorf("Requests\n got %v\nwant %v", c.Requests, want)
	}
	if want := map[string]int{"portal": 3, "server": 1, "oauth": 1}; !reflect.DeepEqual(c.TokensIssued, want) {
		t.Errorf("TokensIssued = %v, want %v", c.TokensIssued, want)
	}
	at := func(minutes int, outcome string) LoginAttempt {
		return LoginAttempt{At: t0.Add(time.Duration(minutes) * time.Minute), Outcome: outcome}
	}
	wantAttempts := map[string][]LoginAttempt{
		"portal/alice": {at(0, OutcomeOK), at(0, OutcomeOK), at(0, OutcomeOK), at(0, OutcomeInvalidCredentials)},
		"server/alice": {at(0, OutcomeOK)},
		"server/bob":   {at(1, OutcomeOK)},
		"oauth/app1":   {at(0, OutcomeOK)},
	}
	if !reflect.DeepEqual(c.LoginAttempts, wantAttempts) {
		t.Errorf("LoginAttempts\n got %v\nwant %v", c.LoginAttempts, wantAttempts)
	}
	if c.TokenInQuery != 1 || c.CredentialsInQuery != 1 || c.InFlight != 0 || c.PeakInFlight != 1 {
		t.Errorf("TokenInQuery %d, CredentialsInQuery %d, InFlight %d, PeakInFlight %d; want 1, 1, 0, 1",
			c.TokenInQuery, c.CredentialsInQuery, c.InFlight, c.PeakInFlight)
	}
	if got := c.Total(EndpointPortalGenerateToken); got != 6 {
		t.Errorf("Total = %d, want 6", got)
	}

	// A snapshot is a copy.
	c.Requests[EndpointPortalSelf][OutcomeOK] = 100
	c.LoginAttempts["portal/alice"][0].Outcome = "changed"
	if again := h.sim.Counters(); again.Requests[EndpointPortalSelf][OutcomeOK] != 2 || again.LoginAttempts["portal/alice"][0].Outcome != OutcomeOK {
		t.Error("modifying a snapshot changed the counters")
	}

	h.sim.ResetCounters()
	empty := Counters{Requests: map[string]map[string]int{}, LoginAttempts: map[string][]LoginAttempt{}, TokensIssued: map[string]int{}, RequestsByDoor: map[string]int{}}
	if got := h.sim.Counters(); !reflect.DeepEqual(got, empty) {
		t.Errorf("after ResetCounters: %+v", got)
	}
}

func TestPeakConcurrency(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	if err := h.sim.InjectFault(Fault{Endpoint: EndpointServerInfo, Kind: FaultDelay, Delay: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	fire := func(client *http.Client, n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if r := h.do(req{method: http.MethodGet, path: pServerInfo, client: client}); r.body == nil {
					t.Errorf("HTTP %d: %s", r.status, r.raw)
				}
			})
		}
		wg.Wait()
	}

	const n = 24
	fire(nil, n)
	if c := h.sim.Counters(); c.PeakInFlight != n || c.InFlight != 0 {
		t.Errorf("PeakInFlight %d, InFlight %d; want %d, 0", c.PeakInFlight, c.InFlight, n)
	}

	// A client limited to 4 connections per host shows as a peak of 4.
	h.sim.ClearFaults()
	if err := h.sim.InjectFault(Fault{Endpoint: EndpointServerInfo, Kind: FaultDelay, Delay: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetCounters()
	limited := newClient(t, h.sim.CAPEM(), nil)
	limited.Transport.(*http.Transport).MaxConnsPerHost = 4
	t.Cleanup(limited.CloseIdleConnections)
	fire(limited, 12)
	if c := h.sim.Counters(); c.PeakInFlight != 4 {
		t.Errorf("PeakInFlight %d with 4 connections, want 4", c.PeakInFlight)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	tokens := h.allKinds("60")
	h.sim.SetUser("alice", "rotated-pw")
	h.sim.SetApp("app2", "app2-secret")
	h.post(pGenerate, login("alice", "a-wrong-guess"))

	secrets := h.sim.Secrets()
	for _, want := range []string{alicePW, bobPW, appSecret, "rotated-pw", "app2-secret"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets lacks a configured secret")
		}
	}
	for kind, tok := range tokens {
		if !slices.Contains(secrets, tok) {
			t.Errorf("Secrets lacks the %s token", kind)
		}
	}
	if slices.Contains(secrets, "a-wrong-guess") {
		t.Error("Secrets contains a password that was never configured")
	}
	if want := 5 + len(tokens); len(secrets) != want {
		t.Errorf("%d secrets, want %d", len(secrets), want)
	}
}

func TestUserAndAppManagement(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	h.sim.SetUser("carol", "carol-pw")
	wantToken(t, h.post(pGenerate, login("carol", "carol-pw")), true)
	h.sim.SetUser("carol", "")
	wantError(t, h.post(pGenerate, login("carol", "carol-pw")), 400, msgUnableToGenerate, detailInvalidCredentials)

	oauth := url.Values{"client_id": {"app2"}, "client_secret": {"s2"}, "grant_type": {"client_credentials"}}
	h.sim.SetApp("app2", "s2")
	if r := h.post(pOAuth, oauth); r.body["access_token"] == nil {
		t.Fatalf("new app refused: %s", r.raw)
	}
	h.sim.SetApp("app2", "")
	if r := h.post(pOAuth, oauth); r.body["access_token"] != nil {
		t.Fatal("deleted app got a token")
	}
}

func TestManyConcurrentTokens(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	const workers, perWorker = 32, 40
	var mu sync.Mutex
	seen := make(map[string]bool)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				r, err := h.try(req{path: pGenerate, form: login("alice", alicePW, "expiration", fmt.Sprint(1+(w*perWorker+i)%600))})
				if err != nil || r.body["token"] == nil {
					t.Errorf("worker %d: %v %s", w, err, r.raw)
					return
				}
				mu.Lock()
				seen[r.body["token"].(string)] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*perWorker {
		t.Fatalf("%d distinct tokens, want %d", len(seen), workers*perWorker)
	}
	for tok := range seen { // one sample suffices
		if r := h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(tok)}); r.body["user"] == nil {
			t.Fatalf("issued token refused: %s", r.raw)
		}
		break
	}
	if c := h.sim.Counters(); c.TokensIssued["portal"] != workers*perWorker || c.PeakInFlight < 2 {
		t.Errorf("TokensIssued %v, PeakInFlight %d", c.TokensIssued, c.PeakInFlight)
	}
}

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
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		fault       Fault
		status      int
		contentType string
		contains    string
		retryAfter  string
	}{
		{"HTML error page", Fault{Kind: FaultHTMLError}, 200, "text/html", "Could not access any server machines", ""},
		{"HTML error page with a status", Fault{Kind: FaultHTMLError, Status: 502}, 502, "text/html", "Could not access any server machines", ""},
		{"HTML login page", Fault{Kind: FaultHTMLLogin}, 200, "text/html", "<form", ""},
		{"HTML Invalid Token page", Fault{Kind: FaultHTMLInvalidToken}, 200, "text/html", "Invalid Token", ""},
		{"5xx", Fault{Kind: FaultStatus, Status: 503, RetryAfter: 1500 * time.Millisecond}, 503, "text/html", "503 Service Unavailable", "2"},
		{"429", Fault{Kind: FaultStatus, Status: 429}, 429, "text/html", "Too Many Requests", ""},
		{"SSL Required", Fault{Kind: FaultJSON, Body: SSLRequiredBody}, 200, "application/json", SSLRequiredBody, ""},
		{"permission denied", Fault{Kind: FaultJSON, Body: PermissionDeniedBody, Status: 403, RetryAfter: time.Minute}, 403, "application/json", PermissionDeniedBody, "60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, Config{})
			tc.fault.Endpoint = EndpointPortalGenerateToken
			if err := h.sim.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			r := h.post(pGenerate, login("alice", alicePW))
			if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), tc.contentType) || !strings.Contains(r.raw, tc.contains) {
				t.Fatalf("got HTTP %d %q %q", r.status, r.header.Get("Content-Type"), r.raw)
			}
			if got := r.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			// Until cleared: the fault fires again, and not elsewhere.
			if r := h.post(pGenerate, login("alice", alicePW)); r.status != tc.status || !strings.Contains(r.raw, tc.contains) {
				t.Errorf("second request not faulted: %s", r.raw)
			}
			h.serverToken()
			h.sim.ClearFaults()
			h.portalToken()
			outcome := OutcomeFaultPrefix + string(tc.fault.Kind)
			if got := h.sim.Counters().Requests[EndpointPortalGenerateToken]; got[outcome] != 2 || got[OutcomeOK] != 1 {
				t.Errorf("counted %v, want 2 %s and 1 ok", got, outcome)
			}
			// No login happened while the fault answered.
			if got := len(h.sim.Counters().LoginAttempts[AccountKey(RealmPortal, "alice")]); got != 1 {
				t.Errorf("%d login attempts, want 1", got)
			}
		})
	}
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	if err := h.sim.InjectFault(Fault{Endpoint: "server", Kind: FaultDrop, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.try(req{method: http.MethodGet, path: pServerInfo}); err == nil {
		t.Fatal("request on a dropped connection succeeded")
	}
	if r := h.do(req{method: http.MethodGet, path: pServerInfo}); r.body == nil {
		t.Fatalf("after the drop: HTTP %d %s", r.status, r.raw)
	}
	want := map[string]int{OutcomeFaultPrefix + string(FaultDrop): 1, OutcomeOK: 1}
	if got := h.sim.Counters().Requests[EndpointServerInfo]; !equalCounts(got, want) {
		t.Errorf("counted %v, want %v", got, want)
	}
}

func TestFaultCountAndSelection(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	for _, f := range []Fault{
		{Endpoint: EndpointServerServices, Kind: FaultStatus, Status: 502, Count: 2},
		{Endpoint: "server", Kind: FaultHTMLLogin, Count: 1},
		{Endpoint: "", Kind: FaultStatus, Status: 504, Count: 1},
	} {
		if err := h.sim.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	status := func(path string) int {
		return h.do(req{method: http.MethodGet, path: path}).status
	}
	// Injection order decides: services takes its own fault twice, then the
	// "server" one (a login page), then the catch-all, then nothing (a 499).
	for i, want := range []int{502, 502, 200, 504, 200} {
		if got := status(pServices); got != want {
			t.Errorf("request %d: HTTP %d, want %d", i, got, want)
		}
	}
	want := map[string]int{OutcomeFaultPrefix + "status": 3, OutcomeFaultPrefix + "htmlLogin": 1, OutcomeTokenRequired: 1}
	if got := h.sim.Counters().Requests[EndpointServerServices]; !equalCounts(got, want) {
		t.Errorf("counted %v, want %v", got, want)
	}
	if got := h.sim.Faults(); len(got) != 0 {
		t.Errorf("faults left: %v", got)
	}
	if got := status(pPortalInfo); got != 200 {
		t.Errorf("portal info: HTTP %d", got)
	}

	if err := h.sim.InjectFault(Fault{Endpoint: "portal", Kind: FaultStatus, Status: 500, Count: 3}); err != nil {
		t.Fatal(err)
	}
	status(pSelf)
	if got := h.sim.Faults(); len(got) != 1 || got[0].Count != 2 {
		t.Errorf("Faults() = %+v, want one with 2 uses left", got)
	}
	if got := status(pServerInfo); got != 200 {
		t.Errorf("server info under a portal fault: HTTP %d", got)
	}
}

func TestInjectFaultValidation(t *testing.T) {
	t.Parallel()
	sim, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]Fault{
		"unknown kind":       {Kind: "explode"},
		"unknown endpoint":   {Endpoint: "portal/generatetoken", Kind: FaultDrop},
		"partial segment":    {Endpoint: "port", Kind: FaultDrop},
		"status without 4xx": {Kind: FaultStatus, Status: 302},
		"no status":          {Kind: FaultStatus},
		"no delay":           {Kind: FaultDelay},
		"invalid JSON":       {Kind: FaultJSON, Body: "{"},
		"negative count":     {Kind: FaultDrop, Count: -1},
		"bogus status":       {Kind: FaultJSON, Body: "{}", Status: 42},
	} {
		if err := sim.InjectFault(f); err == nil {
			t.Errorf("%s: accepted %+v", name, f)
		}
	}
	if got := sim.Faults(); len(got) != 0 {
		t.Errorf("invalid faults were kept: %v", got)
	}
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	const delay = 150 * time.Millisecond
	if err := h.sim.InjectFault(Fault{Endpoint: EndpointPortalGenerateToken, Kind: FaultDelay, Delay: delay, Count: 1}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	h.portalToken()
	if took := time.Since(began); took < delay {
		t.Errorf("delayed request took %v, want at least %v", took, delay)
	}
	if got := h.sim.Counters().Requests[EndpointPortalGenerateToken]; !equalCounts(got, map[string]int{OutcomeOK: 1}) {
		t.Errorf("counted %v, want one ok", got)
	}
}

func TestFaultDelayRespectsCancellation(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	if err := h.sim.InjectFault(Fault{Kind: FaultDelay, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := h.try(req{method: http.MethodGet, path: pServerInfo, ctx: ctx}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("cancellation took %v", took)
	}
	waitFor(t, func() bool { return h.sim.Counters().InFlight == 0 })
	if got := h.sim.Counters().Requests[EndpointServerInfo]; !equalCounts(got, map[string]int{OutcomeCanceled: 1}) {
		t.Errorf("counted %v, want one Canceled", got)
	}
}

func TestCloseAbandonsDelayedRequests(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	if err := h.sim.InjectFault(Fault{Kind: FaultDelay, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var reqErr error
	wg.Go(func() {
		_, reqErr = h.try(req{method: http.MethodGet, path: pServerInfo})
	})
	waitFor(t, func() bool { return h.sim.Counters().InFlight == 1 })
	began := time.Now()
	if err := h.sim.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close took %v with a delayed request", took)
	}
	wg.Wait()
	if reqErr == nil {
		t.Error("the delayed request got an answer")
	}
}

// waitFor polls cond for up to five seconds; used only for what a request's
// goroutine does after its client has given up.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestProbeFaults: every endpoint the operator probes can fail with the
// statuses a web tier, a WAF or a sick server sends, while token issuance
// keeps working, and each answer is counted at its endpoint.
func TestProbeFaults(t *testing.T) {
	t.Parallel()
	probes := map[string]string{
		EndpointPortalSelf:     pSelf,
		EndpointCommunitySelf:  "/portal/sharing/rest/community/self",
		EndpointServerServices: pServices,
		EndpointAdmin:          pAdmin,
	}
	for _, f := range []struct {
		name        string
		fault       Fault
		contentType string
		body        string
	}{
		{"401", Fault{Kind: FaultStatus, Status: 401}, "text/html", "401 Unauthorized"},
		{"403 WAF HTML", Fault{Kind: FaultStatus, Status: 403, Body: WAFForbiddenHTML}, "text/html", "web application firewall"},
		{"403 WAF JSON", Fault{Kind: FaultStatus, Status: 403, Body: WAFForbiddenJSON}, "application/json", "Request blocked by security policy"},
		{"403 ArcGIS JSON", Fault{Kind: FaultJSON, Status: 403, Body: PermissionDeniedBody}, "application/json", "GWM_0003"},
		{"500", Fault{Kind: FaultStatus, Status: 500}, "text/html", "500 Internal Server Error"},
		{"502", Fault{Kind: FaultStatus, Status: 502}, "text/html", "502 Bad Gateway"},
		{"503", Fault{Kind: FaultStatus, Status: 503, RetryAfter: 30 * time.Second}, "text/html", "503 Service Unavailable"},
	} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, Config{})
			for ep := range probes {
				fault := f.fault
				fault.Endpoint = ep
				if err := h.sim.InjectFault(fault); err != nil {
					t.Fatal(err)
				}
			}
			// Issuance is untouched, at the portal, the server and the admin API.
			portal := h.portalToken()
			server := h.serverToken()
			admin := wantAdminToken(t, h.post(pAdminGenerate, login("alice", alicePW)))
			wantToken(t, h.exchange(portal.token, h.sim.ServerURL(), nil), true)
			tokens := map[string]string{EndpointPortalSelf: portal.token, EndpointCommunitySelf: portal.token, EndpointServerServices: server.token, EndpointAdmin: admin.token}
			for ep, path := range probes {
				r := h.do(req{method: http.MethodGet, path: path, header: bearerHeader(tokens[ep])})
				if r.status != f.fault.Status || !strings.HasPrefix(r.header.Get("Content-Type"), f.contentType) || !strings.Contains(r.raw, f.body) {
					t.Errorf("%s: HTTP %d %q %q", ep, r.status, r.header.Get("Content-Type"), r.raw)
				}
				if f.fault.RetryAfter > 0 && r.header.Get("Retry-After") != "30" {
					t.Errorf("%s: Retry-After %q", ep, r.header.Get("Retry-After"))
				}
			}
			c := h.sim.Counters()
			for ep := range probes {
				if got := c.Requests[ep][OutcomeFaultPrefix+string(f.fault.Kind)]; got != 1 {
					t.Errorf("%s: fault counted %d times, want 1 (%v)", ep, got, c.Requests[ep])
				}
			}
			for _, ep := range []string{EndpointPortalGenerateToken, EndpointServerGenerateToken, EndpointAdminGenerateToken} {
				if got := c.Requests[ep]; got[OutcomeOK] == 0 || len(got) != 1 {
					t.Errorf("%s: %v, want only successes", ep, got)
				}
			}
		})
	}
}

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
	"net/url"
	"strings"
	"testing"
	"time"
)

// dateOf parses a response's Date header.
func dateOf(t *testing.T, r response) time.Time {
	t.Helper()
	d, err := http.ParseTime(r.header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", r.header.Get("Date"), err)
	}
	return d
}

func TestDateHeaderFollowsTheServiceClock(t *testing.T) {
	t.Parallel()
	h := start(t, Config{ClockOffset: 2 * time.Second})
	// Every kind of answer: success, error, 404, a fault, the control API.
	if err := h.sim.InjectFault(Fault{Endpoint: EndpointServerInfo, Kind: FaultStatus, Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]req{
		"token":     {path: pGenerate, form: login("alice", alicePW)},
		"error":     {path: pGenerate, form: login("alice", "wrong")},
		"not found": {method: http.MethodGet, path: "/nowhere"},
		"fault":     {method: http.MethodGet, path: pServerInfo},
		"control":   {method: http.MethodGet, path: "/__sim/counters"},
	} {
		if got, want := dateOf(t, h.do(r)), t0.Add(2*time.Second); !got.Equal(want) {
			t.Errorf("%s: Date %v, want the service clock %v (fake clock + 2 s)", name, got, want)
		}
	}
	h.sim.SetClockOffset(-2 * time.Minute)
	h.clock.Step(time.Hour)
	if got, want := dateOf(t, h.do(req{method: http.MethodGet, path: pPortalInfo})), t0.Add(time.Hour-2*time.Minute); !got.Equal(want) {
		t.Errorf("after SetClockOffset(-2m): Date %v, want %v", got, want)
	}
}

func TestClockOffset(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{2 * time.Second, -2 * time.Second, 2 * time.Minute, -2 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			t.Parallel()
			h := start(t, Config{ClockOffset: offset})
			if h.sim.ClockOffset() != offset || !h.sim.ServiceNow().Equal(t0.Add(offset)) {
				t.Fatalf("ClockOffset %v ServiceNow %v", h.sim.ClockOffset(), h.sim.ServiceNow())
			}
			// expires is on the service clock, in every shape.
			if got, want := h.portalToken("expiration", "60").expires, t0.Add(offset+time.Hour); !got.Equal(want) {
				t.Errorf("portal expires %v, want %v", got, want)
			}
			if got, want := h.serverToken().expires, t0.Add(offset+time.Hour); !got.Equal(want) {
				t.Errorf("server expires %v, want %v", got, want)
			}
			if got, want := wantAdminToken(t, h.post(pAdminGenerate, login("alice", alicePW))).expires, t0.Add(offset+time.Hour); !got.Equal(want) {
				t.Errorf("admin expires %v, want %v", got, want)
			}
			// Expiry on use follows the service clock: a 60-minute token
			// dies when the service's clock reaches its expiry.
			tok := h.portalToken("expiration", "60")
			use := func() response {
				return h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(tok.token)})
			}
			h.clock.SetTime(tok.expires.Add(-offset - time.Millisecond))
			if r := use(); r.body["user"] == nil {
				t.Fatalf("token refused 1 ms before its expiry on the service clock: %s", r.raw)
			}
			h.clock.SetTime(tok.expires.Add(-offset))
			wantError(t, use(), 498, msgInvalidToken, detailTokenExpired)
		})
	}
}

func TestClockOffsetLockoutAndCounters(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	for range 5 {
		h.post(pGenerate, login("alice", "wrong"))
	}
	// The lock lasts 15 minutes of service time: moving the service clock
	// ahead ends it without the test clock moving.
	wantError(t, h.post(pGenerate, login("alice", alicePW)), 400, msgUnableToGenerate, lockedDetail)
	h.sim.SetClockOffset(15 * time.Minute)
	h.portalToken()
	// Counters keep the test's clock.
	for _, a := range h.sim.Counters().LoginAttempts[AccountKey(RealmPortal, "alice")] {
		if !a.At.Equal(t0) {
			t.Errorf("attempt at %v, want the test clock's %v", a.At, t0)
		}
	}
}

func TestControlClock(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	if r := h.control(http.MethodPost, "/__sim/clock", `{"offset":"-90s"}`); r.status != http.StatusOK {
		t.Fatalf("POST /__sim/clock: HTTP %d %s", r.status, r.raw)
	}
	if h.sim.ClockOffset() != -90*time.Second {
		t.Fatalf("offset %v, want -90s", h.sim.ClockOffset())
	}
	if r := h.control(http.MethodGet, "/__sim/clock", ""); r.status != http.StatusOK || !strings.Contains(r.raw, `"offset":"-1m30s"`) {
		t.Errorf("GET /__sim/clock: %s", r.raw)
	}
	if r := h.control(http.MethodPost, "/__sim/clock", `{"offset":"soon"}`); r.status != http.StatusBadRequest {
		t.Errorf("a bad offset: HTTP %d", r.status)
	}
	if got := dateOf(t, h.do(req{path: pGenerate, form: url.Values{}})); !got.Equal(t0.Add(-90 * time.Second)) {
		t.Errorf("Date %v after the control call", got)
	}
}

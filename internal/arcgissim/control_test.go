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
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// control calls the control API with an optional JSON body.
func (h *harness) control(method, path, body string) response {
	h.t.Helper()
	hr, err := http.NewRequest(method, h.sim.URL()+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, raw: buf.String()}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	status := func(want int, r response) {
		t.Helper()
		if r.status != want {
			t.Fatalf("HTTP %d, want %d: %s", r.status, want, r.raw)
		}
	}

	index := h.control(http.MethodGet, "/__sim/", "")
	status(http.StatusOK, index)
	if !strings.Contains(index.raw, h.sim.PortalURL()) {
		t.Errorf("index lacks the portal URL: %s", index.raw)
	}

	// Users and apps.
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/users", `{"username":"carol","password":"carol-pw"}`))
	carol := wantToken(t, h.post(pGenerate, login("carol", "carol-pw")), true)
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/apps", `{"clientId":"app2","clientSecret":"s2"}`))
	if r := h.post(pOAuth, url.Values{"client_id": {"app2"}, "client_secret": {"s2"}, "grant_type": {"client_credentials"}}); r.body["access_token"] == nil {
		t.Fatalf("app2 refused: %s", r.raw)
	}
	status(http.StatusBadRequest, h.control(http.MethodPost, "/__sim/users", `{"password":"x"}`))
	status(http.StatusBadRequest, h.control(http.MethodPost, "/__sim/users", `{"username":"x","pasword":"typo"}`))
	status(http.StatusBadRequest, h.control(http.MethodPost, "/__sim/apps", `{"clientSecret":"x"}`))

	// Faults.
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/faults",
		`{"endpoint":"portal/generateToken","kind":"status","status":503,"retryAfter":"2s","count":1}`))
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/faults", `{"endpoint":"server","kind":"delay","delay":"10ms"}`))
	listed := h.control(http.MethodGet, "/__sim/faults", "")
	var faults []Fault
	if err := json.Unmarshal([]byte(listed.raw), &faults); err != nil {
		t.Fatal(err)
	}
	want := []Fault{
		{Endpoint: EndpointPortalGenerateToken, Kind: FaultStatus, Status: 503, RetryAfter: 2e9, Count: 1},
		{Endpoint: "server", Kind: FaultDelay, Delay: 1e7},
	}
	if !slices.Equal(faults, want) {
		t.Errorf("faults %+v, want %+v", faults, want)
	}
	if r := h.post(pGenerate, login("alice", alicePW)); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2" {
		t.Errorf("injected fault: HTTP %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	status(http.StatusBadRequest, h.control(http.MethodPost, "/__sim/faults", `{"kind":"explode"}`))
	status(http.StatusBadRequest, h.control(http.MethodPost, "/__sim/faults", `{"kind":"delay","delay":"soon"}`))
	status(http.StatusNoContent, h.control(http.MethodDelete, "/__sim/faults", ""))
	if got := h.sim.Faults(); len(got) != 0 {
		t.Errorf("faults after DELETE: %v", got)
	}

	// Revocation.
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/revoke", ""))
	wantError(t, h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(carol.token)}), 498, msgInvalidToken)

	// Counters, which do not count the control API itself.
	r := h.control(http.MethodGet, "/__sim/counters", "")
	status(http.StatusOK, r)
	var c Counters
	if err := json.Unmarshal([]byte(r.raw), &c); err != nil {
		t.Fatal(err)
	}
	wantRequests := map[string]map[string]int{
		EndpointPortalGenerateToken: {OutcomeOK: 1, OutcomeFaultPrefix + "status": 1},
		EndpointOAuthToken:          {OutcomeOK: 1},
		EndpointPortalSelf:          {OutcomeInvalidToken: 1},
	}
	if !jsonEqualAny(c.Requests, wantRequests) || c.LoginAttempts["portal/carol"][0].At != t0 {
		t.Errorf("counters over HTTP: %s", r.raw)
	}
	status(http.StatusNoContent, h.control(http.MethodPost, "/__sim/reset", ""))
	if got := h.sim.Counters(); len(got.Requests) != 0 || len(got.LoginAttempts) != 0 {
		t.Errorf("counters after reset: %+v", got)
	}

	// The CA and the secrets.
	if r := h.control(http.MethodGet, "/__sim/ca.pem", ""); r.raw != string(h.sim.CAPEM()) {
		t.Error("ca.pem differs from CAPEM")
	}
	var secrets []string
	if err := json.Unmarshal([]byte(h.control(http.MethodGet, "/__sim/secrets", "").raw), &secrets); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(secrets, "carol-pw") || !slices.Contains(secrets, carol.token) {
		t.Error("secrets over HTTP lack carol's password or token")
	}

	// Wrong methods and paths.
	status(http.StatusMethodNotAllowed, h.control(http.MethodGet, "/__sim/revoke", ""))
	status(http.StatusNotFound, h.control(http.MethodGet, "/__sim/nothing", ""))
	if got := h.sim.Counters(); len(got.Requests) != 0 {
		t.Errorf("the control API was counted: %v", got.Requests)
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	t.Parallel()
	f := Fault{Endpoint: "server", Kind: FaultStatus, Status: 503, RetryAfter: 1500e6, Count: 3}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"endpoint":"server","kind":"status","status":503,"retryAfter":"1.5s","count":3}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back Fault
	if err := json.Unmarshal(b, &back); err != nil || back != f {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// jsonEqualAny compares two values by their JSON encoding.
func jsonEqualAny(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

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
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTokenEndpointsRefuseGETAndQueryCredentials(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	oauth := url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}}

	for _, tc := range []struct {
		name     string
		r        req
		admin    bool
		detail   string
		credsInQ bool
	}{
		{name: "portal GET", r: req{method: http.MethodGet, path: pGenerate + "?f=json"}, detail: detailPostOnly},
		{name: "server GET", r: req{method: http.MethodGet, path: pServerTokens}, detail: detailPostOnly},
		{name: "admin GET", r: req{method: http.MethodGet, path: pAdminGenerate}, admin: true, detail: detailPostOnly},
		{name: "oauth GET", r: req{method: http.MethodGet, path: pOAuth}, detail: detailPostOnly},
		{name: "portal PUT", r: req{method: http.MethodPut, path: pGenerate, form: login("alice", alicePW)}, detail: detailPostOnly},
		{name: "portal credentials in query", r: req{path: pGenerate + "?" + login("alice", alicePW).Encode(), form: url.Values{}}, detail: detailQueryCredentials, credsInQ: true},
		{name: "portal GET with credentials", r: req{method: http.MethodGet, path: pGenerate + "?" + login("alice", alicePW).Encode()}, detail: detailQueryCredentials, credsInQ: true},
		{name: "portal password only in query", r: req{path: pGenerate + "?password=" + alicePW, form: url.Values{"username": {"alice"}}}, detail: detailQueryCredentials, credsInQ: true},
		{name: "server credentials in query", r: req{path: pServerTokens + "?username=alice&password=x", form: url.Values{}}, detail: detailQueryCredentials, credsInQ: true},
		{name: "admin credentials in query", r: req{path: pAdminGenerate + "?username=alice&password=x", form: url.Values{}}, admin: true, detail: detailQueryCredentials, credsInQ: true},
		{name: "oauth secret in query", r: req{path: pOAuth + "?" + oauth.Encode(), form: url.Values{}}, detail: detailQueryCredentials, credsInQ: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.sim.Counters().CredentialsInQuery
			r := h.do(tc.r)
			if r.status != http.StatusOK {
				t.Errorf("HTTP %d, want 200 (ArcGIS errors come with 200)", r.status)
			}
			if tc.admin {
				wantAdminError(t, r, 405, msgMethodNotSupported, tc.detail)
			} else {
				wantError(t, r, 405, msgMethodNotSupported, tc.detail)
			}
			delta := h.sim.Counters().CredentialsInQuery - before
			if want := map[bool]int{true: 1}[tc.credsInQ]; delta != want {
				t.Errorf("CredentialsInQuery grew by %d, want %d", delta, want)
			}
		})
	}
	// None of that was a login attempt.
	if n := len(h.sim.Counters().LoginAttempts); n != 0 {
		t.Errorf("%d accounts have login attempts, want none", n)
	}
}

func TestMissingParameters(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	both := []string{detailUsernameRequired, detailPasswordRequired}

	for _, tc := range []struct {
		name    string
		r       req
		details []string
	}{
		{"JSON body", req{path: pGenerate, form: login("alice", alicePW), contentType: "application/json"}, both},
		{"text body", req{path: pGenerate, form: login("alice", alicePW), contentType: "text/plain"}, both},
		{"no content type", req{path: pGenerate, form: login("alice", alicePW), contentType: "-"}, both},
		{"multipart", req{path: pServerTokens, form: login("alice", alicePW), contentType: "multipart/form-data; boundary=x"}, both},
		{"empty form", req{path: pGenerate, form: url.Values{}}, both},
		{"no username", req{path: pGenerate, form: url.Values{"password": {alicePW}}}, []string{detailUsernameRequired}},
		{"no password", req{path: pServerTokens, form: url.Values{"username": {"alice"}}}, []string{detailPasswordRequired}},
		{"referer binding without referer", req{path: pGenerate, form: login("alice", alicePW, "client", "referer")}, []string{detailRefererRequired}},
		{"ip binding without ip", req{path: pGenerate, form: login("alice", alicePW, "client", "ip")}, []string{detailIPRequired}},
		{"ip binding with a bad ip", req{path: pServerTokens, form: login("alice", alicePW, "client", "ip", "ip", "not-an-ip")}, []string{detailIPInvalid}},
		{"unknown client", req{path: pGenerate, form: login("alice", alicePW, "client", "cookie")}, []string{detailClientInvalid}},
		{"referrer outside the admin API", req{path: pGenerate, form: login("alice", alicePW, "client", "referrer", "referer", "x")}, []string{detailClientInvalid}},
		{"bad expiration", req{path: pGenerate, form: login("alice", alicePW, "expiration", "1h")}, []string{detailExpiration}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.do(tc.r), 400, msgUnableToGenerate, tc.details...)
		})
	}
	r := h.do(req{path: pAdminGenerate, form: login("alice", alicePW), contentType: "application/json"})
	wantAdminError(t, r, 400, msgUnableToGenerate, detailUsernameRequired, detailPasswordRequired)

	// Malformed requests are not login attempts, so they cannot lock anyone.
	if n := len(h.sim.Counters().LoginAttempts); n != 0 {
		t.Errorf("%d accounts have login attempts, want none", n)
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	h := start(t, Config{Users: map[string]string{"Admin": "upper-pw", "admin": "lower-pw"}})

	for _, tc := range []struct {
		name, path, user, password string
		ok                         bool
	}{
		{"Admin", pGenerate, "Admin", "upper-pw", true},
		{"admin", pGenerate, "admin", "lower-pw", true},
		{"Admin with admin's password", pGenerate, "Admin", "lower-pw", false},
		{"ADMIN", pGenerate, "ADMIN", "upper-pw", false},
		{"wrong password", pGenerate, "admin", "wrong", false},
		{"password case", pServerTokens, "admin", "LOWER-PW", false},
		{"unknown user", pServerTokens, "nobody", "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post(tc.path, login(tc.user, tc.password))
			if tc.ok {
				wantToken(t, r, tc.path == pGenerate)
				return
			}
			wantError(t, r, 400, msgUnableToGenerate, detailInvalidCredentials)
		})
	}
	wantAdminError(t, h.post(pAdminGenerate, login("admin", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
}

func TestBindingOnUse(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	// 127.0.0.2 is loopback too on Linux: a second client address.
	other := newClient(t, h.sim.CAPEM(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
	t.Cleanup(other.CloseIdleConnections)

	referer := h.serverToken("client", "referer", "referer", testReferer, "expiration", "600")
	ip := h.serverToken("client", "ip", "ip", "127.0.0.1")
	ipOther := h.serverToken("client", "ip", "ip", "127.0.0.2")
	requestIP := h.serverToken("client", "requestip")
	adminReferrer := wantAdminToken(t, h.post(pAdminGenerate, login("alice", alicePW, "client", "referrer", "referrer", "http")))
	unbound := h.serverToken()
	portalReferer := h.portalToken("client", "referer", "referer", testReferer)

	for _, tc := range []struct {
		name    string
		path    string
		token   string
		referer string
		client  *http.Client
		ok      bool
	}{
		{"referer matches", pServices, referer.token, testReferer, nil, true},
		{"referer differs", pServices, referer.token, "https://evil.example.com", nil, false},
		{"referer differs by case", pServices, referer.token, strings.ToUpper(testReferer), nil, false},
		{"referer with a trailing slash", pServices, referer.token, testReferer + "/", nil, false},
		{"referer missing", pServices, referer.token, "", nil, false},
		{"ip matches", pServices, ip.token, "", nil, true},
		{"ip from elsewhere", pServices, ip.token, "", other, false},
		{"other ip matches", pServices, ipOther.token, "", other, true},
		{"requestip matches", pServices, requestIP.token, "", nil, true},
		{"requestip from elsewhere", pServices, requestIP.token, "", other, false},
		{"admin referrer spelling", pServices, adminReferrer.token, "http", nil, true},
		{"admin referrer wrong", pServices, adminReferrer.token, "https", nil, false},
		{"unbound from anywhere", pServices, unbound.token, "anything", other, true},
		{"portal referer matches", pSelf, portalReferer.token, testReferer, nil, true},
		{"portal referer missing", pSelf, portalReferer.token, "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := bearerHeader(tc.token)
			if tc.referer != "" {
				hdr.Set("Referer", tc.referer)
			}
			r := h.do(req{method: http.MethodGet, path: tc.path, header: hdr, client: tc.client})
			if tc.ok {
				if r.body == nil || r.body["error"] != nil {
					t.Fatalf("refused: %s", r.raw)
				}
				return
			}
			wantError(t, r, 498, msgInvalidToken)
		})
	}
}

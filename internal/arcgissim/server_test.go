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

func TestServerInfo(t *testing.T) {
	t.Parallel()
	for _, standalone := range []bool{false, true} {
		h := start(t, Config{Standalone: standalone, ServerShortMinutes: 45})
		r := h.do(req{method: http.MethodGet, path: pServerInfo + "?f=json"})
		want := map[string]any{
			"currentVersion":  11.3,
			"fullVersion":     "11.3.0",
			"owningSystemUrl": h.sim.PortalURL(),
			"authInfo": map[string]any{
				"isTokenBasedSecurity":    true,
				"tokenServicesUrl":        h.sim.URL() + "/server/tokens/",
				"shortLivedTokenValidity": 45,
			},
		}
		if standalone {
			delete(want, "owningSystemUrl")
		}
		if !jsonEqual(r.body, want) {
			t.Errorf("standalone=%v: got %s, want %v", standalone, r.raw, want)
		}
	}
}

func TestServerServices(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	server := h.serverToken()
	admin := wantAdminToken(t, h.post(pAdminGenerate, login("alice", alicePW)))
	portal := h.portalToken()
	short := h.serverToken("expiration", "5")
	h.clock.Step(5 * time.Minute)

	for _, tc := range []struct {
		name    string
		r       req
		code    int
		details []string
	}{
		{name: "server token", r: req{method: http.MethodGet, path: pServices + "?f=json", header: bearerHeader(server.token)}},
		{name: "admin token", r: req{method: http.MethodGet, path: pServices, header: bearerHeader(admin.token)}},
		{name: "form field", r: req{path: pServices, form: url.Values{"token": {server.token}, "f": {"json"}}}},
		{name: "trailing slash and case", r: req{method: http.MethodGet, path: "/Server/REST/services/", header: bearerHeader(server.token)}},
		{name: "no token", r: req{method: http.MethodGet, path: pServices + "?f=json"}, code: 499, details: []string{msgTokenRequired}},
		{name: "token in an unread body", r: req{path: pServices, form: url.Values{"token": {server.token}}, contentType: "text/plain"}, code: 499, details: []string{msgTokenRequired}},
		{name: "garbage", r: req{method: http.MethodGet, path: pServices, header: bearerHeader("AAAA..")}, code: 498, details: []string{}},
		{name: "portal token", r: req{method: http.MethodGet, path: pServices, header: bearerHeader(portal.token)}, code: 498, details: []string{}},
		{name: "expired", r: req{method: http.MethodGet, path: pServices, header: bearerHeader(short.token)}, code: 498, details: []string{detailTokenExpired}},
		{name: "not a bearer header", r: req{method: http.MethodGet, path: pServices, header: http.Header{"Authorization": {"Basic " + server.token}}}, code: 499, details: []string{msgTokenRequired}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.r)
			switch tc.code {
			case 0:
				if r.body == nil || r.body["error"] != nil || r.body["services"] == nil {
					t.Fatalf("HTTP %d: %s", r.status, r.raw)
				}
			case 499:
				wantError(t, r, 499, msgTokenRequired, tc.details...)
				if errorObject(t, r)["messageCode"] != messageCodeGWM0003 {
					t.Errorf("499 without messageCode GWM_0003: %s", r.raw)
				}
			default:
				wantError(t, r, tc.code, msgInvalidToken, tc.details...)
			}
		})
	}
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	standalone := start(t, Config{Standalone: true})

	admin := wantAdminToken(t, h.post(pAdminGenerate, login("alice", alicePW, "expiration", "30", "client", "requestip")))
	if want := minutesAfter(t0, 30); !admin.expires.Equal(want) {
		t.Errorf("admin expires %v, want %v", admin.expires, want)
	}
	// bob logs in fine but is no administrator.
	wantAdminError(t, h.post(pAdminGenerate, login("bob", bobPW)), 403, msgPermissionDenied)
	if got := h.sim.Counters().LoginAttempts[AccountKey(RealmServer, "bob")]; len(got) != 1 || got[0].Outcome != OutcomeOK {
		t.Errorf("bob's attempts %v, want one success", got)
	}
	bobServer := wantToken(t, h.post(pServerTokens, login("bob", bobPW)), false)
	portal := h.portalToken()
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	standalonePortal := standalone.portalToken()

	for _, tc := range []struct {
		name     string
		h        *harness
		token    string
		code     int
		messages []string
	}{
		{"admin token", h, admin.token, 0, nil},
		{"server token", h, h.serverToken().token, 0, nil},
		{"no token", h, "", 499, []string{msgTokenRequired}},
		{"garbage", h, "garbage..", 498, []string{msgInvalidToken}},
		{"user without admin rights", h, bobServer.token, 403, []string{msgPermissionDenied}},
		{"portal token at a federated server", h, portal.token, 403, []string{msgPermissionDenied}},
		{"app token at a federated server", h, appToken, 403, []string{msgPermissionDenied}},
		{"portal token at a standalone server", standalone, standalonePortal.token, 498, []string{msgInvalidToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr http.Header
			if tc.token != "" {
				hdr = bearerHeader(tc.token)
			}
			r := tc.h.do(req{method: http.MethodGet, path: pAdmin + "/?f=json", header: hdr})
			if tc.code == 0 {
				if r.body == nil || r.body["resources"] == nil || r.body["status"] != nil {
					t.Fatalf("HTTP %d: %s", r.status, r.raw)
				}
				return
			}
			wantAdminError(t, r, tc.code, tc.messages...)
		})
	}

	h.clock.Step(31 * time.Minute)
	wantAdminError(t, h.do(req{method: http.MethodGet, path: pAdmin, header: bearerHeader(admin.token)}), 498, msgInvalidToken, detailTokenExpired)
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	for _, path := range []string{"/", "/portal/sharing/rest/generateToken/extra", "/server/tokens//generateToken", "/portal/__sim/counters", "/server/__sim/revoke"} {
		r := h.do(req{method: http.MethodGet, path: path})
		if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: HTTP %d %q, want 404 text/html", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if got := h.sim.Counters().Requests[EndpointUnknown][OutcomeNotFound]; got != 5 {
		t.Errorf("%d unknown requests counted, want 5", got)
	}
}

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
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestPortalGenerateToken(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})

	first := h.portalToken()
	if want := minutesAfter(t0, DefaultPortalDefaultMinutes); !first.expires.Equal(want) {
		t.Errorf("expires %v, want %v (default lifetime on the simulated clock)", first.expires, want)
	}
	// Old clients' request=getToken is tolerated; a charset in the content
	// type is still a form.
	second := wantToken(t, h.do(req{path: pGenerate, form: login("alice", alicePW, "request", "getToken"),
		contentType: formType + "; charset=UTF-8"}), true)
	if first.token == second.token {
		t.Error("two requests got the same token")
	}
	// Parameters other than credentials may come in the query string.
	third := wantToken(t, h.do(req{path: pGenerate + "?f=json&expiration=30", form: url.Values{"username": {"alice"}, "password": {alicePW}}}), true)
	if want := minutesAfter(t0, 30); !third.expires.Equal(want) {
		t.Errorf("expires %v, want %v", third.expires, want)
	}
	r := h.do(req{path: pGenerate, form: login("alice", alicePW)})
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
}

func TestLifetimeCaps(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	custom := start(t, Config{PortalDefaultMinutes: 5, PortalMaxMinutes: 10, ServerShortMinutes: 2, ServerLongMinutes: 3})

	for _, tc := range []struct {
		name  string
		h     *harness
		path  string
		extra []string
		want  int // minutes
	}{
		{"portal default", h, pGenerate, nil, 120},
		{"portal asked", h, pGenerate, []string{"expiration", "60"}, 60},
		{"portal at cap", h, pGenerate, []string{"expiration", "20160"}, 20160},
		{"portal over cap", h, pGenerate, []string{"expiration", "30000"}, 20160},
		{"portal zero is default", h, pGenerate, []string{"expiration", "0"}, 120},
		{"portal negative is default", h, pGenerate, []string{"expiration", "-5"}, 120},
		{"portal bound over cap", h, pGenerate, []string{"expiration", "99999", "client", "referer", "referer", testReferer}, 20160},
		{"server default", h, pServerTokens, nil, 60},
		{"server asked", h, pServerTokens, []string{"expiration", "30"}, 30},
		{"server unbound is short", h, pServerTokens, []string{"expiration", "600"}, 60},
		{"server bound long", h, pServerTokens, []string{"expiration", "600", "client", "referer", "referer", testReferer}, 600},
		{"server bound over cap", h, pServerTokens, []string{"expiration", "5000", "client", "requestip"}, 1440},
		{"server bound default", h, pServerTokens, []string{"client", "requestip"}, 60},
		{"admin unbound is short", h, pAdminGenerate, []string{"expiration", "600"}, 60},
		{"admin bound long", h, pAdminGenerate, []string{"expiration", "600", "client", "referrer", "referrer", testReferer}, 600},
		{"custom portal default", custom, pGenerate, nil, 5},
		{"custom portal cap", custom, pGenerate, []string{"expiration", "60"}, 10},
		{"custom server short", custom, pServerTokens, []string{"expiration", "60"}, 2},
		{"custom server long", custom, pServerTokens, []string{"expiration", "60", "client", "requestip"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.h.post(tc.path, login("alice", alicePW, tc.extra...))
			var got issued
			switch tc.path {
			case pGenerate:
				got = wantToken(t, r, true)
			case pServerTokens:
				got = wantToken(t, r, false)
			default:
				got = wantAdminToken(t, r)
			}
			if want := minutesAfter(t0, tc.want); !got.expires.Equal(want) {
				t.Errorf("expires %v, want %v (%d minutes)", got.expires, want, tc.want)
			}
		})
	}

	// The clock decides: an hour later, lifetimes count from then.
	h.clock.Step(time.Hour)
	if got, want := h.portalToken().expires, minutesAfter(t0.Add(time.Hour), 120); !got.Equal(want) {
		t.Errorf("after an hour: expires %v, want %v", got, want)
	}
}

func TestOAuthToken(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	custom := start(t, Config{PortalMaxMinutes: 30, PortalDefaultMinutes: 30})
	form := func(kv ...string) url.Values {
		f := url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}, "f": {"json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}

	for _, tc := range []struct {
		name      string
		h         *harness
		form      url.Values
		expiresIn int
	}{
		{"default", h, form(), 7200},
		{"asked", h, form("expiration", "60"), 3600},
		{"over cap", h, form("expiration", "30000"), 20160 * 60},
		{"custom cap", custom, form("expiration", "60"), 1800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.h.post(pOAuth, tc.form)
			if r.status != http.StatusOK || r.body == nil {
				t.Fatalf("HTTP %d: %s", r.status, r.raw)
			}
			wantKeys(t, r.body, "access_token", "expires_in")
			if tok, _ := r.body["access_token"].(string); !tokenPattern.MatchString(tok) {
				t.Errorf("access_token %q does not look like an ArcGIS token", tok)
			}
			if got := r.body["expires_in"]; got != json.Number(strconv.Itoa(tc.expiresIn)) {
				t.Errorf("expires_in %v, want %d", got, tc.expiresIn)
			}
		})
	}

	for _, tc := range []struct {
		name, code, description string
		form                    url.Values
		contentType             string
	}{
		{"unknown client", "invalid_client_id", "Invalid client_id", form("client_id", "nope"), ""},
		{"client ID is case-sensitive", "invalid_client_id", "Invalid client_id", form("client_id", "APP1"), ""},
		{"wrong secret", "invalid_request", "Invalid client_secret", form("client_secret", "wrong"), ""},
		{"no client ID", "invalid_request", "client_id not specified", form("client_id", ""), ""},
		{"no secret", "invalid_request", "client_secret not specified", form("client_secret", ""), ""},
		{"no grant type", "invalid_request", "grant_type not specified", form("grant_type", ""), ""},
		{"wrong grant type", "unsupported_grant_type", "Unsupported grant_type", form("grant_type", "password"), ""},
		{"bad expiration", "invalid_request", detailExpiration, form("expiration", "soon"), ""},
		{"no content type", "invalid_request", "client_id not specified", form(), "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(req{path: pOAuth, form: tc.form, contentType: tc.contentType})
			want := map[string]any{"error": map[string]any{
				"code": json.Number("400"), "error": tc.code, "error_description": tc.description,
				"message": tc.description, "details": []any{},
			}}
			if r.status != http.StatusOK || !jsonEqual(r.body, want) {
				t.Fatalf("got HTTP %d %s, want %v", r.status, r.raw, want)
			}
		})
	}

	// Apps never lock: many bad secrets, then the right one works.
	for range 2 * DefaultLockoutAttempts {
		h.post(pOAuth, form("client_secret", "wrong"))
	}
	if r := h.post(pOAuth, form()); r.body["access_token"] == nil {
		t.Fatalf("app locked out after failures: %s", r.raw)
	}
	attempts := h.sim.Counters().LoginAttempts[AccountKey(RealmOAuth, appID)]
	if n := len(attempts); n != 2*DefaultLockoutAttempts+5 {
		t.Errorf("%d OAuth login attempts recorded, want %d", n, 2*DefaultLockoutAttempts+5)
	}
}

func TestPortalSelf(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	alice := h.portalToken()
	bob := wantToken(t, h.post(pGenerate, login("bob", bobPW)), true)
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	server := h.serverToken()
	short := h.portalToken("expiration", "1")
	h.clock.Step(time.Minute)

	user := func(name, role string) map[string]any {
		return map[string]any{"username": name, "fullName": titleCase(name) + " User", "role": role}
	}
	for _, tc := range []struct {
		name    string
		r       req
		user    map[string]any // want "user"
		appID   string         // want "appInfo"
		code    int            // want an error
		details []string
	}{
		{name: "anonymous", r: req{method: http.MethodGet, path: pSelf + "?f=json"}},
		{name: "X-Esri-Authorization", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader(alice.token)}, user: user("alice", "org_admin")},
		{name: "Authorization", r: req{method: http.MethodGet, path: pSelf, header: http.Header{"Authorization": {"Bearer " + alice.token}}}, user: user("alice", "org_admin")},
		{name: "form field", r: req{path: pSelf, form: url.Values{"token": {alice.token}, "f": {"json"}}}, user: user("alice", "org_admin")},
		{name: "query string", r: req{method: http.MethodGet, path: pSelf + "?f=json&token=" + alice.token}, user: user("alice", "org_admin")},
		{name: "user without admin rights", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader(bob.token)}, user: user("bob", "org_user")},
		{name: "app token", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader(appToken)}, appID: appID},
		{name: "garbage", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader("garbage..")}, code: 498, details: []string{}},
		{name: "server token", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader(server.token)}, code: 498, details: []string{}},
		{name: "expired", r: req{method: http.MethodGet, path: pSelf, header: bearerHeader(short.token)}, code: 498, details: []string{detailTokenExpired}},
		{name: "PUT", r: req{method: http.MethodPut, path: pSelf, header: bearerHeader(alice.token)}, code: 405, details: []string{detailGetOrPost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.r)
			if tc.code != 0 {
				message := map[int]string{498: msgInvalidToken, 405: msgMethodNotSupported}[tc.code]
				wantError(t, r, tc.code, message, tc.details...)
				return
			}
			if r.status != http.StatusOK || r.body == nil || r.body["error"] != nil {
				t.Fatalf("HTTP %d: %s", r.status, r.raw)
			}
			if r.body["id"] != portalID || r.body["name"] != portalName {
				t.Errorf("id and name missing: %s", r.raw)
			}
			if got, _ := r.body["user"].(map[string]any); (got == nil) != (tc.user == nil) {
				t.Errorf("user: got %v, want %v", r.body["user"], tc.user)
			} else if got != nil {
				for k, v := range tc.user {
					if got[k] != v {
						t.Errorf("user.%s = %v, want %v", k, got[k], v)
					}
				}
				wantUserShape(t, got, true)
			}
			var wantApp map[string]any
			if tc.appID != "" {
				wantApp = map[string]any{"appId": tc.appID}
			}
			if !jsonEqual(r.body["appInfo"], wantApp) {
				t.Errorf("appInfo: got %v, want %v", r.body["appInfo"], wantApp)
			}
		})
	}
	if got := h.sim.Counters().TokenInQuery; got != 1 {
		t.Errorf("TokenInQuery = %d, want 1", got)
	}
}

func TestPortalInfo(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	r := h.do(req{method: http.MethodGet, path: pPortalInfo + "?f=json"})
	want := map[string]any{
		"owningSystemUrl": h.sim.PortalURL(),
		"authInfo": map[string]any{
			"tokenServicesUrl":     h.sim.PortalURL() + "/sharing/rest/generateToken",
			"isTokenBasedSecurity": true,
		},
		"fullVersion": "11.3.0",
	}
	if !jsonEqual(r.body, want) {
		t.Errorf("got %s, want %v", r.raw, want)
	}
	// Like any ArcGIS resource, it refuses a bad token.
	wantError(t, h.do(req{method: http.MethodGet, path: pPortalInfo, header: bearerHeader("bad..")}), 498, msgInvalidToken)
}

// jsonEqual compares decoded JSON values, treating a nil map as absent.
func jsonEqual(got any, want map[string]any) bool {
	if want == nil {
		return got == nil
	}
	b1, err1 := json.Marshal(got)
	b2, err2 := json.Marshal(want)
	return err1 == nil && err2 == nil && string(b1) == string(b2)
}

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
	"slices"
	"testing"
	"time"
)

const (
	pCommunitySelf  = "/portal/sharing/rest/community/self"
	pCommunityUsers = "/portal/sharing/rest/community/users/"
)

// wantUserShape checks a user object as real portals shape it: identity
// fields for everyone, email, role, userType, privileges and level for the
// user and administrators only.
func wantUserShape(t *testing.T, u map[string]any, full bool) {
	t.Helper()
	for _, k := range []string{"username", "id", "fullName", "firstName", "lastName", "orgId", "provider", "access"} {
		if s, ok := u[k].(string); !ok || s == "" {
			t.Errorf("user.%s = %v, want a non-empty string", k, u[k])
		}
	}
	for _, k := range []string{"created", "modified"} {
		n, ok := u[k].(json.Number)
		ms, err := n.Int64()
		if !ok || err != nil || ms <= 0 {
			t.Errorf("user.%s = %v, want epoch milliseconds", k, u[k])
		}
	}
	private := []string{"email", "role", "userType", "privileges", "level", "lastLogin"}
	if !full {
		for _, k := range private {
			if _, ok := u[k]; ok {
				t.Errorf("user.%s shown to another user: %v", k, u[k])
			}
		}
		return
	}
	for _, k := range private {
		if _, ok := u[k]; !ok {
			t.Errorf("user.%s missing", k)
		}
	}
	if r, _ := u["role"].(string); Role(r).validate() != nil {
		t.Errorf("role %v is not a portal role", u["role"])
	}
	if p, ok := u["privileges"].([]any); !ok || len(p) == 0 {
		t.Errorf("privileges = %v, want a non-empty list", u["privileges"])
	}
	if u["userType"] != "creatorUT" || u["level"] != "2" {
		t.Errorf("userType %v level %v", u["userType"], u["level"])
	}
}

func TestCommunitySelf(t *testing.T) {
	t.Parallel()
	h := start(t, Config{Roles: map[string]Role{"carol": RolePublisher}, Users: map[string]string{"alice": alicePW, "bob": bobPW, "carol": "carol-pw"}, NoAdmin: []string{"bob"}})
	alice := h.portalToken()
	bob := wantToken(t, h.post(pGenerate, login("bob", bobPW)), true)
	carol := wantToken(t, h.post(pGenerate, login("carol", "carol-pw")), true)
	bound := h.portalToken("client", "referer", "referer", testReferer)
	short := h.portalToken("expiration", "1")
	server := h.serverToken()
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	h.clock.Step(time.Minute)

	for _, tc := range []struct {
		name     string
		r        req
		username string
		role     Role
		code     int
		details  []string
	}{
		{name: "GET, token in the query (as arcgis-rest-js sends it)", r: req{method: http.MethodGet, path: pCommunitySelf + "?f=json&token=" + alice.token}, username: "alice", role: RoleAdmin},
		{name: "POST form", r: req{path: pCommunitySelf, form: url.Values{"f": {"json"}, "token": {alice.token}}}, username: "alice", role: RoleAdmin},
		{name: "X-Esri-Authorization", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(bob.token)}, username: "bob", role: RoleUser},
		{name: "Authorization bearer", r: req{method: http.MethodGet, path: pCommunitySelf, header: http.Header{"Authorization": {"Bearer " + carol.token}}}, username: "carol", role: RolePublisher},
		{name: "referer-bound with its referer", r: req{method: http.MethodGet, path: pCommunitySelf, header: withReferer(bearerHeader(bound.token), testReferer)}, username: "alice", role: RoleAdmin},
		{name: "referer-bound without it", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(bound.token)}, code: 498, details: []string{}},
		{name: "referer-bound with another", r: req{method: http.MethodGet, path: pCommunitySelf, header: withReferer(bearerHeader(bound.token), "http")}, code: 498, details: []string{}},
		{name: "no token", r: req{method: http.MethodGet, path: pCommunitySelf}, code: 499, details: []string{msgTokenRequired}},
		{name: "expired", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(short.token)}, code: 498, details: []string{detailTokenExpired}},
		{name: "garbage", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader("garbage..")}, code: 498, details: []string{}},
		{name: "server token", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(server.token)}, code: 498, details: []string{}},
		{name: "OAuth app token has no user", r: req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(appToken)}, code: 403, details: []string{msgPermissionDenied}},
		{name: "PUT", r: req{method: http.MethodPut, path: pCommunitySelf, header: bearerHeader(alice.token)}, code: 405, details: []string{detailGetOrPost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.r)
			if tc.code != 0 {
				message := map[int]string{498: msgInvalidToken, 499: msgTokenRequired, 403: msgPermissionDenied, 405: msgMethodNotSupported}[tc.code]
				wantError(t, r, tc.code, message, tc.details...)
				return
			}
			if r.status != http.StatusOK || r.body == nil || r.body["error"] != nil {
				t.Fatalf("HTTP %d: %s", r.status, r.raw)
			}
			if r.body["username"] != tc.username || r.body["role"] != string(tc.role) {
				t.Errorf("got username %v role %v, want %s %s", r.body["username"], r.body["role"], tc.username, tc.role)
			}
			wantUserShape(t, r.body, true)
			privs := toStrings(r.body["privileges"])
			if got, want := slices.Contains(privs, PrivilegeGenerateAPIKeys), tc.role != RoleUser; got != want {
				t.Errorf("%s has %s: %t, want %t", tc.role, PrivilegeGenerateAPIKeys, got, want)
			}
		})
	}
	// lastLogin is the service time of the last login.
	r := h.do(req{method: http.MethodGet, path: pCommunitySelf, header: bearerHeader(alice.token)})
	if ms, _ := r.body["lastLogin"].(json.Number).Int64(); ms != t0.UnixMilli() {
		t.Errorf("lastLogin %d, want %d", ms, t0.UnixMilli())
	}
	c := h.sim.Counters()
	if c.TokenInQuery != 1 {
		t.Errorf("TokenInQuery = %d, want 1", c.TokenInQuery)
	}
	if got := c.Requests[EndpointCommunitySelf][OutcomeOK]; got != 6 {
		t.Errorf("community/self ok = %d, want 6 (%v)", got, c.Requests[EndpointCommunitySelf])
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestCommunityUsers(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	alice := h.portalToken() // an administrator
	bob := wantToken(t, h.post(pGenerate, login("bob", bobPW)), true)
	bound := h.portalToken("client", "referer", "referer", testReferer)
	server := h.serverToken()

	for _, tc := range []struct {
		name string
		r    req
		user string // want this user
		full bool
		code int
	}{
		{name: "own profile, GET", r: req{method: http.MethodGet, path: pCommunityUsers + "bob?f=json", header: bearerHeader(bob.token)}, user: "bob", full: true},
		{name: "own profile, POST", r: req{path: pCommunityUsers + "bob", form: url.Values{"f": {"json"}, "token": {bob.token}}}, user: "bob", full: true},
		{name: "another user's, seen by an administrator", r: req{method: http.MethodGet, path: pCommunityUsers + "bob", header: bearerHeader(alice.token)}, user: "bob", full: true},
		{name: "another user's, seen by a user", r: req{method: http.MethodGet, path: pCommunityUsers + "alice", header: bearerHeader(bob.token)}, user: "alice", full: false},
		{name: "trailing slash", r: req{method: http.MethodGet, path: pCommunityUsers + "bob/", header: bearerHeader(bob.token)}, user: "bob", full: true},
		{name: "path in another case", r: req{method: http.MethodGet, path: "/portal/sharing/rest/COMMUNITY/Users/bob", header: bearerHeader(bob.token)}, user: "bob", full: true},
		{name: "username in the wrong case", r: req{method: http.MethodGet, path: pCommunityUsers + "Bob", header: bearerHeader(bob.token)}, code: 400},
		{name: "unknown user", r: req{method: http.MethodGet, path: pCommunityUsers + "nobody", header: bearerHeader(alice.token)}, code: 400},
		{name: "referer-bound with its referer", r: req{method: http.MethodGet, path: pCommunityUsers + "alice", header: withReferer(bearerHeader(bound.token), testReferer)}, user: "alice", full: true},
		{name: "referer-bound without it", r: req{method: http.MethodGet, path: pCommunityUsers + "alice", header: bearerHeader(bound.token)}, code: 498},
		{name: "server token", r: req{method: http.MethodGet, path: pCommunityUsers + "alice", header: bearerHeader(server.token)}, code: 498},
		{name: "no token", r: req{method: http.MethodGet, path: pCommunityUsers + "alice"}, code: 499},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.r)
			switch tc.code {
			case 400:
				wantError(t, r, 400, msgNoUser)
				return
			case 498:
				wantError(t, r, 498, msgInvalidToken)
				return
			case 499:
				wantError(t, r, 499, msgTokenRequired, msgTokenRequired)
				return
			}
			if r.status != http.StatusOK || r.body["username"] != tc.user {
				t.Fatalf("HTTP %d: %s", r.status, r.raw)
			}
			wantUserShape(t, r.body, tc.full)
		})
	}
	if got := h.sim.Counters().Requests[EndpointCommunityUser]; got[OutcomeOK] != 7 || got[OutcomeNotFound] != 2 {
		t.Errorf("community/users counted %v", got)
	}
}

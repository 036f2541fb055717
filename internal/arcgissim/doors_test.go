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

func TestPortalDoors(t *testing.T) {
	t.Parallel()
	h := start(t, Config{PortalAliases: []string{"/arcgis", "/gis/portal"}})
	doors := h.sim.PortalURLs()
	want := []string{
		h.sim.PortalURL(), h.sim.HostURL(HostLocalhost) + "/portal",
		h.sim.URL() + "/arcgis", h.sim.HostURL(HostLocalhost) + "/arcgis",
		h.sim.URL() + "/gis/portal", h.sim.HostURL(HostLocalhost) + "/gis/portal",
	}
	if strings.Join(doors, " ") != strings.Join(want, " ") {
		t.Fatalf("PortalURLs() = %v, want %v", doors, want)
	}

	// Every door names the same canonical token service and owner.
	for _, door := range doors {
		r := h.do(req{method: http.MethodGet, base: door, path: "/sharing/rest/info?f=json"})
		auth, _ := r.body["authInfo"].(map[string]any)
		if r.body["owningSystemUrl"] != h.sim.PortalURL() || auth["tokenServicesUrl"] != h.sim.PortalURL()+"/sharing/rest/generateToken" {
			t.Errorf("%s: info %s", door, r.raw)
		}
	}

	// One lock-out state: five failures spread over five doors lock the
	// account at every door.
	for i := range 5 {
		r := h.do(req{base: doors[i], path: "/sharing/rest/generateToken", form: login("alice", "wrong")})
		wantError(t, r, 400, msgUnableToGenerate, detailInvalidCredentials)
		h.clock.Step(time.Second)
	}
	for _, door := range doors {
		wantError(t, h.do(req{base: door, path: "/sharing/rest/generateToken", form: login("alice", alicePW)}), 400, msgUnableToGenerate, lockedDetail)
	}
	if got := h.sim.Counters().MaxLoginAttemptsWithin(AccountKey(RealmPortal, "alice"), 15*time.Minute); got != 11 {
		t.Errorf("one account saw %d attempts, want 11", got)
	}

	// A token from one door works at every other door, and at the
	// federated exchange.
	tok := wantToken(t, h.do(req{base: doors[3], path: "/sharing/rest/generateToken", form: login("bob", bobPW)}), true)
	for _, door := range doors {
		if r := h.do(req{method: http.MethodGet, base: door, path: "/sharing/rest/community/self", header: bearerHeader(tok.token)}); r.body["username"] != "bob" {
			t.Errorf("%s: community/self %s", door, r.raw)
		}
	}
	f := url.Values{"token": {tok.token}, "serverUrl": {h.sim.HostURL(HostLocalhost) + "/server"}, "f": {"json"}}
	wantToken(t, h.do(req{base: doors[2], path: "/sharing/rest/generateToken", form: f}), true)

	c := h.sim.Counters()
	for _, door := range []string{"127.0.0.1/portal", "localhost/portal", "127.0.0.1/arcgis", "localhost/arcgis", "127.0.0.1/gis/portal", "localhost/gis/portal"} {
		if c.RequestsByDoor[door] == 0 {
			t.Errorf("no request counted through %s: %v", door, c.RequestsByDoor)
		}
	}
	// Other paths under an alias are still unknown.
	if r := h.do(req{method: http.MethodGet, path: "/arcgis/rest/services"}); r.status != http.StatusNotFound {
		t.Errorf("/arcgis/rest/services: HTTP %d", r.status)
	}
}

func TestPortalAliasValidation(t *testing.T) {
	t.Parallel()
	for _, aliases := range [][]string{
		{"arcgis"}, {"/arcgis/"}, {"/portal"}, {"/Server"}, {"/portal/x"}, {"/__sim"},
		{"/a", "/A"}, {"/a", "/a/b"}, {"/a//b"}, {"/a?b"},
	} {
		if _, err := New(Config{PortalAliases: aliases}); err == nil {
			t.Errorf("New accepted PortalAliases %q", aliases)
		}
	}
}

func TestServerTokensAtPortal(t *testing.T) {
	t.Parallel()
	h := start(t, Config{ServerTokensAtPortal: true})
	generate := h.sim.PortalURL() + "/sharing/rest/generateToken"

	// rest/info sends logins to the portal.
	r := h.do(req{method: http.MethodGet, path: pServerInfo + "?f=json"})
	auth, _ := r.body["authInfo"].(map[string]any)
	if auth["tokenServicesUrl"] != generate || r.body["owningSystemUrl"] != h.sim.PortalURL() {
		t.Fatalf("rest/info: %s", r.raw)
	}

	// A login with serverUrl gives a server token in the portal's shape.
	for _, serverURL := range []string{h.sim.ServerURL(), h.sim.HostURL(HostLocalhost) + "/server/"} {
		tok := wantToken(t, h.post(pGenerate, login("alice", alicePW, "serverUrl", serverURL, "expiration", "60")), true)
		if want := minutesAfter(t0, 60); !tok.expires.Equal(want) {
			t.Errorf("expires %v, want %v", tok.expires, want)
		}
		if r := h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(tok.token)}); r.body["services"] == nil {
			t.Errorf("server token refused at rest/services: %s", r.raw)
		}
		wantError(t, h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(tok.token)}), 498, msgInvalidToken)
	}
	// A login without serverUrl is a portal token, as ever.
	portal := h.portalToken()
	wantError(t, h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(portal.token)}), 498, msgInvalidToken)
	// Another server is refused before the credentials are checked.
	wantError(t, h.post(pGenerate, login("alice", "wrong", "serverUrl", "https://gis.example.com/server")), 400, msgUnableToGenerate, detailUnknownServer)

	// One lock-out state: portal logins and server logins share the
	// portal account.
	for i := range 5 {
		f := login("bob", "wrong")
		if i%2 == 0 {
			f.Set("serverUrl", h.sim.ServerURL())
		}
		wantError(t, h.post(pGenerate, f), 400, msgUnableToGenerate, detailInvalidCredentials)
	}
	wantError(t, h.post(pGenerate, login("bob", bobPW)), 400, msgUnableToGenerate, lockedDetail)
	wantError(t, h.post(pGenerate, login("bob", bobPW, "serverUrl", h.sim.ServerURL())), 400, msgUnableToGenerate, lockedDetail)
	c := h.sim.Counters()
	if got := len(c.LoginAttempts[AccountKey(RealmPortal, "bob")]); got != 7 {
		t.Errorf("portal account bob: %d attempts, want 7", got)
	}
	if got := len(c.LoginAttempts[AccountKey(RealmServer, "bob")]); got != 0 {
		t.Errorf("server realm saw %d attempts, want 0", got)
	}
	if got := c.TokensIssued["federated"]; got != 2 {
		t.Errorf("federated tokens issued %d, want 2", got)
	}
	// The exchange of a portal token still works.
	wantToken(t, h.exchange(portal.token, h.sim.ServerURL(), nil), true)

	if _, err := New(Config{ServerTokensAtPortal: true, Standalone: true}); err == nil {
		t.Error("New accepted ServerTokensAtPortal with Standalone")
	}
}

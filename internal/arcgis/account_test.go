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

package arcgis

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func portalInfoBody(tokenServicesURL string) string {
	return `{"owningSystemUrl":"https://gis.example.com/portal","authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"` + tokenServicesURL + `"}}`
}

// TestAccountKey: every door to one account gives one key, and two accounts
// never share one.
func TestAccountKey(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	const portalTokens = "https://GIS.example.com:443/Portal/sharing/rest/generateToken/"
	const serverTokens = "https://gis.example.com/server/tokens/"
	// The portal behind a web adaptor and on its own port.
	f.respond("/portal/sharing/rest/info", 200, portalInfoBody(portalTokens))
	f.respond("/arcgis/sharing/rest/info", 200, portalInfoBody("https://gis.example.com/portal/sharing/rest/generateToken"))
	// A server behind a web adaptor and on :6443/:7443, one token service.
	f.respond("/server/rest/info", 200, serverInfoBody(serverTokens))
	f.respond("/direct/rest/info", 200, serverInfoBody("https://gis.example.com/server/tokens"))
	// A federated server whose logins go to the portal.
	f.respond("/fed/rest/info", 200, serverInfoBody("https://gis.example.com/portal/sharing/rest/generateToken"))
	c := f.newTestClient(Options{})

	user := func(typ ServiceType, url, name string) TokenRequest {
		return TokenRequest{Type: typ, URL: url, ServerURL: f.url("/fed"), Credentials: Credentials{Username: name, Password: "pw"}}
	}
	const portalKey = "user https://gis.example.com/portal/sharing/rest/generatetoken alice"
	const serverKey = "user https://gis.example.com/server/tokens/generatetoken alice"
	tests := map[string]struct {
		req  TokenRequest
		want string
	}{
		"portal":                           {user(Portal, f.url("/portal"), "alice"), portalKey},
		"portal, API path pasted":          {user(Portal, f.url("/portal/sharing/rest/"), "alice"), portalKey},
		"portal through a web adaptor":     {user(Portal, f.url("/arcgis"), "alice"), portalKey},
		"federated: the portal's login":    {user(Federated, f.url("/portal"), "alice"), portalKey},
		"server whose logins go to portal": {user(Server, f.url("/fed"), "alice"), portalKey},
		"server":                           {user(Server, f.url("/server"), "alice"), serverKey},
		"server on its own port":           {user(Server, f.url("/direct/rest/services"), "alice"), serverKey},
		"server admin: the server's store": {user(ServerAdmin, f.url("/server/admin"), "alice"), serverKey},
		"server admin of a federated server: the server's own store": {
			user(ServerAdmin, f.url("/fed"), "alice"), "user " + strings.ToLower(f.url("/fed")) + "/tokens/generatetoken alice"},
		"usernames are case-sensitive": {user(Portal, f.url("/portal"), "Alice"), "user https://gis.example.com/portal/sharing/rest/generatetoken Alice"},
		"api key owner":                {TokenRequest{Type: APIKey, URL: f.url("/portal"), Credentials: Credentials{Username: "alice", Password: "pw", ClientID: "App1", ClientSecret: "s"}}, portalKey},
		"oauth app": {TokenRequest{Type: OAuth, URL: f.url("/portal"), Credentials: Credentials{ClientID: "App1", ClientSecret: "s"}},
			"app https://gis.example.com/portal/sharing/rest/generatetoken App1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.Account(testContext(t), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Account = %q, want %q", got, tc.want)
			}
		})
	}
	for _, r := range f.all() {
		if strings.HasSuffix(r.Path, "generateToken") {
			t.Errorf("account resolution logged in: %s", r.Path)
		}
		if r.Form.Has("password") || r.Form.Has("client_secret") {
			t.Errorf("account resolution sent a credential to %s", r.Path)
		}
	}
}

// TestAccountArcGISOnline: ArcGIS Online has one login endpoint for
// www.arcgis.com and every organisation's URL; no discovery is needed.
func TestAccountArcGISOnline(t *testing.T) {
	t.Parallel()
	noNetwork := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("no network in this test")
	})
	c := New(Options{Transport: noNetwork, Clock: clocktesting.NewFakePassiveClock(testNow)})
	const want = "user https://www.arcgis.com/sharing/rest/generatetoken alice"
	for _, url := range []string{
		"https://www.arcgis.com",
		"https://www.arcgis.com/sharing/rest/",
		"https://WWW.ArcGIS.com:443",
		"https://arcgis.com",
		"https://myorg.maps.arcgis.com",
		"https://MyOrg.maps.arcgis.com/sharing/rest",
	} {
		for _, typ := range []ServiceType{Portal, Federated} {
			got, err := c.Account(testContext(t), TokenRequest{Type: typ, URL: url, ServerURL: "https://gis.example.com/server",
				Credentials: Credentials{Username: "alice", Password: "pw"}})
			if err != nil {
				t.Fatalf("%s %s: %v", typ, url, err)
			}
			if got != want {
				t.Errorf("%s %s: Account = %q, want %q", typ, url, got, want)
			}
		}
	}
	// Not ArcGIS Online: a look-alike must be discovered, and fails here.
	if _, err := c.Account(testContext(t), TokenRequest{Type: Portal, URL: "https://maps.arcgis.com.example.org",
		Credentials: Credentials{Username: "alice", Password: "pw"}}); ReasonOf(err) != ReasonServiceUnavailable {
		t.Errorf("look-alike host: %v, want %s", err, ReasonServiceUnavailable)
	}
}

// TestAccountCache: a discovered login endpoint is cached for the TTL, the
// last one known is served while discovery fails, and without one there is
// no account (and so no login).
func TestAccountCache(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/portal/sharing/rest/info", 200, portalInfoBody("https://gis.example.com/portal/sharing/rest/generateToken"))
	clk := clocktesting.NewFakePassiveClock(testNow)
	c := f.newTestClient(Options{Clock: clk, DiscoveryTTL: 10 * time.Minute})
	req := TokenRequest{Type: Portal, URL: f.url("/portal"), Credentials: Credentials{Username: "alice", Password: "pw"}}
	const want = "user https://gis.example.com/portal/sharing/rest/generatetoken alice"
	account := func(step string) {
		t.Helper()
		got, err := c.Account(testContext(t), req)
		if err != nil || got != want {
			t.Fatalf("%s: Account = %q, %v; want %q", step, got, err, want)
		}
	}
	account("first")
	account("cached")
	clk.SetTime(testNow.Add(9 * time.Minute))
	account("still fresh")
	if n := f.count("/portal/sharing/rest/info"); n != 1 {
		t.Fatalf("%d discoveries within the TTL, want 1", n)
	}
	clk.SetTime(testNow.Add(10 * time.Minute))
	f.respond("/portal/sharing/rest/info", 503, `<html>down</html>`)
	account("discovery fails: the last known value")
	if n := f.count("/portal/sharing/rest/info"); n != 2 {
		t.Fatalf("%d discoveries after the TTL, want 2", n)
	}

	// Another portal, never discovered: no account.
	other := TokenRequest{Type: Portal, URL: f.url("/other"), Credentials: Credentials{Username: "alice", Password: "pw"}}
	f.respond("/other/sharing/rest/info", 503, `<html>down</html>`)
	_, err := c.Account(testContext(t), other)
	e := mustError(t, err)
	if e.Reason != ReasonServiceUnavailable || !e.Retryable || e.Login {
		t.Errorf("got %+v, want a retryable ServiceUnavailable that is not a login", e)
	}
	if !strings.Contains(e.Message, "account") {
		t.Errorf("message %q does not say the account could not be resolved", e.Message)
	}
	// An answer without a token service names the default endpoint.
	f.respond("/other/sharing/rest/info", 200, `{"owningSystemUrl":"x"}`)
	got, err := c.Account(testContext(t), other)
	if err != nil || got != "user "+strings.ToLower(f.url("/other"))+"/sharing/rest/generatetoken alice" {
		t.Errorf("no tokenServicesUrl: Account = %q, %v", got, err)
	}
}

func TestNormalizeLoginURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://GIS.Example.com:443/Portal/sharing/rest/generateToken/": "https://gis.example.com/portal/sharing/rest/generatetoken",
		"https://gis.example.com:7443/arcgis/sharing/rest/GENERATETOKEN": "https://gis.example.com:7443/arcgis/sharing/rest/generatetoken",
		"https://[::1]:443/server/tokens/generateToken":                  "https://[::1]/server/tokens/generatetoken",
		"https://gis.example.com/server/tokens/":                         "https://gis.example.com/server/tokens/generatetoken",
		"http://gis.example.com/server/tokens":                           "https://gis.example.com/server/tokens/generatetoken",
	}
	for in, want := range tests {
		root := mustParse(t, "https://gis.example.com/server")
		u, e := resolveTokenURL(root, in)
		if e != nil {
			t.Fatalf("%s: %v", in, e)
		}
		if got := normalizeLoginURL(u); got != want {
			t.Errorf("normalizeLoginURL(%s) = %q, want %q", in, got, want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

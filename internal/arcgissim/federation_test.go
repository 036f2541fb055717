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

// exchange asks the portal for a server token for a portal token.
func (h *harness) exchange(portalToken, serverURL string, hdr http.Header, extra ...string) response {
	h.t.Helper()
	f := url.Values{"serverUrl": {serverURL}, "f": {"json"}}
	if portalToken != "" {
		f.Set("token", portalToken)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return h.do(req{path: pGenerate, form: f, header: hdr})
}

func TestFederatedExchange(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	portal := h.portalToken("expiration", "600")

	// A server token comes back in the portal's shape ...
	server := wantToken(t, h.exchange(portal.token, h.sim.ServerURL(), nil, "expiration", "60"), true)
	if want := minutesAfter(t0, 60); !server.expires.Equal(want) {
		t.Errorf("expires %v, want %v", server.expires, want)
	}
	// ... and works at the server, not at the portal.
	if r := h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(server.token)}); r.body["services"] == nil {
		t.Fatalf("server token refused at rest/services: %s", r.raw)
	}
	wantError(t, h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(server.token)}), 498, msgInvalidToken)
	// Without expiration, the portal default; never beyond the portal token.
	if got, want := wantToken(t, h.exchange(portal.token, h.sim.ServerURL(), nil), true).expires, minutesAfter(t0, 120); !got.Equal(want) {
		t.Errorf("default: expires %v, want %v", got, want)
	}
	short := h.portalToken("expiration", "10")
	if got, want := wantToken(t, h.exchange(short.token, h.sim.ServerURL(), nil, "expiration", "60"), true).expires, short.expires; !got.Equal(want) {
		t.Errorf("outliving the portal token: expires %v, want %v", got, want)
	}

	// Spellings and forms of the server URL that name this server.
	port := h.sim.URL()[strings.LastIndex(h.sim.URL(), ":")+1:]
	for _, u := range []string{h.sim.ServerURL() + "/", "https://localhost:" + port + "/server", "HTTPS://127.0.0.1:" + port + "/Server"} {
		wantToken(t, h.exchange(portal.token, u, nil), true)
	}
	wantToken(t, h.do(req{path: pGenerate, form: url.Values{"token": {portal.token}, "serverURL": {h.sim.ServerURL()}, "f": {"json"}}}), true)
	// The portal token may come in a header too.
	wantToken(t, h.exchange("", h.sim.ServerURL(), bearerHeader(portal.token)), true)

	// A bound server token.
	bound := wantToken(t, h.exchange(portal.token, h.sim.ServerURL(), nil, "client", "referer", "referer", testReferer), true)
	wantError(t, h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(bound.token)}), 498, msgInvalidToken)
	if r := h.do(req{method: http.MethodGet, path: pServices, header: withReferer(bearerHeader(bound.token), testReferer)}); r.body["services"] == nil {
		t.Fatalf("bound server token refused with its referer: %s", r.raw)
	}

	// An OAuth app token can be exchanged; the server token does not
	// administer the server.
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	appServer := wantToken(t, h.exchange(appToken, h.sim.ServerURL(), nil), true)
	if r := h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(appServer.token)}); r.body["services"] == nil {
		t.Fatalf("exchanged app token refused at rest/services: %s", r.raw)
	}
	wantAdminError(t, h.do(req{method: http.MethodGet, path: pAdmin, header: bearerHeader(appServer.token)}), 403, msgPermissionDenied)
	// alice's exchanged token does.
	if r := h.do(req{method: http.MethodGet, path: pAdmin, header: bearerHeader(server.token)}); r.body["resources"] == nil {
		t.Fatalf("alice's federated token refused at admin: %s", r.raw)
	}

	if got := h.sim.Counters().TokensIssued["federated"]; got != 10 {
		t.Errorf("%d federated tokens counted, want 10", got)
	}
}

func TestFederatedExchangeRefusals(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	standalone := start(t, Config{Standalone: true})
	portal := h.portalToken()
	bound := h.portalToken("client", "referer", "referer", testReferer)
	expiring := h.portalToken("expiration", "1")
	serverToken := h.serverToken()
	port := h.sim.URL()[strings.LastIndex(h.sim.URL(), ":")+1:]
	h.clock.Step(time.Minute)

	wantUnknown := func(r response) {
		t.Helper()
		wantError(t, r, 400, msgUnableToGenerate, detailUnknownServer)
	}
	t.Run("no token", func(t *testing.T) {
		wantError(t, h.exchange("", h.sim.ServerURL(), nil), 400, msgUnableToGenerate, detailNoTokenForServer)
		// Username and password do not replace the portal token.
		f := login("alice", alicePW, "serverUrl", h.sim.ServerURL())
		wantError(t, h.post(pGenerate, f), 400, msgUnableToGenerate, detailNoTokenForServer)
	})
	t.Run("expired portal token", func(t *testing.T) {
		wantError(t, h.exchange(expiring.token, h.sim.ServerURL(), nil), 498, msgInvalidToken, detailTokenExpired)
	})
	t.Run("wrong referer", func(t *testing.T) {
		wantError(t, h.exchange(bound.token, h.sim.ServerURL(), nil), 498, msgInvalidToken)
		wantError(t, h.exchange(bound.token, h.sim.ServerURL(), withReferer(nil, "http")), 498, msgInvalidToken)
		wantToken(t, h.exchange(bound.token, h.sim.ServerURL(), withReferer(nil, testReferer)), true)
	})
	t.Run("server token", func(t *testing.T) {
		wantError(t, h.exchange(serverToken.token, h.sim.ServerURL(), nil), 498, msgInvalidToken)
	})
	t.Run("garbage token", func(t *testing.T) {
		wantError(t, h.exchange("nonsense", h.sim.ServerURL(), nil), 498, msgInvalidToken)
	})
	t.Run("unknown server", func(t *testing.T) {
		for _, u := range []string{
			"http://127.0.0.1:" + port + "/server",
			"https://127.0.0.1:1/server",
			"https://gis.example.com:" + port + "/server",
			"https://127.0.0.1:" + port + "/arcgis",
			"https://127.0.0.1:" + port + "/server/rest/services",
			"https://127.0.0.1:" + port,
			"::not a url",
		} {
			wantUnknown(h.exchange(portal.token, u, nil))
		}
	})
	t.Run("standalone server", func(t *testing.T) {
		wantUnknown(standalone.exchange(standalone.portalToken().token, standalone.sim.ServerURL(), nil))
	})
	t.Run("bad binding", func(t *testing.T) {
		wantError(t, h.exchange(portal.token, h.sim.ServerURL(), nil, "client", "ip"), 400, msgUnableToGenerate, detailIPRequired)
	})
}

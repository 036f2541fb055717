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
	"slices"
	"testing"
	"time"
)

// allKinds issues one token of every kind, each for the given minutes, and
// returns them by kind.
func (h *harness) allKinds(minutes string) map[string]string {
	h.t.Helper()
	portal := h.portalToken("expiration", minutes)
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}, "expiration": {minutes}})
	appToken, _ := app.body["access_token"].(string)
	if appToken == "" {
		h.t.Fatalf("OAuth: %s", app.raw)
	}
	return map[string]string{
		"portal":    portal.token,
		"oauth":     appToken,
		"server":    h.serverToken("expiration", minutes).token,
		"admin":     wantAdminToken(h.t, h.post(pAdminGenerate, login("alice", alicePW, "expiration", minutes))).token,
		"federated": wantToken(h.t, h.exchange(portal.token, h.sim.ServerURL(), nil, "expiration", minutes), true).token,
	}
}

// use presents a token where its kind is accepted.
func (h *harness) use(kind, tok string) response {
	h.t.Helper()
	path := pServices
	if kind == "portal" || kind == "oauth" {
		path = pSelf
	}
	return h.do(req{method: http.MethodGet, path: path, header: bearerHeader(tok)})
}

func wantAccepted(t *testing.T, r response) {
	t.Helper()
	if r.body == nil || r.body["error"] != nil {
		t.Fatalf("token refused: %s", r.raw)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	before := h.allKinds("60")
	for kind, tok := range before {
		wantAccepted(t, h.use(kind, tok))
	}

	h.sim.RevokeAll()
	for kind, tok := range before {
		t.Run(kind, func(t *testing.T) {
			wantError(t, h.use(kind, tok), 498, msgInvalidToken)
		})
	}
	// Revoked tokens cannot be exchanged either; new tokens work.
	wantError(t, h.exchange(before["portal"], h.sim.ServerURL(), nil), 498, msgInvalidToken)
	for kind, tok := range h.allKinds("60") {
		wantAccepted(t, h.use(kind, tok))
	}
	// Revoked tokens are still secrets.
	secrets := h.sim.Secrets()
	for _, tok := range before {
		if !slices.Contains(secrets, tok) {
			t.Error("a revoked token is missing from Secrets")
		}
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	tokens := h.allKinds("45")

	h.clock.SetTime(t0.Add(45*time.Minute - time.Millisecond))
	for kind, tok := range tokens {
		wantAccepted(t, h.use(kind, tok))
	}
	h.clock.SetTime(t0.Add(45 * time.Minute))
	for kind, tok := range tokens {
		t.Run(kind, func(t *testing.T) {
			wantError(t, h.use(kind, tok), 498, msgInvalidToken, detailTokenExpired)
		})
	}
}

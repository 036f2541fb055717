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

package arcgis_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

func (e *simEnv) account(r arcgis.TokenRequest) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key, err := e.client.Account(ctx, r)
	if err != nil {
		e.t.Fatalf("Account(%s %s): %v", r.Type, r.URL, err)
	}
	return key
}

// TestSimAccountDoors: every door of one simulated portal, and a federated
// server whose logins go to the portal, name one account; the server's own
// token service another.
func TestSimAccountDoors(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(c *arcgissim.Config) {
		c.PortalAliases = []string{"/arcgis"}
		c.ServerTokensAtPortal = true
	}, nil)
	portal := e.account(e.request(arcgis.Portal, 60))
	for _, door := range e.sim.PortalURLs() {
		for _, typ := range []arcgis.ServiceType{arcgis.Portal, arcgis.Federated} {
			r := e.request(typ, 60)
			r.URL = door
			if got := e.account(r); got != portal {
				t.Errorf("%s through %s: account %q, want the portal's %q", typ, door, got, portal)
			}
		}
	}
	if got := e.account(e.request(arcgis.Server, 60)); got != portal {
		t.Errorf("Server whose logins go to the portal: account %q, want %q", got, portal)
	}
	if got := e.account(e.request(arcgis.ServerAdmin, 60)); got == portal {
		t.Errorf("ServerAdmin logs in at the server's own store, but shares the portal's account %q", got)
	}
	if e.sim.Counters().Total(epPortal) != 0 {
		t.Errorf("resolving accounts logged in")
	}
}

// TestSimServerTokensAtPortal: a federated server that sends its logins to
// the portal gets them with serverUrl, and the token works at the server;
// failed logins there count against the portal account.
func TestSimServerTokensAtPortal(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(c *arcgissim.Config) { c.ServerTokensAtPortal = true }, nil)
	r := e.request(arcgis.Server, 60)
	tok := e.mustIssue(r, 60)
	if _, err := e.validate(e.validation(r, tok)); err != nil {
		t.Fatalf("the server refuses the token issued through the portal: %v", err)
	}
	e.assertCalls(map[string]int{epInfo: 1, epPortal: 1, epRest: 1})

	r.Credentials.Password = simWrongPW
	_, err := e.issue(r)
	e.checkError(err, wantErr{reason: arcgis.ReasonInvalidCredentials, endpoint: arcgis.EndpointGenerateToken, status: 200, code: 400})
	if e, _ := arcgis.AsError(err); !e.Login {
		t.Errorf("a refused login is not flagged Login")
	}
	if n := len(e.sim.Counters().LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, "alice")]); n != 2 {
		t.Errorf("%d login attempts on the portal account, want 2", n)
	}
}

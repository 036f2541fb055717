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
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

const (
	simKeyItem   = "0123456789abcdef0123456789abcdef"
	simKeyClient = "keyapp1"
	simKeySecret = "keyapp1-Cl1ent-S3cret-Value"
)

func simKeyItemConfig() arcgissim.APIKeyItem {
	return arcgissim.APIKeyItem{ItemID: simKeyItem, Owner: "alice", ClientID: simKeyClient, ClientSecret: simKeySecret}
}

// keyEnv is a simulator with alice's API key item and alice's owner token.
type keyEnv struct {
	*simEnv
	item arcgis.APIKeyItemRequest
}

func newKeyEnv(t *testing.T, items ...arcgissim.APIKeyItem) *keyEnv {
	t.Helper()
	if len(items) == 0 {
		items = []arcgissim.APIKeyItem{simKeyItemConfig()}
	}
	e := newSimEnv(t, func(c *arcgissim.Config) { c.APIKeys = items }, nil)
	login := e.request(arcgis.Portal, 60)
	owner := e.mustIssue(login, 60)
	return &keyEnv{simEnv: e, item: arcgis.APIKeyItemRequest{
		URL: e.sim.PortalURL(), Owner: "alice", ItemID: simKeyItem, OwnerToken: owner.Token,
		Binding: login.Binding, CABundle: e.ca,
	}}
}

func (e *keyEnv) slot(n int, regenerate bool) arcgis.APIKeySlotRequest {
	return arcgis.APIKeySlotRequest{URL: e.sim.PortalURL(), Client: arcgis.Credentials{ClientID: simKeyClient, ClientSecret: simKeySecret},
		Slot: n, Regenerate: regenerate, CABundle: e.ca}
}

func (e *keyEnv) probe(key string) error {
	_, err := e.validate(arcgis.ValidateRequest{Type: arcgis.APIKey, URL: e.sim.PortalURL(), Token: key, CABundle: e.ca})
	return err
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestAPIKeyLifecycle walks one slot through the calls the operator makes:
// read the app and the item, set the slot's date, regenerate it, probe the
// key, recover it without regenerating, invalidate it and probe again.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newKeyEnv(t)
	app, err := e.client.RegisteredApp(ctx(t), e.item)
	if err != nil {
		t.Fatalf("RegisteredApp: %v", err)
	}
	if app.AppType != arcgis.AppTypeAPIKey || app.Client.ClientID != simKeyClient || app.Client.ClientSecret != simKeySecret ||
		app.SlotActive(1) || app.SlotActive(2) {
		t.Fatalf("RegisteredApp = %+v", app)
	}
	item, err := e.client.GetAPIKeyItem(ctx(t), e.item)
	if err != nil {
		t.Fatalf("GetAPIKeyItem: %v", err)
	}
	if !item.SlotExpiration(1).IsZero() || !item.SlotExpiration(2).IsZero() || item.Type != "API Key" {
		t.Fatalf("GetAPIKeyItem = %+v, want no dates", item)
	}
	date := simStart.Add(90 * 24 * time.Hour)
	if err := e.client.SetAPIKeyExpiration(ctx(t), e.item, 2, date); err != nil {
		t.Fatalf("SetAPIKeyExpiration: %v", err)
	}
	if item, err = e.client.GetAPIKeyItem(ctx(t), e.item); err != nil || !item.SlotExpiration(2).Equal(date) || !item.SlotExpiration(1).IsZero() {
		t.Fatalf("the item after the update: %+v %v", item, err)
	}
	key, err := e.client.RegenerateAPIKey(ctx(t), e.slot(2, true))
	if err != nil {
		t.Fatalf("RegenerateAPIKey: %v", err)
	}
	if arcgis.SlotOfAPIKey(key.Token) != 2 || !key.Expires.Equal(date) || key.ServiceURL != e.sim.PortalURL() {
		t.Fatalf("key for slot %d expiring %s, want slot 2 expiring %s", arcgis.SlotOfAPIKey(key.Token), key.Expires, date)
	}
	if app, err = e.client.RegisteredApp(ctx(t), e.item); err != nil || app.SlotActive(1) || !app.SlotActive(2) {
		t.Fatalf("RegisteredApp after regenerate: %+v %v", app, err)
	}
	if err := e.probe(key.Token); err != nil {
		t.Fatalf("probing the new key: %v", err)
	}
	// Asking without regenerateApiToken recovers the live key (a lost answer).
	again, err := e.client.RegenerateAPIKey(ctx(t), e.slot(2, false))
	if err != nil || again.Token != key.Token {
		t.Fatalf("recovering the key: same %t, %v", again != nil && again.Token == key.Token, err)
	}
	if err := e.client.InvalidateAPIKey(ctx(t), e.slot(2, false)); err != nil {
		t.Fatalf("InvalidateAPIKey: %v", err)
	}
	e.checkError(e.probe(key.Token), wantErr{reason: arcgis.ReasonInvalidToken, status: 200, code: 498, endpoint: arcgis.EndpointPortalSelf, contains: "Invalid token"})
	// Invalidating an empty slot is not an error.
	if err := e.client.InvalidateAPIKey(ctx(t), e.slot(1, false)); err != nil {
		t.Fatalf("InvalidateAPIKey of an empty slot: %v", err)
	}
	var actions []string
	for _, ev := range e.sim.Counters().APIKeyEvents {
		actions = append(actions, fmt.Sprintf("%s%d", ev.Action, ev.Slot))
	}
	want := []string{"setExpiration2", "generate2", "reuse2", "invalidate2", "invalidate1"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("the simulator saw %v, want %v", actions, want)
	}
}

// TestAPIKeyErrors: every failure the operator must tell apart, classified,
// and none quoting a secret.
func TestAPIKeyErrors(t *testing.T) {
	t.Parallel()
	other := simKeyItemConfig()
	other.ItemID, other.ClientID, other.ClientSecret, other.AppType = "fedcba9876543210fedcba9876543210", "webapp", "webapp-S3cret-Value", "multiple"
	e := newKeyEnv(t, simKeyItemConfig(), other)
	e.badRequestOK = true
	ctx := ctx(t)

	wrong := e.item
	wrong.ItemID = "ffffffffffffffffffffffffffffffff"
	_, err := e.client.RegisteredApp(ctx, wrong)
	e.checkError(err, wantErr{reason: arcgis.ReasonBadRequest, status: 200, code: 400, endpoint: arcgis.EndpointRegisteredAppInfo, contains: "Item does not exist"})

	// bob is not the owner.
	bob := e.request(arcgis.Portal, 60)
	bob.Credentials = arcgis.Credentials{Username: "bob", Password: simBobPW}
	bobToken := e.mustIssue(bob, 60)
	notOwner := e.item
	notOwner.OwnerToken = bobToken.Token
	_, err = e.client.GetAPIKeyItem(ctx, notOwner)
	e.checkError(err, wantErr{reason: arcgis.ReasonPermissionDenied, status: 200, code: 403, endpoint: arcgis.EndpointItem})

	// A registered app that is not API key credentials.
	web := e.item
	web.ItemID = other.ItemID
	app, err := e.client.RegisteredApp(ctx, web)
	if err != nil || app.AppType != "multiple" {
		t.Fatalf("RegisteredApp of a web app: %+v %v", app, err)
	}

	// A date more than a year ahead is refused whole.
	err = e.client.SetAPIKeyExpiration(ctx, e.item, 1, simStart.AddDate(1, 0, 2))
	e.checkError(err, wantErr{reason: arcgis.ReasonBadRequest, status: 200, code: 400, endpoint: arcgis.EndpointItemUpdate, contains: "at most one year"})

	// A wrong client secret at oauth2/token and at revokeToken.
	bad := e.slot(1, true)
	bad.Client.ClientSecret = simWrongSecret
	e.sent = append(e.sent, simWrongSecret)
	_, err = e.client.RegenerateAPIKey(ctx, bad)
	e.checkError(err, wantErr{reason: arcgis.ReasonInvalidCredentials, status: 200, code: 400, endpoint: arcgis.EndpointOAuthToken, contains: "Invalid client_secret"})
	err = e.client.InvalidateAPIKey(ctx, bad)
	e.checkError(err, wantErr{reason: arcgis.ReasonInvalidCredentials, status: 200, code: 400, endpoint: arcgis.EndpointOAuthRevoke, contains: "Invalid client_secret"})

	// Refused before anything is sent.
	before := e.calls()
	for name, call := range map[string]func() error{
		"slot 3": func() error { _, err := e.client.RegenerateAPIKey(ctx, e.slot(3, true)); return err },
		"no secret": func() error {
			r := e.slot(1, true)
			r.Client.ClientSecret = ""
			return e.client.InvalidateAPIKey(ctx, r)
		},
		"item with a slash": func() error {
			r := e.item
			r.ItemID = "../users/bob"
			_, err := e.client.RegisteredApp(ctx, r)
			return err
		},
		"no owner token": func() error {
			r := e.item
			r.OwnerToken = ""
			return e.client.SetAPIKeyExpiration(ctx, r, 1, simStart.Add(time.Hour))
		},
		"http": func() error {
			r := e.item
			r.URL = strings.Replace(r.URL, "https://", "http://", 1)
			_, err := e.client.GetAPIKeyItem(ctx, r)
			return err
		},
		"issue": func() error {
			_, err := e.client.IssueToken(ctx, arcgis.TokenRequest{Type: arcgis.APIKey, URL: e.sim.PortalURL()})
			return err
		},
	} {
		if got := arcgis.ReasonOf(call()); got != arcgis.ReasonInvalidRequest {
			t.Errorf("%s: %s, want InvalidRequest", name, got)
		}
	}
	if after := e.calls(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("requests were sent: %v, before %v", after, before)
	}

	// The service down.
	if err := e.sim.InjectFault(arcgissim.Fault{Endpoint: arcgissim.EndpointRegisteredAppInfo, Kind: arcgissim.FaultStatus, Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.RegisteredApp(ctx, e.item)
	e.checkError(err, wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, status: 503, endpoint: arcgis.EndpointRegisteredAppInfo})
}

// TestAPIKeyOwnerWithoutPrivilege: the owner lost "Generate API keys".
func TestAPIKeyOwnerWithoutPrivilege(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(c *arcgissim.Config) {
		c.APIKeys = []arcgissim.APIKeyItem{simKeyItemConfig()}
		c.Privileges = map[string][]string{"alice": {"portal:user:viewOrgItems"}}
	}, nil)
	login := e.request(arcgis.Portal, 60)
	owner := e.mustIssue(login, 60)
	_, err := e.client.RegisteredApp(ctx(t), arcgis.APIKeyItemRequest{URL: e.sim.PortalURL(), Owner: "alice", ItemID: simKeyItem,
		OwnerToken: owner.Token, Binding: login.Binding, CABundle: e.ca})
	e.checkError(err, wantErr{reason: arcgis.ReasonPermissionDenied, status: 200, code: 403, endpoint: arcgis.EndpointRegisteredAppInfo})
}

// TestAPIKeyAppNeverPrintsTheSecret: every way an APIKeyApp reaches a log.
func TestAPIKeyAppNeverPrintsTheSecret(t *testing.T) {
	t.Parallel()
	app := arcgis.APIKeyApp{ItemID: "i", AppType: "apikey", Client: arcgis.Credentials{ClientID: "c", ClientSecret: "the-Cl1ent-S3cret"}, Active: [2]bool{true, false}}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("app", "app", app)
	j, _ := json.Marshal(app)
	for _, s := range []string{fmt.Sprint(app), fmt.Sprintf("%+v %#v %q %s", app, app, app, app), fmt.Sprint(&app), b.String(), string(j)} {
		if strings.Contains(s, "S3cret") {
			t.Errorf("printed the secret: %s", s)
		}
		if !strings.Contains(s, "c") {
			t.Errorf("lost the client ID: %s", s)
		}
	}
}

func TestSlotOfAPIKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int{
		"AAPTxxxx1ABCDEFGHI": 1, "AAPTxxxx2ABCDEFGHI": 2, "AAPTxxxx3ABCDEFGHI": 0, "short": 0, "": 0, "1ABCDEFGHI": 1,
	} {
		if got := arcgis.SlotOfAPIKey(key); got != want {
			t.Errorf("SlotOfAPIKey(%q) = %d, want %d", key, got, want)
		}
	}
}

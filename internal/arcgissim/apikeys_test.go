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
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	keyItem      = "0123456789abcdef0123456789abcdef"
	keyClient    = "apikey-client"
	keySecret    = "apikey-S3cret"
	pRevoke      = "/portal/sharing/rest/oauth2/revokeToken"
	pItems       = "/portal/sharing/rest/content/items/"
	pUserContent = "/portal/sharing/rest/content/users/"
)

func aliceKeyItem() APIKeyItem {
	return APIKeyItem{ItemID: keyItem, Owner: "alice", Title: "keys", ClientID: keyClient, ClientSecret: keySecret,
		Privileges: []string{"premium:user:geocode:temporary"}}
}

func appInfoPath(owner, item string) string {
	return pUserContent + owner + "/items/" + item + "/registeredAppInfo"
}

func updatePath(owner, item string) string {
	return pUserContent + owner + "/items/" + item + "/update"
}

// keyForm is oauth2/token or oauth2/revokeToken for a slot.
func keyForm(slot string, regenerate bool) url.Values {
	f := url.Values{"client_id": {keyClient}, "client_secret": {keySecret}, "grant_type": {"client_credentials"}, "apiToken": {slot}, "f": {"json"}}
	if regenerate {
		f.Set("regenerateApiToken", "true")
	}
	return f
}

// wantKey checks an oauth2/token answer for a slot and returns the key.
func wantKey(t *testing.T, r response, slot int, expiresIn time.Duration) string {
	t.Helper()
	if r.status != http.StatusOK || r.body["error"] != nil {
		t.Fatalf("want a key, got HTTP %d: %s", r.status, r.raw)
	}
	wantKeys(t, r.body, "access_token", "expires_in")
	key, _ := r.body["access_token"].(string)
	// arcgis-rest-js slotForKey: parseInt(key.substring(key.length - 10, key.length - 9)).
	if len(key) < 10 || key[len(key)-10:len(key)-9] != strconv.Itoa(slot) || SlotOfAPIKey(key) != slot {
		t.Fatalf("key does not carry slot %d 10th from its end", slot)
	}
	if !strings.HasPrefix(key, "AAPT") {
		t.Errorf("key does not start like an API key")
	}
	if got, _ := r.body["expires_in"].(json.Number).Int64(); got != int64(expiresIn/time.Second) {
		t.Errorf("expires_in %d, want %d", got, int64(expiresIn/time.Second))
	}
	return key
}

// use presents a key at portals/self, community/self and the server's
// rest/services and returns the error codes (0 for success).
func (h *harness) useKey(key string, hdr http.Header) [3]int {
	h.t.Helper()
	var out [3]int
	for i, path := range []string{pSelf, pCommunitySelf, pServices} {
		hh := bearerHeader(key)
		for k, v := range hdr {
			hh[k] = v
		}
		r := h.do(req{method: http.MethodGet, path: path, header: hh})
		if e, ok := r.body["error"].(map[string]any); ok {
			n, _ := e["code"].(json.Number).Int64()
			out[i] = int(n)
		}
	}
	return out
}

func (h *harness) setDate(slot int, at time.Time, token string) response {
	h.t.Helper()
	f := url.Values{"f": {"json"}, "token": {token}, fmt.Sprintf("apiToken%dExpirationDate", slot): {strconv.FormatInt(at.UnixMilli(), 10)}}
	return h.post(updatePath("alice", keyItem), f)
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	h := start(t, Config{APIKeys: []APIKeyItem{aliceKeyItem()}})
	owner := h.portalToken()
	ok := [3]int{}
	dead := [3]int{498, 498, 498}

	// The app behind the item, as arcgis-rest-js reads it (POST, f=json).
	r := h.post(appInfoPath("alice", keyItem), url.Values{"f": {"json"}, "token": {owner.token}})
	wantKeys(t, r.body, "itemId", "client_id", "client_secret", "appType", "redirect_uris", "registered", "modified",
		"apnsProdCert", "apnsSandboxCert", "gcmApiKey", "httpReferrers", "privileges", "isBeta", "isPersonalAPIToken",
		"apiToken1Active", "apiToken2Active", "customAppLoginShowTriage")
	if r.body["client_id"] != keyClient || r.body["client_secret"] != keySecret || r.body["appType"] != "apikey" ||
		r.body["apiToken1Active"] != false || r.body["apiToken2Active"] != false || r.body["itemId"] != keyItem {
		t.Fatalf("registeredAppInfo: %s", r.raw)
	}
	item := func() map[string]any {
		t.Helper()
		r := h.do(req{method: http.MethodGet, path: pItems + keyItem + "?f=json", header: bearerHeader(owner.token)})
		if r.body["id"] != keyItem || r.body["type"] != "API Key" || r.body["owner"] != "alice" {
			t.Fatalf("item: %s", r.raw)
		}
		return r.body
	}
	if it := item(); it["apiToken1ExpirationDate"] != json.Number("-1") || it["apiToken2ExpirationDate"] != json.Number("-1") {
		t.Fatalf("new item's dates: %v %v", it["apiToken1ExpirationDate"], it["apiToken2ExpirationDate"])
	}

	// Issue slot 1: set its date, regenerate it.
	date1 := t0.Add(90 * 24 * time.Hour)
	if r := h.setDate(1, date1, owner.token); r.body["success"] != true || r.body["id"] != keyItem {
		t.Fatalf("update: %s", r.raw)
	}
	if got := item()["apiToken1ExpirationDate"]; got != json.Number(strconv.FormatInt(date1.UnixMilli(), 10)) {
		t.Errorf("apiToken1ExpirationDate %v, want %d", got, date1.UnixMilli())
	}
	key1 := wantKey(t, h.post(pOAuth, keyForm("1", true)), 1, 90*24*time.Hour)
	if got := h.useKey(key1, nil); got != ok {
		t.Fatalf("key 1 refused: %v", got)
	}
	// Without regenerateApiToken the live key comes back.
	h.clock.Step(time.Hour)
	if again := wantKey(t, h.post(pOAuth, keyForm("1", false)), 1, 90*24*time.Hour-time.Hour); again != key1 {
		t.Error("regenerateApiToken absent: a new key instead of the live one")
	}
	r = h.post(appInfoPath("alice", keyItem), url.Values{"token": {owner.token}})
	if r.body["apiToken1Active"] != true || r.body["apiToken2Active"] != false {
		t.Errorf("after slot 1: %s", r.raw)
	}

	// Rotate to slot 2; both keys work until slot 1 is invalidated.
	date2 := t0.Add(180 * 24 * time.Hour)
	h.setDate(2, date2, owner.token)
	key2 := wantKey(t, h.post(pOAuth, keyForm("2", true)), 2, 180*24*time.Hour-time.Hour)
	if h.useKey(key1, nil) != ok || h.useKey(key2, nil) != ok {
		t.Fatal("both slots should work")
	}
	if r := h.post(pRevoke, keyForm("1", true)); r.raw != `{"success":true}` {
		t.Fatalf("revokeToken: %s", r.raw)
	}
	if got := h.useKey(key1, nil); got != dead {
		t.Errorf("invalidated key 1: %v, want 498 everywhere", got)
	}
	if got := h.useKey(key2, nil); got != ok {
		t.Errorf("key 2 after invalidating slot 1: %v", got)
	}
	r = h.post(appInfoPath("alice", keyItem), url.Values{"token": {owner.token}})
	if r.body["apiToken1Active"] != false || r.body["apiToken2Active"] != true {
		t.Errorf("after invalidating slot 1: %s", r.raw)
	}
	// Invalidating an empty slot is a success too.
	if r := h.post(pRevoke, keyForm("1", true)); r.raw != `{"success":true}` {
		t.Errorf("second revokeToken: %s", r.raw)
	}

	// Regenerating a slot kills the key it held.
	h.setDate(2, t0.Add(200*24*time.Hour), owner.token)
	key2b := wantKey(t, h.post(pOAuth, keyForm("2", true)), 2, 200*24*time.Hour-time.Hour)
	if h.useKey(key2, nil) != dead || h.useKey(key2b, nil) != ok {
		t.Error("regenerate: the old key still works or the new one does not")
	}

	// The key expires at its date, on the service clock.
	h.clock.SetTime(t0.Add(200*24*time.Hour - time.Millisecond))
	if h.useKey(key2b, nil) != ok {
		t.Error("key refused before its date")
	}
	h.clock.SetTime(t0.Add(200 * 24 * time.Hour))
	wantError(t, h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(key2b)}), 498, msgInvalidToken, detailTokenExpired)

	c := h.sim.Counters()
	var actions []string
	for _, e := range c.APIKeyEvents {
		if e.ItemID != keyItem {
			t.Errorf("event for %s", e.ItemID)
		}
		actions = append(actions, fmt.Sprintf("%s%d", e.Action, e.Slot))
	}
	want := []string{"setExpiration1", "generate1", "reuse1", "setExpiration2", "generate2", "invalidate1", "invalidate1", "setExpiration2", "regenerate2"}
	if !slices.Equal(actions, want) {
		t.Errorf("events %v, want %v", actions, want)
	}
	if c.TokensIssued["apikey"] != 3 {
		t.Errorf("apikey issued %d, want 3", c.TokensIssued["apikey"])
	}
	if got := c.Requests[EndpointOAuthRevoke][OutcomeOK]; got != 2 {
		t.Errorf("revokeToken ok %d", got)
	}
	for _, ep := range []string{EndpointRegisteredAppInfo, EndpointItem, EndpointItemUpdate} {
		if c.Total(ep) == 0 {
			t.Errorf("%s not counted", ep)
		}
	}
	secrets := h.sim.Secrets()
	for _, s := range []string{keySecret, key1, key2, key2b} {
		if !slices.Contains(secrets, s) {
			t.Errorf("Secrets() lacks a client secret or key")
		}
	}
	// RevokeAll is the shared key's business, not the keys'.
	h.clock.SetTime(t0)
	h.sim.RevokeAll()
	h.setDate(1, t0.Add(24*time.Hour), h.portalToken().token)
	if k := wantKey(t, h.post(pOAuth, keyForm("1", true)), 1, 24*time.Hour); h.useKey(k, nil) != ok {
		t.Error("a key refused after RevokeAll")
	}
}

func TestAPIKeyDates(t *testing.T) {
	t.Parallel()
	h := start(t, Config{APIKeys: []APIKeyItem{aliceKeyItem()}, ClockOffset: time.Hour})
	owner := h.portalToken().token
	now := t0.Add(time.Hour) // the service's clock
	limit := now.AddDate(1, 0, 0)
	refused := func(slot int, detail string, r response) {
		t.Helper()
		wantError(t, r, 400, msgUnableToUpdateItem, fmt.Sprintf(detail, slot))
	}
	wantOK := func(r response) {
		t.Helper()
		if r.body["success"] != true {
			t.Fatalf("update refused: %s", r.raw)
		}
	}
	wantOK(h.setDate(1, limit, owner))
	refused(1, detailDateTooFar, h.setDate(1, limit.Add(time.Millisecond), owner))
	refused(2, detailDatePast, h.setDate(2, now, owner))
	refused(2, detailDateInvalid, h.post(updatePath("alice", keyItem), url.Values{"token": {owner}, "apiToken2ExpirationDate": {"tomorrow"}}))
	refused(2, detailDateInvalid, h.post(updatePath("alice", keyItem), url.Values{"token": {owner}, "apiToken2ExpirationDate": {"-5"}}))
	// A refused update changes nothing, even the valid half.
	refused(2, detailDateTooFar, h.post(updatePath("alice", keyItem), url.Values{"token": {owner},
		"apiToken1ExpirationDate": {strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10)},
		"apiToken2ExpirationDate": {strconv.FormatInt(limit.Add(time.Hour).UnixMilli(), 10)}}))
	if st := h.sim.APIKeyItems()[0]; !st.Slot1.ExpirationDate.Equal(limit) || !st.Slot2.ExpirationDate.IsZero() {
		t.Errorf("dates after refusals: %+v", st)
	}
	// -1 clears a date; a slot without one gets a key for a year (inferred).
	wantOK(h.post(updatePath("alice", keyItem), url.Values{"token": {owner}, "apiToken1ExpirationDate": {"-1"}}))
	wantKey(t, h.post(pOAuth, keyForm("1", true)), 1, limit.Sub(now))
	if st := h.sim.APIKeyItems()[0]; !st.Slot1.ExpirationDate.Equal(limit) || !st.Slot1.Active || st.Slot1.Generations != 1 {
		t.Errorf("slot 1 after a key without a date: %+v", st.Slot1)
	}
	// A new date leaves the slot's key alone until it is regenerated.
	key, _, _ := h.sim.APIKey(keyItem, 1)
	wantOK(h.setDate(1, now.Add(24*time.Hour), owner))
	if _, exp, _ := h.sim.APIKey(keyItem, 1); !exp.Equal(limit) || h.useKey(key, nil) != [3]int{} {
		t.Errorf("a new date changed the live key: expires %v", exp)
	}
	// Only POST updates.
	wantError(t, h.do(req{method: http.MethodGet, path: updatePath("alice", keyItem) + "?f=json", header: bearerHeader(owner)}), 405, msgMethodNotSupported, detailOperationPostOnly)
	// A slot whose date has passed gets no key.
	wantOK(h.setDate(2, now.Add(time.Minute), owner))
	h.clock.Step(time.Minute)
	r := h.post(pOAuth, keyForm("2", true))
	if e := errorObject(t, r); e["error"] != "invalid_request" || e["error_description"] != oauthSlotExpirationPast {
		t.Errorf("regenerate past its date: %s", r.raw)
	}
}

func TestAPIKeyItemAccess(t *testing.T) {
	t.Parallel()
	bobItem := APIKeyItem{ItemID: "bobitem", Owner: "bob", ClientID: "bob-client", ClientSecret: "bob-secret"}
	oauthItem := APIKeyItem{ItemID: "oauthitem", Owner: "alice", ClientID: "web-client", ClientSecret: "web-secret", AppType: "browser"}
	h := start(t, Config{APIKeys: []APIKeyItem{aliceKeyItem(), bobItem, oauthItem}})
	alice := h.portalToken().token
	bob := wantToken(t, h.post(pGenerate, login("bob", bobPW)), true).token
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	h.setDate(1, t0.Add(time.Hour), alice)
	key := wantKey(t, h.post(pOAuth, keyForm("1", true)), 1, time.Hour)

	notFound := func(r response) {
		t.Helper()
		wantError(t, r, 400, msgItemNotFound)
		if errorObject(t, r)["messageCode"] != "CONT_0001" {
			t.Errorf("messageCode: %s", r.raw)
		}
	}
	denied := func(r response) {
		t.Helper()
		wantError(t, r, 403, msgPermissionDenied, msgPermissionDenied)
	}
	post := func(path, token string) response {
		f := url.Values{"f": {"json"}}
		if token != "" {
			f.Set("token", token)
		}
		return h.post(path, f)
	}
	get := func(path, token string) response {
		return h.do(req{method: http.MethodGet, path: path, header: bearerHeader(token)})
	}

	// registeredAppInfo and update: the owner's user token only.
	for _, path := range []string{appInfoPath("alice", keyItem), updatePath("alice", keyItem)} {
		denied(post(path, bob))      // another user
		denied(post(path, appToken)) // an OAuth app
		denied(post(path, key))      // the item's own key
		wantError(t, post(path, ""), 499, msgTokenRequired, msgTokenRequired)
		wantError(t, post(path, "garbage.."), 498, msgInvalidToken)
	}
	notFound(post(appInfoPath("bob", keyItem), bob))            // bob does not own it
	notFound(post(appInfoPath("alice", "no-such-item"), alice)) // no such item
	notFound(post(updatePath("alice", "no-such-item"), alice))
	// An owner without the privilege to generate API keys.
	denied(post(appInfoPath("bob", "bobitem"), bob))
	denied(post(updatePath("bob", "bobitem"), bob))
	// The item read: the owner only; anonymous and others 403; unknown 400.
	denied(get(pItems+keyItem, bob))
	denied(h.do(req{method: http.MethodGet, path: pItems + keyItem}))
	denied(get(pItems+keyItem, appToken))
	notFound(get(pItems+"no-such-item", alice))
	if r := h.post(pItems+keyItem, url.Values{"token": {alice}, "f": {"json"}}); r.body["id"] != keyItem {
		t.Errorf("item read by POST: %s", r.raw)
	}

	// An item that is not API key credentials.
	r := post(appInfoPath("alice", "oauthitem"), alice)
	if r.body["appType"] != "browser" {
		t.Errorf("registeredAppInfo of an OAuth app: %s", r.raw)
	}
	if r := get(pItems+"oauthitem", alice); r.body["type"] != "Application" {
		t.Errorf("item type: %s", r.raw)
	}
	f := url.Values{"client_id": {"web-client"}, "client_secret": {"web-secret"}, "grant_type": {"client_credentials"}, "apiToken": {"1"}, "regenerateApiToken": {"true"}}
	if e := errorObject(t, h.post(pOAuth, f)); e["error_description"] != oauthNotAPIKeyApp {
		t.Errorf("a key for an OAuth app: %v", e)
	}
	if e := errorObject(t, h.post(pRevoke, f)); e["error_description"] != oauthNotAPIKeyApp {
		t.Errorf("revoking a key of an OAuth app: %v", e)
	}
	// Its app still gets app tokens (client_credentials without apiToken).
	f.Del("apiToken")
	f.Del("regenerateApiToken")
	if r := h.post(pOAuth, f); r.body["access_token"] == nil {
		t.Errorf("client_credentials for a registered app: %s", r.raw)
	}
}

func TestAPIKeyOAuthErrors(t *testing.T) {
	t.Parallel()
	h := start(t, Config{APIKeys: []APIKeyItem{aliceKeyItem()}})
	wantOAuth := func(r response, code, description string) {
		t.Helper()
		e := errorObject(t, r)
		if e["error"] != code || e["error_description"] != description {
			t.Errorf("want %s %q, got %s", code, description, r.raw)
		}
	}
	for _, path := range []string{pOAuth, pRevoke} {
		f := keyForm("1", true)
		f.Set("client_secret", "wrong")
		wantOAuth(h.post(path, f), "invalid_request", "Invalid client_secret")
		f = keyForm("1", true)
		f.Set("client_id", "nobody")
		wantOAuth(h.post(path, f), "invalid_client_id", "Invalid client_id")
		wantOAuth(h.post(path, keyForm("3", true)), "invalid_request", oauthInvalidAPIToken)
		f = keyForm("1", true)
		f.Del("client_id")
		wantOAuth(h.post(path, f), "invalid_request", "client_id not specified")
		// Credentials in the query string and GET are refused, as at every token endpoint.
		wantError(t, h.do(req{path: path + "?client_secret=" + keySecret, form: keyForm("1", true)}), 405, msgMethodNotSupported, detailQueryCredentials)
		wantError(t, h.do(req{method: http.MethodGet, path: path}), 405, msgMethodNotSupported, detailPostOnly)
	}
	f := keyForm("1", true)
	f.Del("client_secret")
	wantOAuth(h.post(pRevoke, f), "invalid_request", "client_secret not specified")
	c := h.sim.Counters()
	if got := len(c.LoginAttempts[AccountKey(RealmOAuth, keyClient)]); got != 2 {
		t.Errorf("%d credential checks for the item's client, want 2", got)
	}
	if len(c.APIKeyEvents) != 0 {
		t.Errorf("refusals changed slots: %v", c.APIKeyEvents)
	}
	// revokeToken for an ordinary OAuth token (arcgis-rest-js revokeToken).
	app := h.post(pOAuth, url.Values{"client_id": {appID}, "client_secret": {appSecret}, "grant_type": {"client_credentials"}})
	appToken, _ := app.body["access_token"].(string)
	if r := h.post(pRevoke, url.Values{"client_id": {appID}, "auth_token": {appToken}, "f": {"json"}}); r.raw != `{"success":true}` {
		t.Fatalf("revokeToken: %s", r.raw)
	}
	wantError(t, h.do(req{method: http.MethodGet, path: pSelf, header: bearerHeader(appToken)}), 498, msgInvalidToken)
}

func TestAPIKeyReferrersAndRealms(t *testing.T) {
	t.Parallel()
	item := aliceKeyItem()
	item.HTTPReferrers = []string{"https://app.example.com/*", "https://*.example.org"}
	item.Slot1 = APIKeySlot{ExpirationDate: t0.Add(time.Hour), Active: true}
	h := start(t, Config{APIKeys: []APIKeyItem{item}})
	standalone := start(t, Config{Standalone: true, APIKeys: []APIKeyItem{item}})
	key, expires, ok := h.sim.APIKey(keyItem, 1)
	if !ok || !expires.Equal(t0.Add(time.Hour)) || SlotOfAPIKey(key) != 1 {
		t.Fatalf("the active slot at start: %v %v", ok, expires)
	}
	for referer, want := range map[string][3]int{
		"https://app.example.com/":        {},
		"https://app.example.com/a/b?c=d": {},
		"https://maps.example.org":        {},
		"https://maps.example.org/page":   {},
		"":                                {498, 498, 498},
		"https://evil.example.net/":       {498, 498, 498},
		"@esri/arcgis-rest-js":            {498, 498, 498},
	} {
		hdr := http.Header{}
		if referer != "" {
			hdr.Set("Referer", referer)
		}
		if got := h.useKey(key, hdr); got != want {
			t.Errorf("Referer %q: %v, want %v", referer, got, want)
		}
	}
	// Keys work at a federated server only.
	skey, _, _ := standalone.sim.APIKey(keyItem, 1)
	hdr := http.Header{"Referer": {"https://app.example.com/"}}
	if got := standalone.useKey(skey, hdr); got != [3]int{0, 0, 498} {
		t.Errorf("standalone: %v, want the server to refuse", got)
	}
	// API keys do not administer the server.
	wantAdminError(t, h.do(req{method: http.MethodGet, path: pAdmin, header: withReferer(bearerHeader(key), "https://app.example.com/")}), 498, msgInvalidToken)
	// portals/self shows the owner and the key's app.
	r := h.do(req{method: http.MethodGet, path: pSelf, header: withReferer(bearerHeader(key), "https://app.example.com/")})
	if ai, _ := r.body["appInfo"].(map[string]any); ai["appId"] != keyClient || ai["appType"] != "apikey" {
		t.Errorf("portals/self with a key: %s", r.raw)
	}
}

func TestAPIKeyControl(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})
	body := `{"itemId":"item9","owner":"alice","clientId":"c9","clientSecret":"s9","slot2":{"expirationDate":"2031-06-01T00:00:00Z","active":true}}`
	if r := h.control(http.MethodPost, "/__sim/apikeys", body); r.status != http.StatusNoContent {
		t.Fatalf("POST /__sim/apikeys: HTTP %d %s", r.status, r.raw)
	}
	key, _, ok := h.sim.APIKey("item9", 2)
	if !ok || h.useKey(key, nil) != [3]int{} {
		t.Fatal("the control API's active slot has no working key")
	}
	r := h.control(http.MethodGet, "/__sim/apikeys", "")
	if !strings.Contains(r.raw, `"itemId":"item9"`) || strings.Contains(r.raw, "s9") || strings.Contains(r.raw, key) {
		t.Errorf("GET /__sim/apikeys: %s", r.raw)
	}
	if r := h.control(http.MethodPost, "/__sim/apikeys/item9/invalidate", `{"slot":2}`); r.status != http.StatusNoContent {
		t.Fatalf("invalidate: HTTP %d %s", r.status, r.raw)
	}
	if h.useKey(key, nil) != [3]int{498, 498, 498} {
		t.Error("a key invalidated from outside still works")
	}
	if ev := h.sim.Counters().APIKeyEvents; len(ev) != 1 || ev[0].Action != APIKeyActionInvalidateExternal || ev[0].Slot != 2 {
		t.Errorf("events %+v", ev)
	}
	for path, body := range map[string]string{
		"/__sim/apikeys/item9/invalidate":   `{"slot":3}`,
		"/__sim/apikeys/nothing/invalidate": `{"slot":1}`,
		"/__sim/apikeys":                    `{"itemId":"x","owner":"alice","clientId":"c9x"}`,
	} {
		if r := h.control(http.MethodPost, path, body); r.status != http.StatusBadRequest {
			t.Errorf("%s %s: HTTP %d", path, body, r.status)
		}
	}
	// A client ID belongs to one item.
	if err := h.sim.SetAPIKeyItem(APIKeyItem{ItemID: "other", Owner: "alice", ClientID: "c9", ClientSecret: "x"}); err == nil {
		t.Error("a second item with the same client ID was accepted")
	}
	if _, err := New(Config{APIKeys: []APIKeyItem{{ItemID: "i", Owner: "o", ClientID: "c", ClientSecret: "s", Slot1: APIKeySlot{Active: true}}}}); err == nil {
		t.Error("an active slot without a date was accepted")
	}
}

func TestAPIKeyFaults(t *testing.T) {
	t.Parallel()
	h := start(t, Config{APIKeys: []APIKeyItem{aliceKeyItem()}})
	owner := h.portalToken().token
	if err := h.sim.InjectFault(Fault{Endpoint: "portal/content", Kind: FaultStatus, Status: 503, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.InjectFault(Fault{Endpoint: EndpointOAuthRevoke, Kind: FaultDrop, Count: 1}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []req{
		{path: appInfoPath("alice", keyItem), form: url.Values{"token": {owner}}},
		{method: http.MethodGet, path: pItems + keyItem, header: bearerHeader(owner)},
		{path: updatePath("alice", keyItem), form: url.Values{"token": {owner}}},
	} {
		if got := h.do(r).status; got != 503 {
			t.Errorf("%s: HTTP %d, want 503", r.path, got)
		}
	}
	if _, err := h.try(req{path: pRevoke, form: keyForm("1", true)}); err == nil {
		t.Error("revokeToken answered through a drop fault")
	}
	c := h.sim.Counters()
	for _, ep := range []string{EndpointRegisteredAppInfo, EndpointItem, EndpointItemUpdate} {
		if c.Requests[ep][OutcomeFaultPrefix+"status"] != 1 {
			t.Errorf("%s: %v", ep, c.Requests[ep])
		}
	}
	if c.Requests[EndpointOAuthRevoke][OutcomeFaultPrefix+"drop"] != 1 {
		t.Errorf("revokeToken: %v", c.Requests[EndpointOAuthRevoke])
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"https://a.com", "https://a.com", true},
		{"https://a.com", "https://a.com/x", false},
		{"https://*.a.com/*", "https://x.a.com/y", true},
		{"https://*.a.com/*", "https://a.com/y", false},
		{"*", "", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"HTTPS://A.COM", "https://a.com", true},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %t", tc.pattern, tc.s, got)
		}
	}
}

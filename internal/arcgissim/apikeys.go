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
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// appTypeAPIKey is the registered app type of API key credentials items.
const appTypeAPIKey = "apikey"

// Item and API key messages. CONT_0001 is what real portals answer for an
// unknown item; the others are inferred.
const (
	msgItemNotFound          = "Item does not exist or is inaccessible."
	messageCodeItemNotFound  = "CONT_0001"
	msgUnableToUpdateItem    = "Unable to update item."
	detailDateTooFar         = "apiToken%dExpirationDate must be at most one year ahead."
	detailDatePast           = "apiToken%dExpirationDate must be in the future."
	detailDateInvalid        = "apiToken%dExpirationDate must be epoch milliseconds or -1."
	oauthInvalidAPIToken     = "apiToken must be 1 or 2"
	oauthNotAPIKeyApp        = "API keys are not supported for this application"
	oauthSlotExpirationPast  = "The expiration date of the API key has passed"
	apiKeyPrefix             = "AAPT"
	apiKeyTailLength         = 9 // characters after the slot digit
	maxAPIKeyLifetimeInYears = 1
)

// APIKeyItem is an API key credentials item in its owner's content, with
// its registered app: up to two keys, "API key 1" and "API key 2", each
// with its own expiration date. With another AppType it is a registered app
// that is not API key credentials (e.g. "multiple", "browser").
type APIKeyItem struct {
	ItemID string `json:"itemId"`
	// Owner is the username that owns the item: only the owner's token reads
	// its app and item and sets its dates.
	Owner string `json:"owner"`
	Title string `json:"title,omitempty"`
	// ClientID and ClientSecret are the registered app's; oauth2/token and
	// oauth2/revokeToken authenticate with them.
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// AppType defaults to "apikey".
	AppType string `json:"appType,omitempty"`
	// HTTPReferrers restrict where keys work: when set, a key works only
	// with a Referer that matches one of them ("*" matches any run of
	// characters; a pattern also matches the referer followed by a path).
	HTTPReferrers []string `json:"httpReferrers,omitempty"`
	// Privileges are the keys' privileges, shown by registeredAppInfo.
	Privileges []string `json:"privileges,omitempty"`
	// Slot1 and Slot2 are the slots' state at creation.
	Slot1 APIKeySlot `json:"slot1,omitzero"`
	Slot2 APIKeySlot `json:"slot2,omitzero"`
}

// APIKeySlot is a slot's state when its item is created.
type APIKeySlot struct {
	// ExpirationDate is the item's apiTokenNExpirationDate; zero means -1
	// (none set).
	ExpirationDate time.Time `json:"expirationDate,omitzero"`
	// Active starts the slot with a live key that expires at
	// ExpirationDate (required), as if someone had generated it earlier for
	// apps outside the test. APIKey returns it.
	Active bool `json:"active,omitempty"`
}

// APIKeySlotState is what the simulator knows of a slot now.
type APIKeySlotState struct {
	// ExpirationDate is the item's date for the slot, zero for -1.
	ExpirationDate time.Time `json:"expirationDate,omitzero"`
	// Active: the slot holds a key that was neither invalidated nor
	// replaced and has not expired (service time).
	Active bool `json:"active"`
	// KeyExpires is the live key's expiry (service time), zero without one.
	KeyExpires time.Time `json:"keyExpires,omitzero"`
	// Generations counts the keys the slot has held.
	Generations int `json:"generations"`
}

// APIKeyItemState is an item's configuration (without its client secret)
// and its slots now.
type APIKeyItemState struct {
	ItemID   string          `json:"itemId"`
	Owner    string          `json:"owner"`
	ClientID string          `json:"clientId"`
	AppType  string          `json:"appType"`
	Slot1    APIKeySlotState `json:"slot1"`
	Slot2    APIKeySlotState `json:"slot2"`
}

// apiKeySlot is a slot's live state.
type apiKeySlot struct {
	expirationDate time.Time // zero: -1
	key            string    // "" when the slot holds no key
	keyExpires     time.Time
	generations    int
}

type apiKeyItem struct {
	cfg      APIKeyItem
	created  time.Time
	modified time.Time
	slots    [3]apiKeySlot // 1 and 2
}

// apiKeyStore holds the items, their slots and the live keys.
type apiKeyStore struct {
	mu       sync.Mutex
	items    map[string]*apiKeyItem // by item ID
	byClient map[string]*apiKeyItem // by client ID
	keys     map[string]keyRef      // live key value -> its slot
	secrets  []string               // every client secret and key, for Secrets
}

type keyRef struct {
	item *apiKeyItem
	slot int
}

func newAPIKeyStore() *apiKeyStore {
	return &apiKeyStore{items: map[string]*apiKeyItem{}, byClient: map[string]*apiKeyItem{}, keys: map[string]keyRef{}}
}

func (st *apiKeyStore) allSecrets() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.secrets)
}

// lookup returns a live key as a token, and the item's referrers.
func (st *apiKeyStore) lookup(v string) (*token, []string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ref, ok := st.keys[v]
	if !ok {
		return nil, nil, false
	}
	it := ref.item
	return &token{
		kind: kindAPIKey, subject: it.cfg.Owner, app: true, expires: it.slots[ref.slot].keyExpires,
		clientID: it.cfg.ClientID, privileges: slices.Clone(it.cfg.Privileges),
	}, slices.Clone(it.cfg.HTTPReferrers), true
}

// newAPIKey returns a key that carries its slot digit as the character 10th
// from its end, as Esri's clients read it (arcgis-rest-js slotForKey).
func newAPIKey(slot int) string {
	var body [48]byte
	_, _ = rand.Read(body[:])
	var tail [apiKeyTailLength]byte
	_, _ = rand.Read(tail[:])
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i, b := range tail {
		tail[i] = alnum[int(b)%len(alnum)]
	}
	return apiKeyPrefix + base64.RawURLEncoding.EncodeToString(body[:]) + strconv.Itoa(slot) + string(tail[:])
}

// SlotOfAPIKey returns the slot digit a key carries (1 or 2), or 0.
func SlotOfAPIKey(key string) int {
	if len(key) < 10 {
		return 0
	}
	switch key[len(key)-10] {
	case '1':
		return 1
	case '2':
		return 2
	}
	return 0
}

// mintLocked puts a new key into a slot, killing the one it held. Locked.
func (st *apiKeyStore) mintLocked(it *apiKeyItem, slot int, expires time.Time) string {
	sl := &it.slots[slot]
	if sl.key != "" {
		delete(st.keys, sl.key)
	}
	v := newAPIKey(slot)
	sl.key, sl.keyExpires = v, expires
	sl.generations++
	st.keys[v] = keyRef{item: it, slot: slot}
	st.secrets = append(st.secrets, v)
	return v
}

// invalidateLocked kills a slot's key; true when there was one.
func (st *apiKeyStore) invalidateLocked(it *apiKeyItem, slot int) bool {
	sl := &it.slots[slot]
	if sl.key == "" {
		return false
	}
	delete(st.keys, sl.key)
	sl.key, sl.keyExpires = "", time.Time{}
	return true
}

func (it *apiKeyItem) isAPIKey() bool { return it.cfg.AppType == appTypeAPIKey }

// active reports a live, unexpired key in a slot at service time now.
func (sl apiKeySlot) active(now time.Time) bool { return sl.key != "" && now.Before(sl.keyExpires) }

func (it *apiKeyItem) state(now time.Time) APIKeyItemState {
	slot := func(n int) APIKeySlotState {
		sl := it.slots[n]
		return APIKeySlotState{ExpirationDate: sl.expirationDate, Active: sl.active(now), KeyExpires: sl.keyExpires, Generations: sl.generations}
	}
	return APIKeyItemState{ItemID: it.cfg.ItemID, Owner: it.cfg.Owner, ClientID: it.cfg.ClientID, AppType: it.cfg.AppType, Slot1: slot(1), Slot2: slot(2)}
}

// validate checks an item before it is stored.
func (item APIKeyItem) validate() error {
	switch {
	case item.ItemID == "" || strings.ContainsAny(item.ItemID, "/?#"):
		return errors.New("arcgissim: an API key item needs an item ID without /, ? or #")
	case item.Owner == "" || strings.ContainsAny(item.Owner, "/?#"):
		return fmt.Errorf("arcgissim: API key item %s needs an owner", item.ItemID)
	case item.ClientID == "" || item.ClientSecret == "":
		return fmt.Errorf("arcgissim: API key item %s needs a client ID and a client secret", item.ItemID)
	}
	for n, sl := range map[int]APIKeySlot{1: item.Slot1, 2: item.Slot2} {
		if sl.Active && sl.ExpirationDate.IsZero() {
			return fmt.Errorf("arcgissim: API key item %s: an active slot %d needs an expiration date", item.ItemID, n)
		}
	}
	return nil
}

// SetAPIKeyItem adds an API key credentials item, or replaces the one with
// the same item ID (its keys die with it). Slots marked Active get a key at
// once (see APIKey).
func (s *Simulator) SetAPIKeyItem(item APIKeyItem) error {
	if item.AppType == "" {
		item.AppType = appTypeAPIKey
	}
	item.HTTPReferrers = slices.Clone(item.HTTPReferrers)
	item.Privileges = slices.Clone(item.Privileges)
	if err := item.validate(); err != nil {
		return err
	}
	st := s.apiKeys
	st.mu.Lock()
	defer st.mu.Unlock()
	if other, ok := st.byClient[item.ClientID]; ok && other.cfg.ItemID != item.ItemID {
		return fmt.Errorf("arcgissim: client ID %s already belongs to item %s", item.ClientID, other.cfg.ItemID)
	}
	if old, ok := st.items[item.ItemID]; ok {
		st.invalidateLocked(old, 1)
		st.invalidateLocked(old, 2)
		delete(st.byClient, old.cfg.ClientID)
	}
	it := &apiKeyItem{cfg: item, created: s.created, modified: s.now().Truncate(time.Millisecond)}
	st.items[item.ItemID] = it
	st.byClient[item.ClientID] = it
	st.secrets = append(st.secrets, item.ClientSecret)
	for n, sl := range map[int]APIKeySlot{1: item.Slot1, 2: item.Slot2} {
		it.slots[n].expirationDate = sl.ExpirationDate
		if sl.Active {
			st.mintLocked(it, n, sl.ExpirationDate)
		}
	}
	return nil
}

// InvalidateAPIKey invalidates a slot's key from outside, as the owner
// would in the portal's UI: the key answers 498 from now on. Invalidating an
// empty slot is not an error.
func (s *Simulator) InvalidateAPIKey(itemID string, slot int) error {
	if slot != 1 && slot != 2 {
		return fmt.Errorf("arcgissim: slot %d: want 1 or 2", slot)
	}
	st := s.apiKeys
	st.mu.Lock()
	it, ok := st.items[itemID]
	if ok {
		st.invalidateLocked(it, slot)
	}
	st.mu.Unlock()
	if !ok {
		return fmt.Errorf("arcgissim: no API key item %q", itemID)
	}
	s.counters.apiKeyEvent(APIKeyEvent{At: s.observed(), ItemID: itemID, Slot: slot, Action: APIKeyActionInvalidateExternal})
	return nil
}

// APIKey returns the live key of a slot and its expiry (service time); ok
// is false when the slot holds none (expired keys are still returned).
func (s *Simulator) APIKey(itemID string, slot int) (key string, expires time.Time, ok bool) {
	st := s.apiKeys
	st.mu.Lock()
	defer st.mu.Unlock()
	it, found := st.items[itemID]
	if !found || (slot != 1 && slot != 2) || it.slots[slot].key == "" {
		return "", time.Time{}, false
	}
	return it.slots[slot].key, it.slots[slot].keyExpires, true
}

// APIKeyItems returns the state of every item, sorted by item ID.
func (s *Simulator) APIKeyItems() []APIKeyItemState {
	now := s.now()
	st := s.apiKeys
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]APIKeyItemState, 0, len(st.items))
	for _, it := range st.items {
		out = append(out, it.state(now))
	}
	slices.SortFunc(out, func(a, b APIKeyItemState) int { return strings.Compare(a.ItemID, b.ItemID) })
	return out
}

// referrerAllowed matches a Referer against an item's referrers; none means
// any referer (or none) is fine.
func referrerAllowed(patterns []string, referer string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		// path.Match's "*" stops at "/", but a referrer's "*" spans paths.
		if glob(p, referer) || glob(strings.TrimRight(p, "/")+"/*", referer) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern in which "*" matches any run of
// characters, case-insensitively.
func glob(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// Responses of the item endpoints.
type (
	registeredAppResponse struct {
		ItemID                   string   `json:"itemId"`
		ClientID                 string   `json:"client_id"`
		ClientSecret             string   `json:"client_secret"`
		AppType                  string   `json:"appType"`
		RedirectURIs             []string `json:"redirect_uris"`
		Registered               int64    `json:"registered"`
		Modified                 int64    `json:"modified"`
		APNSProdCert             *string  `json:"apnsProdCert"`
		APNSSandboxCert          *string  `json:"apnsSandboxCert"`
		GCMAPIKey                *string  `json:"gcmApiKey"`
		HTTPReferrers            []string `json:"httpReferrers"`
		Privileges               []string `json:"privileges"`
		IsBeta                   bool     `json:"isBeta"`
		IsPersonalAPIToken       bool     `json:"isPersonalAPIToken"`
		APIToken1Active          bool     `json:"apiToken1Active"`
		APIToken2Active          bool     `json:"apiToken2Active"`
		CustomAppLoginShowTriage bool     `json:"customAppLoginShowTriage"`
	}
	itemResponse struct {
		ID                      string   `json:"id"`
		Owner                   string   `json:"owner"`
		OrgID                   string   `json:"orgId"`
		Created                 int64    `json:"created"`
		Modified                int64    `json:"modified"`
		Title                   string   `json:"title"`
		Type                    string   `json:"type"`
		TypeKeywords            []string `json:"typeKeywords"`
		Description             *string  `json:"description"`
		Tags                    []string `json:"tags"`
		Snippet                 *string  `json:"snippet"`
		Thumbnail               *string  `json:"thumbnail"`
		Access                  string   `json:"access"`
		Size                    int64    `json:"size"`
		URL                     *string  `json:"url"`
		IsOrgItem               bool     `json:"isOrgItem"`
		OwnerFolder             *string  `json:"ownerFolder"`
		Protected               bool     `json:"protected"`
		ItemControl             string   `json:"itemControl"`
		APIToken1ExpirationDate int64    `json:"apiToken1ExpirationDate"`
		APIToken2ExpirationDate int64    `json:"apiToken2ExpirationDate"`
	}
	updateItemResponse struct {
		Success bool   `json:"success"`
		ID      string `json:"id"`
	}
	successResponse struct {
		Success bool `json:"success"`
	}
)

// epochMillisOrNone is a date as ArcGIS items carry it: epoch ms, -1 for none.
func epochMillisOrNone(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

func itemNotFound() apiError {
	return apiError{outcome: OutcomeNotFound, code: 400, message: msgItemNotFound, messageCode: messageCodeItemNotFound}
}

// itemOwnerCall authenticates a call to content/users/<owner>/items/<id>/…
// and returns the item, or answers: a token is required, only the owner's
// user token is accepted (403 for others, for OAuth app tokens and for
// keys), an unknown item or one the URL's user does not own is 400
// CONT_0001, and an API key item needs an owner with
// PrivilegeGenerateAPIKeys (403).
func (s *Simulator) itemOwnerCall(c *call) (*apiKeyItem, bool) {
	t, ok := s.authenticate(c, true, true)
	if !ok {
		return nil, false
	}
	owner, itemID := c.vars[0], c.vars[1]
	if t.app || t.subject != owner {
		c.fail(permissionDenied())
		return nil, false
	}
	st := s.apiKeys
	st.mu.Lock()
	it, found := st.items[itemID]
	st.mu.Unlock()
	if !found || it.cfg.Owner != owner {
		c.fail(itemNotFound())
		return nil, false
	}
	if it.isAPIKey() && !s.hasPrivilege(owner, PrivilegeGenerateAPIKeys) {
		c.fail(permissionDenied())
		return nil, false
	}
	return it, true
}

// registeredAppInfo is
// /portal/sharing/rest/content/users/<owner>/items/<itemId>/registeredAppInfo:
// the app behind an item, client secret and slot flags included.
func (s *Simulator) registeredAppInfo(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	it, ok := s.itemOwnerCall(c)
	if !ok {
		return
	}
	now := s.now()
	st := s.apiKeys
	st.mu.Lock()
	resp := registeredAppResponse{
		ItemID: it.cfg.ItemID, ClientID: it.cfg.ClientID, ClientSecret: it.cfg.ClientSecret, AppType: it.cfg.AppType,
		RedirectURIs: []string{}, Registered: it.created.UnixMilli(), Modified: it.modified.UnixMilli(),
		HTTPReferrers: append([]string{}, it.cfg.HTTPReferrers...), Privileges: append([]string{}, it.cfg.Privileges...),
		APIToken1Active: it.slots[1].active(now), APIToken2Active: it.slots[2].active(now),
	}
	st.mu.Unlock()
	c.ok(resp)
}

// itemRead is /portal/sharing/rest/content/items/<itemId>: the item, with
// apiToken1ExpirationDate and apiToken2ExpirationDate. Items are private:
// anyone but the owner gets 403 (so does an anonymous request).
func (s *Simulator) itemRead(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	t, ok := s.authenticate(c, true, false)
	if !ok {
		return
	}
	st := s.apiKeys
	st.mu.Lock()
	it, found := st.items[c.vars[0]]
	st.mu.Unlock()
	switch {
	case !found:
		c.fail(itemNotFound())
		return
	case t == nil || t.app || t.subject != it.cfg.Owner:
		c.fail(permissionDenied())
		return
	}
	st.mu.Lock()
	resp := itemResponse{
		ID: it.cfg.ItemID, Owner: it.cfg.Owner, OrgID: orgID, Created: it.created.UnixMilli(), Modified: it.modified.UnixMilli(),
		Title: it.cfg.Title, Type: "Application", TypeKeywords: []string{"Registered App"}, Tags: []string{},
		Access: "private", IsOrgItem: true, ItemControl: "admin",
		APIToken1ExpirationDate: epochMillisOrNone(it.slots[1].expirationDate),
		APIToken2ExpirationDate: epochMillisOrNone(it.slots[2].expirationDate),
	}
	st.mu.Unlock()
	if it.isAPIKey() {
		resp.Type, resp.TypeKeywords = "API Key", []string{"API Key", "Registered App"}
	}
	c.ok(resp)
}

// itemUpdate is
// /portal/sharing/rest/content/users/<owner>/items/<itemId>/update (POST):
// it sets apiToken1ExpirationDate and apiToken2ExpirationDate (epoch ms, or
// -1 for none). A date must be in the future and at most one calendar year
// ahead of the service clock, or the update is refused whole with 400
// (inferred: the limit is documented, the refusal and its wording are not).
// A new date does not touch the slot's current key: it applies to the next
// key the slot gets (inferred from "cannot be changed without invalidating
// it"). Other item fields are accepted and ignored.
func (s *Simulator) itemUpdate(c *call) {
	if !c.checkPostOnly() {
		return
	}
	it, ok := s.itemOwnerCall(c)
	if !ok {
		return
	}
	now := s.now()
	limit := now.AddDate(maxAPIKeyLifetimeInYears, 0, 0)
	dates := map[int]time.Time{}
	for _, n := range []int{1, 2} {
		raw := strings.TrimSpace(c.param(fmt.Sprintf("apiToken%dExpirationDate", n)))
		if raw == "" {
			continue
		}
		ms, err := strconv.ParseInt(raw, 10, 64)
		var detail string
		switch {
		case err != nil || (ms < 0 && ms != -1):
			detail = detailDateInvalid
		case ms == -1:
			dates[n] = time.Time{}
			continue
		case !time.UnixMilli(ms).After(now):
			detail = detailDatePast
		case time.UnixMilli(ms).After(limit):
			detail = detailDateTooFar
		default:
			dates[n] = time.UnixMilli(ms).UTC()
			continue
		}
		c.fail(apiError{outcome: OutcomeBadRequest, code: 400, message: msgUnableToUpdateItem, details: []string{fmt.Sprintf(detail, n)}})
		return
	}
	st := s.apiKeys
	st.mu.Lock()
	for n, d := range dates {
		it.slots[n].expirationDate = d
	}
	it.modified = now.Truncate(time.Millisecond)
	st.mu.Unlock()
	for _, n := range []int{1, 2} {
		if d, set := dates[n]; set {
			s.counters.apiKeyEvent(APIKeyEvent{At: s.observed(), ItemID: it.cfg.ItemID, Slot: n, Action: APIKeyActionSetExpiration, Expires: d})
		}
	}
	c.ok(updateItemResponse{Success: true, ID: it.cfg.ItemID})
}

// parseSlot reads apiToken: 1 or 2.
func parseSlot(raw string) (int, bool) {
	switch strings.TrimSpace(raw) {
	case "1":
		return 1, true
	case "2":
		return 2, true
	}
	return 0, false
}

// apiKeyClient checks an API key item's client credentials for oauth2/token
// and oauth2/revokeToken and counts the check; it answers and returns nil
// on failure.
func (s *Simulator) apiKeyClient(c *call, id, secret string) *apiKeyItem {
	st := s.apiKeys
	st.mu.Lock()
	it, ok := st.byClient[id]
	st.mu.Unlock()
	account := AccountKey(RealmOAuth, id)
	switch {
	case !ok:
		s.counters.login(account, s.observed(), OutcomeInvalidCredentials)
		c.failOAuth(OutcomeInvalidCredentials, "invalid_client_id", "Invalid client_id")
		return nil
	case !equalSecret(it.cfg.ClientSecret, secret):
		s.counters.login(account, s.observed(), OutcomeInvalidCredentials)
		c.failOAuth(OutcomeInvalidCredentials, "invalid_request", "Invalid client_secret")
		return nil
	}
	s.counters.login(account, s.observed(), OutcomeOK)
	return it
}

// apiKeyToken is oauth2/token with apiToken=1|2: the slot's key. With
// regenerateApiToken=true a new key replaces the slot's (the old one stops
// working); without it the slot's live key is returned, or a first one made.
// A new key expires at the slot's expiration date; a slot without one gets
// one year (inferred), and a date already passed is refused (inferred).
// The answer is {"access_token":KEY,"expires_in":SECONDS}.
func (s *Simulator) apiKeyToken(c *call, id, secret string) {
	slot, ok := parseSlot(c.param("apiToken"))
	if !ok {
		c.failOAuth(OutcomeBadRequest, "invalid_request", oauthInvalidAPIToken)
		return
	}
	it := s.apiKeyClient(c, id, secret)
	if it == nil {
		return
	}
	if !it.isAPIKey() {
		c.failOAuth(OutcomeBadRequest, "invalid_request", oauthNotAPIKeyApp)
		return
	}
	regenerate := strings.EqualFold(strings.TrimSpace(c.param("regenerateApiToken")), "true")
	now := s.now()
	st := s.apiKeys
	st.mu.Lock()
	sl := &it.slots[slot]
	action := APIKeyActionGenerate
	var key string
	switch {
	case !regenerate && sl.active(now):
		action, key = APIKeyActionReuse, sl.key
	default:
		if sl.expirationDate.IsZero() {
			sl.expirationDate = now.AddDate(maxAPIKeyLifetimeInYears, 0, 0).Truncate(time.Millisecond)
		}
		if !sl.expirationDate.After(now) {
			st.mu.Unlock()
			c.failOAuth(OutcomeBadRequest, "invalid_request", oauthSlotExpirationPast)
			return
		}
		if sl.key != "" {
			action = APIKeyActionRegenerate
		}
		key = st.mintLocked(it, slot, sl.expirationDate)
	}
	expires := sl.keyExpires
	st.mu.Unlock()
	if action != APIKeyActionReuse {
		s.counters.tokenIssued(kindAPIKey)
	}
	s.counters.apiKeyEvent(APIKeyEvent{At: s.observed(), ItemID: it.cfg.ItemID, Slot: slot, Action: action, Expires: expires})
	c.ok(oauthTokenResponse{AccessToken: key, ExpiresIn: int64(expires.Sub(now) / time.Second)})
}

// oauthRevoke is /portal/sharing/rest/oauth2/revokeToken (POST). With
// apiToken=1|2, client_id and client_secret it invalidates that slot of the
// item whose app it is (no owner token needed) and answers
// {"success":true}, also for an empty slot. Without apiToken it revokes the
// token in auth_token (or token) if it is an OAuth token of client_id, and
// answers {"success":true} either way, as revoking is idempotent.
func (s *Simulator) oauthRevoke(c *call) {
	if !c.checkTokenRequest() {
		return
	}
	id, secret := c.param("client_id"), c.param("client_secret")
	if id == "" {
		c.failOAuth(OutcomeBadRequest, "invalid_request", "client_id not specified")
		return
	}
	if raw := c.param("apiToken"); raw != "" {
		slot, ok := parseSlot(raw)
		if !ok {
			c.failOAuth(OutcomeBadRequest, "invalid_request", oauthInvalidAPIToken)
			return
		}
		if secret == "" {
			c.failOAuth(OutcomeBadRequest, "invalid_request", "client_secret not specified")
			return
		}
		it := s.apiKeyClient(c, id, secret)
		if it == nil {
			return
		}
		if !it.isAPIKey() {
			c.failOAuth(OutcomeBadRequest, "invalid_request", oauthNotAPIKeyApp)
			return
		}
		st := s.apiKeys
		st.mu.Lock()
		st.invalidateLocked(it, slot)
		st.mu.Unlock()
		s.counters.apiKeyEvent(APIKeyEvent{At: s.observed(), ItemID: it.cfg.ItemID, Slot: slot, Action: APIKeyActionInvalidate})
		c.ok(successResponse{Success: true})
		return
	}
	if v := cmp.Or(c.param("auth_token"), c.param("token")); v != "" {
		if t := s.tokens.lookup(v); t != nil && t.app && t.subject == id {
			s.tokens.remove(v)
		}
	}
	c.ok(successResponse{Success: true})
}

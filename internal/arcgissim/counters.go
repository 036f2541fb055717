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
	"maps"
	"slices"
	"sync"
	"time"
)

// Outcomes of a request in Counters.Requests. They match the failure reasons
// of the operator's ArcGIS client where one applies.
const (
	OutcomeOK                 = "ok"
	OutcomeInvalidCredentials = "InvalidCredentials"
	OutcomeAccountLocked      = "AccountLocked"
	OutcomeBadRequest         = "BadRequest"
	OutcomeMethodNotSupported = "MethodNotSupported"
	OutcomeInvalidToken       = "InvalidToken"
	OutcomeTokenRequired      = "TokenRequired"
	OutcomePermissionDenied   = "PermissionDenied"
	OutcomeNotFound           = "NotFound"
	// OutcomeCanceled: the client went away (or the simulator closed) while
	// a FaultDelay held the request.
	OutcomeCanceled = "Canceled"
	// OutcomeFaultPrefix is followed by the FaultKind that answered the
	// request, e.g. "fault:htmlLogin".
	OutcomeFaultPrefix = "fault:"
)

// maxAttemptsPerAccount bounds the login history kept per account so a
// long-running demo cannot grow without limit; the oldest half is dropped.
const maxAttemptsPerAccount = 1 << 16

// Counters is a snapshot of what the simulator has seen since it started or
// since ResetCounters.
type Counters struct {
	// Requests counts requests per endpoint (see the Endpoint constants) and
	// outcome (see the Outcome constants), e.g.
	// {"portal/generateToken":{"ok":3,"InvalidCredentials":1}}.
	Requests map[string]map[string]int `json:"requests"`
	// LoginAttempts lists every credential check per account (see
	// AccountKey), oldest first, with simulated-clock timestamps.
	LoginAttempts map[string][]LoginAttempt `json:"loginAttempts"`
	// TokensIssued counts issued tokens per kind: portal, oauth, server,
	// admin, federated.
	TokensIssued map[string]int `json:"tokensIssued"`
	// InFlight is the number of requests being handled now; PeakInFlight the
	// most handled at once.
	InFlight     int `json:"inFlight"`
	PeakInFlight int `json:"peakInFlight"`
	// TokenInQuery counts requests with a token in the URL query string
	// (accepted on resources, but proxies log URLs).
	TokenInQuery int `json:"tokenInQuery"`
	// CredentialsInQuery counts requests with username, password or
	// client_secret in the URL query string.
	CredentialsInQuery int `json:"credentialsInQuery"`
	// RequestsByDoor counts requests (control API aside) per door: the host
	// name and the context path they came through, e.g. "127.0.0.1/portal",
	// "localhost/arcgis" (a Config.PortalAliases entry), "127.0.0.1/server",
	// or the host alone for other paths.
	RequestsByDoor map[string]int `json:"requestsByDoor"`
	// APIKeyEvents lists what happened to API key slots, oldest first, with
	// Config.Clock timestamps.
	APIKeyEvents []APIKeyEvent `json:"apiKeyEvents"`
}

// API key slot actions in APIKeyEvent.Action.
const (
	// APIKeyActionSetExpiration: the item update set a slot's expiration
	// date (Expires; zero for -1, none).
	APIKeyActionSetExpiration = "setExpiration"
	// APIKeyActionGenerate: oauth2/token made a key for a slot that had
	// none (regenerateApiToken not true).
	APIKeyActionGenerate = "generate"
	// APIKeyActionRegenerate: oauth2/token with regenerateApiToken=true
	// replaced the slot's key; the previous one stopped working.
	APIKeyActionRegenerate = "regenerate"
	// APIKeyActionReuse: oauth2/token without regenerateApiToken returned
	// the slot's live key.
	APIKeyActionReuse = "reuse"
	// APIKeyActionInvalidate: oauth2/revokeToken invalidated the slot.
	APIKeyActionInvalidate = "invalidate"
	// APIKeyActionInvalidateExternal: InvalidateAPIKey (or the control API)
	// invalidated the slot, as someone in the portal's UI would.
	APIKeyActionInvalidateExternal = "invalidateExternal"
)

// APIKeyEvent is one change to an API key slot.
type APIKeyEvent struct {
	At     time.Time `json:"at"`
	ItemID string    `json:"itemId"`
	Slot   int       `json:"slot"`
	Action string    `json:"action"`
	// Expires is the key's expiry (generate, regenerate, reuse) or the date
	// set (setExpiration), in service time; zero for none.
	Expires time.Time `json:"expires,omitzero"`
}

// LoginAttempt is one credential check.
type LoginAttempt struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"` // OutcomeOK, OutcomeInvalidCredentials or OutcomeAccountLocked
}

// Total returns the number of requests to an endpoint, whatever the outcome.
func (c Counters) Total(endpoint string) int {
	n := 0
	for _, v := range c.Requests[endpoint] {
		n += v
	}
	return n
}

// MaxLoginAttemptsWithin returns the largest number of login attempts on an
// account (see AccountKey) inside any half-open time window of the given
// length, e.g. to assert "at most 4 attempts in any 15 minutes".
func (c Counters) MaxLoginAttemptsWithin(account string, window time.Duration) int {
	at := make([]time.Time, 0, len(c.LoginAttempts[account]))
	for _, a := range c.LoginAttempts[account] {
		at = append(at, a.At)
	}
	slices.SortFunc(at, time.Time.Compare)
	best, first := 0, 0
	for last := range at {
		for at[last].Sub(at[first]) >= window {
			first++
		}
		best = max(best, last-first+1)
	}
	return best
}

// counters is the live, locked version of Counters. One short critical
// section per request keeps it cheap under hundreds of concurrent requests.
type counters struct {
	mu                 sync.Mutex
	requests           map[string]map[string]int
	attempts           map[string][]LoginAttempt
	issued             map[string]int
	inFlight, peak     int
	tokenInQuery       int
	credentialsInQuery int
	doors              map[string]int
	apiKeyEvents       []APIKeyEvent
}

func newCounters() *counters {
	c := &counters{}
	c.reset()
	return c
}

// reset zeroes everything but the requests in flight, which are still real.
func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = make(map[string]map[string]int)
	c.attempts = make(map[string][]LoginAttempt)
	c.issued = make(map[string]int)
	c.peak = c.inFlight
	c.tokenInQuery, c.credentialsInQuery = 0, 0
	c.doors = make(map[string]int)
	c.apiKeyEvents = nil
}

// begin records a request arriving, the door it came through, and what its
// URL query carried.
func (c *counters) begin(door string, tokenInQuery, credentialsInQuery bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.doors[door]++
	c.inFlight++
	c.peak = max(c.peak, c.inFlight)
	if tokenInQuery {
		c.tokenInQuery++
	}
	if credentialsInQuery {
		c.credentialsInQuery++
	}
}

// end records a request's outcome once it has been answered.
func (c *counters) end(endpoint, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
	m := c.requests[endpoint]
	if m == nil {
		m = make(map[string]int)
		c.requests[endpoint] = m
	}
	m[outcome]++
}

func (c *counters) login(account string, at time.Time, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.attempts[account]
	if len(list) >= maxAttemptsPerAccount {
		list = append(list[:0:0], list[len(list)/2:]...)
	}
	c.attempts[account] = append(list, LoginAttempt{At: at, Outcome: outcome})
}

func (c *counters) apiKeyEvent(e APIKeyEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.apiKeyEvents) >= maxAttemptsPerAccount {
		c.apiKeyEvents = append(c.apiKeyEvents[:0:0], c.apiKeyEvents[len(c.apiKeyEvents)/2:]...)
	}
	c.apiKeyEvents = append(c.apiKeyEvents, e)
}

func (c *counters) tokenIssued(kind tokenKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.issued[kind.String()]++
}

// snapshot deep-copies the counters.
func (c *counters) snapshot() Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Counters{
		Requests:           make(map[string]map[string]int, len(c.requests)),
		LoginAttempts:      make(map[string][]LoginAttempt, len(c.attempts)),
		TokensIssued:       maps.Clone(c.issued),
		InFlight:           c.inFlight,
		PeakInFlight:       c.peak,
		TokenInQuery:       c.tokenInQuery,
		CredentialsInQuery: c.credentialsInQuery,
		RequestsByDoor:     maps.Clone(c.doors),
		APIKeyEvents:       slices.Clone(c.apiKeyEvents),
	}
	for ep, m := range c.requests {
		out.Requests[ep] = maps.Clone(m)
	}
	for k, v := range c.attempts {
		out.LoginAttempts[k] = slices.Clone(v)
	}
	return out
}

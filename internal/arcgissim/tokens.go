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
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// tokenKind says which endpoint issued a token, and so where it is accepted.
type tokenKind int

const (
	kindPortal    tokenKind = iota // portal generateToken with a username
	kindApp                        // portal oauth2/token (client credentials)
	kindServer                     // server tokens/generateToken
	kindAdmin                      // server admin/generateToken
	kindFederated                  // portal generateToken exchanging a portal token, or with ServerTokensAtPortal a login for the server
	kindAPIKey                     // an API key credentials item's key (never in the tokenStore)
)

// String names the kind as in Counters.TokensIssued.
func (k tokenKind) String() string {
	switch k {
	case kindPortal:
		return "portal"
	case kindApp:
		return "oauth"
	case kindServer:
		return "server"
	case kindAdmin:
		return "admin"
	case kindFederated:
		return "federated"
	case kindAPIKey:
		return "apikey"
	}
	return "unknown"
}

// portalRealm says the portal issued the token; otherwise it belongs to the
// server. Each side accepts only its own tokens.
func (k tokenKind) portalRealm() bool { return k == kindPortal || k == kindApp }

// Client binding types, the generateToken "client" parameter.
const (
	clientReferer   = "referer"
	clientIP        = "ip"
	clientRequestIP = "requestip"
)

// binding is what a token is bound to. The zero value is unbound.
type binding struct {
	client  string     // "", clientReferer, clientIP or clientRequestIP
	referer string     // for clientReferer
	ip      netip.Addr // for clientIP and clientRequestIP
}

// allows reports whether a request may use a token with this binding. The
// referer is compared as a plain string, as ArcGIS does.
func (b binding) allows(r *http.Request, from netip.Addr) bool {
	switch b.client {
	case clientReferer:
		return r.Header.Get("Referer") == b.referer
	case clientIP, clientRequestIP:
		return from == b.ip
	}
	return true
}

// token is an issued token. It is immutable once stored, so readers share it
// without locking.
type token struct {
	kind    tokenKind
	subject string // username, or client ID for app tokens
	app     bool   // subject is an OAuth client ID
	expires time.Time
	bind    binding

	// API keys only.
	clientID   string
	privileges []string
}

// tokenStore maps token values to tokens. A shared-key change (revokeAll)
// swaps the map, which makes every earlier token unknown in O(1), like a real
// portal that can no longer decrypt them.
type tokenStore struct {
	mu     sync.RWMutex
	live   map[string]*token
	issued []string // every value ever issued, for Secrets
}

func newTokenStore() *tokenStore {
	return &tokenStore{live: make(map[string]*token)}
}

// issue stores t under a fresh value and returns the value.
func (s *tokenStore) issue(t *token) string {
	v := newTokenValue()
	s.mu.Lock()
	s.live[v] = t
	s.issued = append(s.issued, v)
	s.mu.Unlock()
	return v
}

// lookup returns the live token with value v, or nil.
func (s *tokenStore) lookup(v string) *token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live[v]
}

// remove forgets one live token.
func (s *tokenStore) remove(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.live[v]
	delete(s.live, v)
	return ok
}

// revokeAll forgets every live token.
func (s *tokenStore) revokeAll() {
	s.mu.Lock()
	s.live = make(map[string]*token)
	s.mu.Unlock()
}

// all returns every value ever issued.
func (s *tokenStore) all() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.issued...)
}

// newTokenValue returns 384 random bits in URL-safe base64 followed by "..",
// which is what real ArcGIS tokens look like.
func newTokenValue() string {
	var b [48]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:]) + ".."
}

// tokenProblem is why a presented token is refused.
type tokenProblem int

const (
	tokenOK         tokenProblem = iota
	tokenUnknown                 // never issued, garbage, or revoked
	tokenWrongRealm              // issued by the other side (portal vs server)
	tokenExpired
	tokenWrongBinding // wrong Referer or client IP
)

// check validates a presented token for the portal (portal true) or the
// server, at the simulated time now.
func (s *tokenStore) check(r *http.Request, from netip.Addr, value string, portal bool, now time.Time) (*token, tokenProblem) {
	t := s.lookup(value)
	switch {
	case t == nil:
		return nil, tokenUnknown
	case t.kind.portalRealm() != portal:
		return t, tokenWrongRealm
	case !now.Before(t.expires):
		return t, tokenExpired
	case !t.bind.allows(r, from):
		return t, tokenWrongBinding
	}
	return t, tokenOK
}

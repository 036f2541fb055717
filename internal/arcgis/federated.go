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
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A federated server's token is exchanged at the portal for a portal token:
// POST <portal>/sharing/rest/generateToken with token=<portal token> and
// serverUrl=<server root>. Portal tokens are cached per account, binding and
// CA bundle until portalTokenMargin before they expire, so that many server
// tokens of one account cost one portal login and one exchange each. An
// expired or revoked portal token cannot be exchanged (498): the cached one
// is then dropped and the exchange retried once with a fresh one.

// portalTokenMargin is how long before its expiry a cached portal token stops
// being used, so an exchange never races the expiry.
const portalTokenMargin = 5 * time.Minute

// maxPortalTokens bounds the portal token cache; reaching it is a sign of
// churning credentials, and the oldest-expiring entries go first.
const maxPortalTokens = 1024

type portalKey struct {
	portal   string
	username string // case-sensitive, as ArcGIS usernames are
	password [sha256.Size]byte
	client   string
	referer  string
	ip       string
	ca       string
}

type portalTokenCache struct {
	mu      sync.Mutex
	entries map[portalKey]issued
	flight  flight[portalKey, issued]
}

func (p *portalTokenCache) lookup(key portalKey, now time.Time) (issued, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it, ok := p.entries[key]
	if !ok {
		return issued{}, false
	}
	if !now.Before(it.expires.Add(-portalTokenMargin)) {
		delete(p.entries, key)
		return issued{}, false
	}
	return it, true
}

func (p *portalTokenCache) store(key portalKey, it issued, now time.Time) {
	if !now.Before(it.expires.Add(-portalTokenMargin)) {
		return // too short-lived to be worth keeping
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = map[portalKey]issued{}
	}
	for k, e := range p.entries {
		if !now.Before(e.expires.Add(-portalTokenMargin)) {
			delete(p.entries, k)
		}
	}
	for len(p.entries) >= maxPortalTokens {
		var victim portalKey
		first := true
		for k, e := range p.entries {
			if first || e.expires.Before(p.entries[victim].expires) {
				victim, first = k, false
			}
		}
		delete(p.entries, victim)
	}
	p.entries[key] = it
}

// drop forgets key's portal token if it is still tok; a fresher one stored
// meanwhile by another caller is kept.
func (p *portalTokenCache) drop(key portalKey, tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.entries[key]; ok && it.token == tok {
		delete(p.entries, key)
	}
}

func (c *Client) portalKeyOf(portal *url.URL, req *TokenRequest) portalKey {
	mac := hmac.New(sha256.New, c.hashKey[:])
	_, _ = mac.Write([]byte(req.Credentials.Password)) // never fails
	k := portalKey{
		portal:   portal.String(),
		username: req.Credentials.Username,
		client:   string(req.Binding.Client),
		referer:  req.Binding.Referer,
		ip:       req.Binding.IP,
		ca:       caKey(req.CABundle),
	}
	copy(k.password[:], mac.Sum(nil))
	return k
}

// issueFederated gets a portal token (cached or fresh) and exchanges it for a
// server token.
func (c *Client) issueFederated(ctx context.Context, req *TokenRequest, sec *secrets) (*Token, *Error) {
	portal, e := parseRoot(req.URL, "url", portalSuffixes)
	if e != nil {
		return nil, at(e, EndpointGenerateToken, nil)
	}
	server, e := parseRoot(req.ServerURL, "serverURL", serverSuffixes)
	if e != nil {
		return nil, at(e, EndpointExchange, nil)
	}
	generate := endpointURL(portal, "/sharing/rest/generateToken")
	// The portal token is the operator's own, used only for the exchange: an
	// IP binding to another address would make it useless to the operator, so
	// it is bound to the operator's address (requestip) and the server token
	// gets the IP binding through the exchange.
	loginReq := *req
	if strings.EqualFold(string(req.Binding.Client), string(ClientIP)) {
		loginReq.Binding = Binding{Client: ClientRequestIP}
	}
	login, e := c.loginCall(&loginReq, generate, sec)
	if e != nil {
		return nil, e
	}
	exchange := url.Values{}
	if _, e := applyBinding(exchange, req.Binding); e != nil {
		return nil, at(e, EndpointExchange, generate)
	}
	if e := setExpiration(exchange, req.ExpirationMinutes); e != nil {
		return nil, at(e, EndpointExchange, generate)
	}
	exchange.Set("serverUrl", server.String())

	key := c.portalKeyOf(portal, &loginReq)
	for attempt := 1; ; attempt++ {
		pt, e := c.portalToken(ctx, key, login)
		if e != nil {
			return nil, e
		}
		sec.add(pt.token)
		form := url.Values{}
		for k, v := range exchange {
			form[k] = append([]string(nil), v...)
		}
		form.Set("token", pt.token)
		it, e := c.postToken(ctx, &call{
			endpoint: EndpointExchange,
			url:      generate,
			form:     form,
			referer:  login.referer,
			client:   login.client,
			secrets:  sec,
			maxBody:  maxTokenBody,
		})
		if e == nil {
			return it.tokenFor(server), nil
		}
		if e.Reason != ReasonInvalidToken || attempt > 1 {
			return nil, e
		}
		c.portals.drop(key, pt.token)
	}
}

// portalToken returns a cached portal token with more than portalTokenMargin
// to live, or logs in; concurrent logins of one account share one request.
func (c *Client) portalToken(ctx context.Context, key portalKey, login *call) (issued, *Error) {
	if it, ok := c.portals.lookup(key, c.clock.Now()); ok {
		return it, nil
	}
	return c.portals.flight.do(ctx, key, 2*c.timeout, func(ctx context.Context) (issued, *Error) {
		// Another caller's login may have finished since the lookup.
		if it, ok := c.portals.lookup(key, c.clock.Now()); ok {
			return it, nil
		}
		it, e := c.postToken(ctx, login)
		if e != nil {
			return issued{}, e
		}
		c.portals.store(key, it, c.clock.Now())
		return it, nil
	})
}

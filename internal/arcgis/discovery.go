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
	"net/url"
	"strings"
	"sync"
	"time"
)

// A standalone ArcGIS Server's token service is not at a fixed path: its
// rest/info says where, in authInfo.tokenServicesUrl (usually
// https://host/<site>/tokens/, and for a federated server the portal's
// generateToken), and whether the server uses tokens at all. The answer is
// cached per server root and CA bundle for Options.DiscoveryTTL, and
// concurrent discoveries of one server share one request.

type discoveryKey struct {
	root string
	ca   string
}

type discoveryEntry struct {
	tokenURL *url.URL
	at       time.Time
}

type discoveryCache struct {
	mu      sync.Mutex
	entries map[discoveryKey]discoveryEntry
	flight  flight[discoveryKey, *url.URL]
}

func (d *discoveryCache) lookup(key discoveryKey, now time.Time, ttl time.Duration) (*url.URL, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[key]
	if !ok {
		return nil, false
	}
	if age := now.Sub(e.at); age < 0 || age >= ttl {
		delete(d.entries, key)
		return nil, false
	}
	return e.tokenURL, true
}

func (d *discoveryCache) store(key discoveryKey, tokenURL *url.URL, now time.Time, ttl time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil {
		d.entries = map[discoveryKey]discoveryEntry{}
	}
	// Sweep stale entries so servers that are gone do not stay forever.
	for k, e := range d.entries {
		if now.Sub(e.at) >= ttl {
			delete(d.entries, k)
		}
	}
	d.entries[key] = discoveryEntry{tokenURL: tokenURL, at: now}
}

func (d *discoveryCache) forget(key discoveryKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.entries, key)
}

// issueServer discovers the server's token service and asks it for a token.
func (c *Client) issueServer(ctx context.Context, req *TokenRequest, sec *secrets) (*Token, *Error) {
	root, e := parseRoot(req.URL, "url", serverSuffixes)
	if e != nil {
		return nil, at(e, EndpointGenerateToken, nil)
	}
	// Check the request before discovery sends anything. The target is
	// filled in once known.
	cl, e := c.loginCall(req, endpointURL(root, "/tokens/generateToken"), sec)
	if e != nil {
		return nil, e
	}
	key := discoveryKey{root: root.String(), ca: caKey(req.CABundle)}
	tokenURL, e := c.discover(ctx, key, root, cl)
	if e != nil {
		return nil, e
	}
	cl.url = tokenURL
	it, e := c.postToken(ctx, cl)
	if e != nil {
		if e.Reason == ReasonServiceUnavailable {
			// The token service may have moved; look again next time.
			c.servers.forget(key)
		}
		return nil, e
	}
	return it.tokenFor(root), nil
}

// discover returns the server's generateToken URL, from the cache or from
// rest/info.
func (c *Client) discover(ctx context.Context, key discoveryKey, root *url.URL, login *call) (*url.URL, *Error) {
	if u, ok := c.servers.lookup(key, c.clock.Now(), c.discoveryTTL); ok {
		return u, nil
	}
	return c.servers.flight.do(ctx, key, 2*c.timeout, func(ctx context.Context) (*url.URL, *Error) {
		cl := &call{
			endpoint: EndpointRestInfo,
			url:      endpointURL(root, "/rest/info"),
			form:     url.Values{},
			referer:  login.referer,
			client:   login.client,
			secrets:  login.secrets,
			maxBody:  maxInfoBody,
		}
		var tokenURL *url.URL
		e := c.post(ctx, cl, func(rep *reply) *Error {
			obj, isJSON := decodeObject(rep.body)
			if e := failure(rep, obj, isJSON, c.clock.Now()); e != nil {
				return e
			}
			var e *Error
			tokenURL, e = readServerInfo(obj, root)
			return e
		})
		if e != nil {
			return nil, e
		}
		c.servers.store(key, tokenURL, c.clock.Now(), c.discoveryTTL)
		return tokenURL, nil
	})
}

// readServerInfo reads the token service URL from a rest/info answer.
func readServerInfo(obj jsonObject, root *url.URL) (*url.URL, *Error) {
	auth := obj.object("authInfo")
	if auth == nil {
		return nil, invalidResponse("rest/info has no authInfo; is the URL the root of an ArcGIS Server site (for example https://host/server)?")
	}
	raw, _ := auth.str("tokenServicesUrl")
	raw = strings.TrimSpace(raw)
	tokenBased, known := auth.boolean("isTokenBasedSecurity")
	if (known && !tokenBased) || (!known && raw == "") {
		return nil, &Error{
			Reason:  ReasonBadRequest,
			Message: "the server does not use token-based security (authInfo.isTokenBasedSecurity is false), so it issues no tokens; check the URL or the server's security settings",
		}
	}
	if raw == "" {
		return nil, invalidResponse("rest/info has no authInfo.tokenServicesUrl")
	}
	return resolveTokenURL(root, raw)
}

// resolveTokenURL turns tokenServicesUrl into the generateToken URL: resolved
// against the server root when relative, with generateToken appended unless
// it is there already. An http:// URL on the server's own host and port is
// upgraded, as servers behind a TLS-terminating proxy often report one; on
// any other host it is refused, as the password would travel in clear text.
func resolveTokenURL(root *url.URL, raw string) (*url.URL, *Error) {
	ref, err := url.Parse(raw)
	if err != nil {
		return nil, invalidResponse("authInfo.tokenServicesUrl is not a valid URL")
	}
	base := *root
	base.Path = root.Path + "/"
	u := base.ResolveReference(ref)
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !strings.EqualFold(u.Host, root.Host) {
			return nil, &Error{
				Reason:  ReasonInvalidResponse,
				Message: "rest/info names a token service on plain http://" + u.Host + "; refusing to send credentials without TLS: fix the server's token service URL",
			}
		}
	default:
		return nil, invalidResponse("authInfo.tokenServicesUrl is not an http(s) URL")
	}
	if u.User != nil || u.Host == "" {
		return nil, invalidResponse("authInfo.tokenServicesUrl is not a usable URL")
	}
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(strings.ToLower(path), "/generatetoken") {
		path += "/generateToken"
	}
	return &url.URL{Scheme: "https", Host: u.Host, Path: path}, nil
}

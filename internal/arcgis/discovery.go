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
	"net/http"
	"net/url"
	"strings"
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// Where a login really goes is not always where the spec points. A
// standalone ArcGIS Server's token service is not at a fixed path: its
// rest/info says where, in authInfo.tokenServicesUrl (usually
// https://host/<site>/tokens/, and for a federated server the portal's
// generateToken), and whether the server uses tokens at all. A portal's
// sharing/rest/info names its own token service the same way, whatever door
// (web adaptor, :7443, an alias) it was asked through. The answers are
// cached per kind, root and CA bundle for Options.DiscoveryTTL, concurrent
// discoveries of one root share one request, and the last answer known is
// kept (bounded, least recently used first out) to be served while the
// service cannot be asked.

type discoveryKind uint8

const (
	serverInfo discoveryKind = iota // <server>/rest/info
	portalInfo                      // <portal>/sharing/rest/info
)

type discoveryKey struct {
	kind discoveryKind
	root string
	ca   string
}

// maxDiscovered bounds each of the discovery caches.
const maxDiscovered = 1024

type discoveryCache struct {
	// fresh holds answers younger than the TTL.
	fresh *utilcache.LRUExpireCache
	// lastGood holds the last answer of every root, whatever its age.
	lastGood *lru.Cache
	flight   flight[discoveryKey, *url.URL]
}

func newDiscoveryCache(clk clock.PassiveClock) *discoveryCache {
	return &discoveryCache{
		fresh:    utilcache.NewLRUExpireCacheWithClock(maxDiscovered, clk),
		lastGood: lru.New(maxDiscovered),
	}
}

func (d *discoveryCache) lookup(key discoveryKey) (*url.URL, bool) {
	if v, ok := d.fresh.Get(key); ok {
		return v.(*url.URL), true
	}
	return nil, false
}

func (d *discoveryCache) store(key discoveryKey, tokenURL *url.URL, ttl time.Duration) {
	// LRUExpireCache serves an entry until strictly after its expiry; the
	// TTL is a lifetime, over at its end.
	d.fresh.Add(key, tokenURL, ttl-time.Nanosecond)
	d.lastGood.Add(key, tokenURL)
}

// stale returns the last answer known for key, however old.
func (d *discoveryCache) stale(key discoveryKey) (*url.URL, bool) {
	if v, ok := d.lastGood.Get(key); ok {
		return v.(*url.URL), true
	}
	return nil, false
}

// forget drops the fresh answer, so that the next caller asks again; the
// last good one stays for when asking fails.
func (d *discoveryCache) forget(key discoveryKey) { d.fresh.Remove(key) }

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
	key := discoveryKey{kind: serverInfo, root: root.String(), ca: caKey(req.CABundle)}
	tokenURL, e := c.discover(ctx, key, endpointURL(root, "/rest/info"), cl.client, cl.referer, sec, readServerInfo(root))
	if e != nil {
		return nil, e
	}
	cl.url = tokenURL
	if isPortalTokenService(tokenURL) {
		// A federated server sends its logins to the portal, which issues a
		// token for the server named by serverUrl (without it, a portal token
		// that the server refuses).
		cl.form.Set("serverUrl", root.String())
	}
	it, e := c.postToken(ctx, cl)
	if e != nil {
		if e.Reason == ReasonServiceUnavailable {
			// The token service may have moved; look again next time.
			c.discovered.forget(key)
		}
		return nil, e
	}
	return it.tokenFor(root), nil
}

// isPortalTokenService says whether a token service URL is a portal's
// generateToken rather than a server's tokens endpoint.
func isPortalTokenService(u *url.URL) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimRight(u.Path, "/")), "/sharing/rest/generatetoken")
}

// discover returns the token service named by an info endpoint: the fresh
// cached answer, or a new one, or when asking fails for a reason that may
// pass, the last answer known.
func (c *Client) discover(ctx context.Context, key discoveryKey, info *url.URL, hc *http.Client, referer string, sec *secrets,
	read func(jsonObject) (*url.URL, *Error)) (*url.URL, *Error) {
	if u, ok := c.discovered.lookup(key); ok {
		return u, nil
	}
	u, e := c.discovered.flight.do(ctx, key, 2*c.timeout, func(ctx context.Context) (*url.URL, *Error) {
		endpoint := EndpointRestInfo
		if key.kind == portalInfo {
			endpoint = EndpointPortalInfo
		}
		cl := &call{
			endpoint: endpoint,
			url:      info,
			form:     url.Values{},
			referer:  referer,
			client:   hc,
			secrets:  sec,
			maxBody:  maxInfoBody,
		}
		var tokenURL *url.URL
		e := c.post(ctx, cl, func(rep *reply) *Error {
			obj, isJSON := decodeObject(rep.body)
			if e := failure(rep, obj, isJSON, c.clock.Now()); e != nil {
				return e
			}
			var e *Error
			tokenURL, e = read(obj)
			return e
		})
		if e != nil {
			return nil, e
		}
		c.discovered.store(key, tokenURL, c.discoveryTTL)
		return tokenURL, nil
	})
	if e != nil && e.Retryable {
		if last, ok := c.discovered.stale(key); ok {
			return last, nil
		}
	}
	return u, e
}

// readServerInfo reads the token service URL from a server's rest/info
// answer.
func readServerInfo(root *url.URL) func(jsonObject) (*url.URL, *Error) {
	return func(obj jsonObject) (*url.URL, *Error) { return serverTokenService(obj, root) }
}

func serverTokenService(obj jsonObject, root *url.URL) (*url.URL, *Error) {
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

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
	"net"
	"net/url"
	"strings"
)

// An account is what ArcGIS locks after 5 failed logins in 15 minutes: one
// username (case-sensitive) in the identity store behind one login endpoint.
// Many URLs lead to one login endpoint: a portal behind a web adaptor and on
// :7443, an ArcGIS Online organisation's URL and www.arcgis.com, a federated
// server whose rest/info sends logins to its portal. So the account is named
// after the login endpoint the service itself names, found by discovery and
// normalised, never after the URL in the spec.

// onlineLogin is ArcGIS Online's one login endpoint, normalised.
const onlineLogin = "https://www.arcgis.com/sharing/rest/generatetoken"

// Account names the account a login for req would be made with:
//
//	user <login endpoint> <username>
//	app <login endpoint> <client ID>
//
// An API key's account is its owner's (user) when a username is given, its
// application's (app) otherwise. The login endpoint is https://, with the host in lower case, the default
// port dropped, the path in lower case and without a trailing slash. Every
// URL that leads to one account gives one name, so that one circuit breaker
// guards it. Discovery (a portal's sharing/rest/info, a server's rest/info)
// sends no credentials; its answer is cached for Options.DiscoveryTTL and the
// last one known is used while the service cannot be asked. Without one, the
// error is a retryable ServiceUnavailable: no login may be made for an
// account that cannot be named. A service that answers definitively (a
// server without token-based security) gives its own reason.
func (c *Client) Account(ctx context.Context, req TokenRequest) (string, error) {
	sec := newSecrets(req.Credentials.Password, req.Credentials.ClientSecret)
	endpoint, e := c.loginEndpoint(ctx, &req, sec)
	if e != nil {
		if e.Retryable {
			e.Reason = ReasonServiceUnavailable
			e.Message = "cannot tell which account the login is for, so none is made: " + e.Message
		}
		e.Login = false
		return "", e.sanitized(sec)
	}
	if req.Type == OAuth || (req.Type == APIKey && req.Credentials.Username == "") {
		return "app " + endpoint + " " + req.Credentials.ClientID, nil
	}
	return "user " + endpoint + " " + req.Credentials.Username, nil
}

// loginEndpoint is the normalised login endpoint of req's account.
func (c *Client) loginEndpoint(ctx context.Context, req *TokenRequest, sec *secrets) (string, *Error) {
	switch req.Type {
	case Portal, Federated, OAuth, APIKey:
		// A federated server token is exchanged from a portal login, and an
		// application's credentials (and an API key's owner) belong to the
		// portal: the portal's login endpoint names the account.
		root, e := parseRoot(req.URL, "url", portalSuffixes)
		if e != nil {
			return "", at(e, EndpointPortalInfo, nil)
		}
		if isOnline(root) {
			return onlineLogin, nil
		}
		hc, e := c.transports.get(req.CABundle)
		if e != nil {
			return "", at(e, EndpointPortalInfo, root)
		}
		referer, _ := refererOf(req.Binding)
		key := discoveryKey{kind: portalInfo, root: root.String(), ca: caKey(req.CABundle)}
		u, e := c.discover(ctx, key, endpointURL(root, "/sharing/rest/info"), hc, referer, sec, readPortalInfo(root))
		if e != nil {
			return "", e
		}
		return normalizeLoginURL(u), nil
	case Server, ServerAdmin:
		root, e := parseRoot(req.URL, "url", serverSuffixes)
		if e != nil {
			return "", at(e, EndpointRestInfo, nil)
		}
		hc, e := c.transports.get(req.CABundle)
		if e != nil {
			return "", at(e, EndpointRestInfo, root)
		}
		referer, _ := refererOf(req.Binding)
		key := discoveryKey{kind: serverInfo, root: root.String(), ca: caKey(req.CABundle)}
		u, e := c.discover(ctx, key, endpointURL(root, "/rest/info"), hc, referer, sec, readServerInfo(root))
		if e != nil {
			return "", e
		}
		if req.Type == ServerAdmin && isPortalTokenService(u) {
			// The administrator API logs in against the server's own store
			// (its primary site administrator, its built-in users), which
			// locks apart from the portal's.
			u = endpointURL(root, "/tokens/generateToken")
		}
		return normalizeLoginURL(u), nil
	}
	return "", invalidRequest("unknown service type %q (want %s, %s, %s, %s or %s)",
		req.Type, Portal, Server, ServerAdmin, Federated, OAuth)
}

// readPortalInfo reads the login endpoint from a portal's sharing/rest/info;
// an answer that names none means the portal's own generateToken.
func readPortalInfo(root *url.URL) func(jsonObject) (*url.URL, *Error) {
	return func(obj jsonObject) (*url.URL, *Error) {
		raw := ""
		if auth := obj.object("authInfo"); auth != nil {
			raw, _ = auth.str("tokenServicesUrl")
		}
		if raw = strings.TrimSpace(raw); raw == "" {
			return endpointURL(root, "/sharing/rest/generateToken"), nil
		}
		return resolveTokenURL(root, raw)
	}
}

// isOnline says whether a root is ArcGIS Online: www.arcgis.com, arcgis.com
// or an organisation's <org>.maps.arcgis.com, which share one login.
func isOnline(u *url.URL) bool {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if p := u.Port(); p != "" && p != "443" {
		return false
	}
	return host == "arcgis.com" || host == "www.arcgis.com" || strings.HasSuffix(host, ".maps.arcgis.com")
}

// normalizeLoginURL is the canonical form of a login endpoint: https, the
// host in lower case without the default port, the path in lower case
// without a trailing slash. The whole path is lower-cased, not only its
// "generateToken": web adaptors on IIS ignore case, and counting two
// spellings as one account is the safe side.
func normalizeLoginURL(u *url.URL) string {
	if isOnline(u) {
		return onlineLogin
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if p := u.Port(); p != "" && p != "443" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), p)
	}
	return "https://" + host + strings.ToLower(strings.TrimRight(u.Path, "/"))
}

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
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Version is the operator's version, sent in the default User-Agent. main
// sets it, before calling New, from its build information.
var Version = "dev"

// Logical endpoints, as reported in Error.Endpoint and Observation.Endpoint.
const (
	// EndpointGenerateToken is a generateToken call with a username and
	// password: portal, server tokens endpoint or administrator API.
	EndpointGenerateToken = "generateToken"
	// EndpointOAuthToken is the portal's oauth2/token.
	EndpointOAuthToken = "oauth2/token"
	// EndpointRestInfo is a server's rest/info, read to discover its token
	// service.
	EndpointRestInfo = "rest/info"
	// EndpointPortalInfo is a portal's sharing/rest/info, read to find the
	// login endpoint an account belongs to.
	EndpointPortalInfo = "sharing/rest/info"
	// EndpointPortalSelf is the portal's portals/self, used to validate
	// portal and OAuth tokens.
	EndpointPortalSelf = "portals/self"
	// EndpointRestServices is a server's rest/services, used to validate
	// server tokens.
	EndpointRestServices = "rest/services"
	// EndpointExchange is the portal's generateToken called with a portal
	// token and a serverUrl: the federated exchange.
	EndpointExchange = "exchange"
)

// ResultSuccess is Observation.Result for a request that succeeded.
const ResultSuccess = "Success"

// Observation describes one HTTP request the client made.
type Observation struct {
	// Host is the service's host (and port).
	Host string
	// Endpoint is the logical endpoint, one of the Endpoint constants.
	Endpoint string
	// Result is ResultSuccess or the failure's Reason.
	Result string
	// HTTPStatus is the status code, 0 when no answer came.
	HTTPStatus int
	// Duration is the wall-clock time from asking for a connection slot to
	// having read and interpreted the answer.
	Duration time.Duration
}

const (
	defaultTimeout              = 30 * time.Second
	defaultMaxConcurrentPerHost = 8
	defaultDiscoveryTTL         = 10 * time.Minute
	// idleConnsUnlimited is the idle connections kept per host when the
	// concurrency per host is not limited.
	idleConnsUnlimited = 32
)

// Options configure a Client. The zero value is a sensible default.
type Options struct {
	// Clock tells the time for expiries (OAuth's relative expires_in, sanity
	// checks), Retry-After dates and cache lifetimes. Default: the real clock.
	Clock clock.PassiveClock
	// Timeout bounds each HTTP request, from sending it to reading the
	// answer, not counting the wait for a connection slot. Zero or negative
	// means 30s.
	Timeout time.Duration
	// UserAgent is sent with every request. Default
	// "arcgis-token-operator/" + Version.
	UserAgent string
	// MaxConcurrentPerHost bounds the requests in flight to one host; more
	// wait (as long as their context allows). 0 means the default, 8; a
	// negative value means no limit.
	MaxConcurrentPerHost int
	// DiscoveryTTL is how long a server's token service URL, read from its
	// rest/info, is reused. Zero or negative means 10m.
	DiscoveryTTL time.Duration
	// Observer, when set, is called once for every HTTP request, after it
	// ends, for metrics. It must be quick and safe for concurrent use.
	Observer func(Observation)
	// Transport replaces the client's own transports, for tests. An
	// *http.Transport is cloned per CA bundle and still held to TLS 1.2+ with
	// certificate verification; any other RoundTripper is used as is, and
	// then only the CA bundle's syntax is checked. Either way requests stay
	// HTTPS POSTs with the rules of this package.
	Transport http.RoundTripper
}

// Client talks to ArcGIS token services. Create it with New; it is safe for
// concurrent use, and meant to be shared: it keeps connection pools,
// discovered token service URLs and federated portal tokens.
type Client struct {
	clock        clock.PassiveClock
	timeout      time.Duration
	userAgent    string
	discoveryTTL time.Duration
	observer     func(Observation)

	transports *transports
	limiter    *hostLimiter
	discovered *discoveryCache
	portals    portalTokenCache
	// hashKey keys the HMAC that stands for a password in cache keys, so
	// that not even a hash of a password sits in memory unsalted.
	hashKey [32]byte
}

var _ TokenIssuer = (*Client)(nil)

// New returns a Client configured by opts.
func New(opts Options) *Client {
	c := &Client{
		clock:        opts.Clock,
		timeout:      opts.Timeout,
		userAgent:    strings.TrimSpace(opts.UserAgent),
		discoveryTTL: opts.DiscoveryTTL,
		observer:     opts.Observer,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "arcgis-token-operator/" + Version
	}
	if c.discoveryTTL <= 0 {
		c.discoveryTTL = defaultDiscoveryTTL
	}
	limit := opts.MaxConcurrentPerHost
	if limit == 0 {
		limit = defaultMaxConcurrentPerHost
	}
	idle := idleConnsUnlimited
	if limit > 0 {
		idle = limit
	}
	c.discovered = newDiscoveryCache(c.clock)
	c.limiter = newHostLimiter(limit)
	c.transports = newTransports(opts.Transport, idle)
	_, _ = rand.Read(c.hashKey[:])
	return c
}

// IssueToken asks the service for a token: one generateToken (or
// oauth2/token) request, after a rest/info discovery for Server when its
// result is not cached; for Federated, a portal login when no cached portal
// token is left, and the exchange. Nothing is retried here, except the
// federated exchange once with a fresh portal token after a 498; retries
// belong to the caller, guided by the *Error's Retryable and RetryAfter.
func (c *Client) IssueToken(ctx context.Context, req TokenRequest) (*Token, error) {
	sec := newSecrets(req.Credentials.Password, req.Credentials.ClientSecret)
	tok, e := c.issue(ctx, &req, sec)
	if e != nil {
		return nil, e.sanitized(sec)
	}
	return tok, nil
}

func (c *Client) issue(ctx context.Context, req *TokenRequest, sec *secrets) (*Token, *Error) {
	switch req.Type {
	case Portal:
		return c.issueLogin(ctx, req, sec, portalSuffixes, "/sharing/rest/generateToken")
	case ServerAdmin:
		return c.issueLogin(ctx, req, sec, serverSuffixes, "/admin/generateToken")
	case Server:
		return c.issueServer(ctx, req, sec)
	case Federated:
		return c.issueFederated(ctx, req, sec)
	case OAuth:
		return c.issueOAuth(ctx, req, sec)
	case APIKey:
		return nil, invalidRequest("API keys are not issued by IssueToken: RegenerateAPIKey mints them")
	}
	return nil, invalidRequest("unknown service type %q (want %s, %s, %s, %s or %s)",
		req.Type, Portal, Server, ServerAdmin, Federated, OAuth)
}

// issueLogin is a username and password generateToken at a fixed path below
// the root: Portal and ServerAdmin.
func (c *Client) issueLogin(ctx context.Context, req *TokenRequest, sec *secrets, suffixes []string, path string) (*Token, *Error) {
	root, e := parseRoot(req.URL, "url", suffixes)
	if e != nil {
		return nil, at(e, EndpointGenerateToken, nil)
	}
	cl, e := c.loginCall(req, endpointURL(root, path), sec)
	if e != nil {
		return nil, e
	}
	it, e := c.postToken(ctx, cl)
	if e != nil {
		return nil, e
	}
	return it.tokenFor(root), nil
}

// loginCall prepares a generateToken call with a username and password.
// Everything that can be checked without the network is checked here, so a
// bad request never reaches a service (and never counts as a failed login).
func (c *Client) loginCall(req *TokenRequest, target *url.URL, sec *secrets) (*call, *Error) {
	if req.Credentials.Username == "" || req.Credentials.Password == "" {
		return nil, at(invalidRequest("a username and a password are required"), EndpointGenerateToken, target)
	}
	form := url.Values{}
	form.Set("username", req.Credentials.Username)
	form.Set("password", req.Credentials.Password)
	referer, e := applyBinding(form, req.Binding)
	if e != nil {
		return nil, at(e, EndpointGenerateToken, target)
	}
	if e := setExpiration(form, req.ExpirationMinutes); e != nil {
		return nil, at(e, EndpointGenerateToken, target)
	}
	client, e := c.transports.get(req.CABundle)
	if e != nil {
		return nil, at(e, EndpointGenerateToken, target)
	}
	return &call{
		endpoint: EndpointGenerateToken,
		url:      target,
		form:     form,
		referer:  referer,
		client:   client,
		secrets:  sec,
		maxBody:  maxTokenBody,
	}, nil
}

// issueOAuth is the client credentials grant. The binding does not apply.
func (c *Client) issueOAuth(ctx context.Context, req *TokenRequest, sec *secrets) (*Token, *Error) {
	root, e := parseRoot(req.URL, "url", portalSuffixes)
	if e != nil {
		return nil, at(e, EndpointOAuthToken, nil)
	}
	target := endpointURL(root, "/sharing/rest/oauth2/token")
	if req.Credentials.ClientID == "" || req.Credentials.ClientSecret == "" {
		return nil, at(invalidRequest("a client ID and a client secret are required"), EndpointOAuthToken, target)
	}
	form := url.Values{}
	form.Set("client_id", req.Credentials.ClientID)
	form.Set("client_secret", req.Credentials.ClientSecret)
	form.Set("grant_type", "client_credentials")
	if e := setExpiration(form, req.ExpirationMinutes); e != nil {
		return nil, at(e, EndpointOAuthToken, target)
	}
	client, e := c.transports.get(req.CABundle)
	if e != nil {
		return nil, at(e, EndpointOAuthToken, target)
	}
	it, e := c.postToken(ctx, &call{
		endpoint: EndpointOAuthToken,
		url:      target,
		form:     form,
		client:   client,
		secrets:  sec,
		maxBody:  maxTokenBody,
	})
	if e != nil {
		return nil, e
	}
	return it.tokenFor(root), nil
}

// postToken sends a call to a token endpoint and reads the token.
func (c *Client) postToken(ctx context.Context, cl *call) (issued, *Error) {
	var it issued
	e := c.post(ctx, cl, func(rep *reply) *Error {
		var e *Error
		it, e = interpretTokenReply(rep, c.clock.Now(), cl.secrets)
		return e
	})
	if e != nil {
		return issued{}, loginFailure(cl, e)
	}
	return it, nil
}

// loginFailure completes the classification of a failed login. ArcGIS words
// a refused password in many ways, and some deployments answer a login with
// HTTP 401 or code 401 in unknown words: at a token endpoint that was sent a
// password or client secret, a 401 in an ArcGIS answer is a refusal of the
// credentials. A 401 page that is not ArcGIS JSON (a web tier asking for its
// own login) stays ServiceUnavailable.
func loginFailure(cl *call, e *Error) *Error {
	if cl.carriesCredentials() && e.Reason == ReasonBadRequest && (e.Code == http.StatusUnauthorized || e.HTTPStatus == http.StatusUnauthorized) {
		e.Reason, e.Retryable = ReasonInvalidCredentials, false
	}
	return e
}

func (it issued) tokenFor(root *url.URL) *Token {
	return &Token{Token: it.token, Expires: it.expires, Lifetime: it.lifetime, ClockSkew: it.skew, SSL: it.ssl, ServiceURL: root.String()}
}

// at completes a local error with the endpoint and, when known, the host.
func at(e *Error, endpoint string, target *url.URL) *Error {
	if e.Endpoint == "" {
		e.Endpoint = endpoint
	}
	if e.Host == "" && target != nil {
		e.Host = target.Host
	}
	return e
}

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
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxTokenBody bounds the body of a token answer: a few hundred bytes
	// when all is well, a few KiB for an error page.
	maxTokenBody = 1 << 20
	// maxInfoBody bounds portals/self, rest/info and rest/services, which
	// list an organisation's settings or a folder's services and can be big.
	maxInfoBody = 8 << 20
	// drainLimit is how much of an unread body is read so that the connection
	// can be kept alive; beyond that it is cheaper to close it.
	drainLimit = 64 << 10
)

// Suffixes people paste after a service root by mistake; they are removed so
// that the endpoints below are appended to the real root.
var (
	portalSuffixes = []string{"/sharing/rest", "/sharing"}
	serverSuffixes = []string{"/rest/services", "/rest", "/admin", "/tokens"}
)

// call is one HTTP request to an ArcGIS endpoint.
type call struct {
	endpoint string // logical endpoint: EndpointGenerateToken, …
	url      *url.URL
	form     url.Values
	referer  string // sent as the Referer header when not empty
	client   *http.Client
	secrets  *secrets
	maxBody  int64
}

// carriesCredentials says whether the call sends a password or a client
// secret: a login the service may count against the account.
func (cl *call) carriesCredentials() bool {
	return cl.form.Has("password") || cl.form.Has("client_secret")
}

// host is the host (and port) the call goes to.
func (cl *call) host() string { return cl.url.Host }

// invalidRequest is a request refused before anything was sent.
func invalidRequest(format string, args ...any) *Error {
	return &Error{Reason: ReasonInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// parseRoot checks a service root URL and normalises it: https only, a host,
// no user info, query or fragment, no trailing slash, and none of the given
// API suffixes.
func parseRoot(raw, field string, suffixes []string) (*url.URL, *Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, invalidRequest("%s is empty", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, which may hold a secret: say less.
		return nil, invalidRequest("%s is not a valid URL", field)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		e := invalidRequest("%s is an http:// URL: credentials and tokens are only ever sent over https://, so nothing was sent; use the service's https:// address", field)
		e.Host = u.Host
		return nil, e
	default:
		return nil, invalidRequest("%s must be an absolute https:// URL", field)
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return nil, invalidRequest("%s has no host", field)
	case u.User != nil:
		return nil, invalidRequest("%s must not hold a user name or password; credentials are sent in the request body", field)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, invalidRequest("%s must not carry a query or fragment", field)
	}
	path := strings.TrimRight(u.Path, "/")
	lower := strings.ToLower(path)
	for _, suffix := range suffixes {
		if strings.HasSuffix(lower, suffix) {
			path = strings.TrimRight(path[:len(path)-len(suffix)], "/")
			break
		}
	}
	return &url.URL{Scheme: "https", Host: u.Host, Path: path}, nil
}

// endpointURL appends an endpoint path to a root from parseRoot.
func endpointURL(root *url.URL, path string) *url.URL {
	u := *root
	u.Path = root.Path + path
	u.RawPath = ""
	return &u
}

// applyBinding adds the client binding to a generateToken form and returns
// the Referer header to send, if any.
func applyBinding(form url.Values, b Binding) (string, *Error) {
	switch {
	case b.Client == "":
		// Unbound: the service decides (often a short-lived requestip token).
		return "", nil
	case strings.EqualFold(string(b.Client), string(ClientReferer)):
		ref := strings.TrimSpace(b.Referer)
		if ref == "" {
			return "", invalidRequest("client binding %q needs a referer", ClientReferer)
		}
		if !validHeaderValue(ref) {
			return "", invalidRequest("the referer holds control characters")
		}
		form.Set("client", string(ClientReferer))
		form.Set("referer", ref)
		return ref, nil
	case strings.EqualFold(string(b.Client), string(ClientIP)):
		ip := strings.TrimSpace(b.IP)
		if net.ParseIP(ip) == nil {
			return "", invalidRequest("client binding %q needs an IP address", ClientIP)
		}
		form.Set("client", string(ClientIP))
		form.Set("ip", ip)
		return "", nil
	case strings.EqualFold(string(b.Client), string(ClientRequestIP)):
		form.Set("client", string(ClientRequestIP))
		return "", nil
	default:
		return "", invalidRequest("unknown client binding %q (want %s, %s or %s)", b.Client, ClientReferer, ClientIP, ClientRequestIP)
	}
}

// refererOf returns the Referer header a referer-bound token must be sent
// with, for calls that use a token rather than get one.
func refererOf(b Binding) (string, *Error) {
	if !strings.EqualFold(string(b.Client), string(ClientReferer)) {
		return "", nil
	}
	return applyBinding(url.Values{}, b)
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// setExpiration adds the lifetime asked for, in minutes. Zero leaves it to
// the service's default.
func setExpiration(form url.Values, minutes int) *Error {
	switch {
	case minutes < 0:
		return invalidRequest("expiration must not be negative, got %d minutes", minutes)
	case minutes > 0:
		form.Set("expiration", strconv.Itoa(minutes))
	}
	return nil
}

// post sends one call and hands the reply to handle, then reports the
// outcome to the observer. Every error it returns names the endpoint and host
// and is sanitised against the call's secrets.
func (c *Client) post(ctx context.Context, cl *call, handle func(*reply) *Error) *Error {
	start := time.Now() // real time: the observer reports latency
	status, e := c.roundTrip(ctx, cl, handle)
	if e != nil {
		if e.Endpoint == "" {
			e.Endpoint = cl.endpoint
		}
		if e.Host == "" {
			e.Host = cl.host()
		}
		if e.HTTPStatus == 0 {
			e.HTTPStatus = status
		}
		e.Login = cl.carriesCredentials()
		e = e.sanitized(cl.secrets)
	}
	if c.observer != nil {
		result := ResultSuccess
		if e != nil {
			result = string(e.Reason)
		}
		c.observer(Observation{
			Host:       cl.host(),
			Endpoint:   cl.endpoint,
			Result:     result,
			HTTPStatus: status,
			Duration:   time.Since(start),
		})
	}
	return e
}

// roundTrip waits for a slot on the host, sends the request and reads the
// reply. The per-request timeout starts once the slot is held, so that
// queueing behind other requests to a slow host is bounded by the caller's
// context only.
func (c *Client) roundTrip(ctx context.Context, cl *call, handle func(*reply) *Error) (int, *Error) {
	release, err := c.limiter.acquire(ctx, cl.host())
	if err != nil {
		return 0, contextError(ctx, err, "while waiting for a free connection slot")
	}
	defer release()

	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	cl.form.Set("f", "json")
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, cl.url.String(), strings.NewReader(cl.form.Encode()))
	if err != nil {
		return 0, invalidRequest("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.referer != "" {
		req.Header.Set("Referer", cl.referer)
	}

	resp, err := cl.client.Do(req)
	if err != nil {
		return 0, c.transportError(ctx, reqCtx, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cl.maxBody+1))
	if err != nil {
		return resp.StatusCode, c.transportError(ctx, reqCtx, err)
	}
	if int64(len(body)) > cl.maxBody {
		e := invalidResponse("the answer is larger than %d bytes", cl.maxBody)
		return resp.StatusCode, e
	}
	return resp.StatusCode, handle(&reply{status: resp.StatusCode, header: resp.Header, body: body})
}

// contextError describes a request ended by its context: the caller's
// cancellation or deadline, or the per-request timeout.
func contextError(parent context.Context, err error, when string) *Error {
	cause := context.Cause(parent)
	if cause == nil {
		cause = err
	}
	e := &Error{Reason: ReasonServiceUnavailable, Retryable: true}
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
		e.Message = "the caller's deadline passed " + when
	default:
		e.cause = context.Canceled
		e.Message = "the request was cancelled " + when
	}
	return e
}

// transportError describes a failed exchange from the type of the error,
// never from its text alone: net/url errors quote the URL, and nothing the
// client sends must show up in a message.
func (c *Client) transportError(parent, reqCtx context.Context, err error) *Error {
	if parent.Err() != nil {
		return contextError(parent, parent.Err(), "while talking to the service")
	}
	var redirect *redirectError
	if errors.As(err, &redirect) {
		return &Error{Reason: ReasonBadRequest, Message: redirect.msg}
	}
	e := &Error{Reason: ReasonServiceUnavailable, Retryable: true}
	if reqCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		e.cause = context.DeadlineExceeded
		e.Message = fmt.Sprintf("no answer within the timeout of %s", c.timeout)
		return e
	}
	e.Message = describeNetError(err)
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ServiceRoot returns the canonical form of a service root, as the client
// uses it: https, the host in lower case and without the default port, no
// trailing slash, and without an API path pasted after the root. portal picks
// the portal's API paths (/sharing/rest) rather than the server's (/rest,
// /admin, /tokens). Two spellings of one service give the same root.
func ServiceRoot(raw string, portal bool) (string, error) {
	suffixes := serverSuffixes
	if portal {
		suffixes = portalSuffixes
	}
	u, err := parseRoot(raw, "url", suffixes)
	if err != nil {
		return "", err
	}
	u.Host = strings.ToLower(u.Host)
	if u.Port() == "443" {
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // IPv6
		}
		u.Host = h
	}
	return u.String(), nil
}

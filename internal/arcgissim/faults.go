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
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind is how an injected fault answers a request.
type FaultKind string

const (
	// FaultHTMLError answers with an HTML error page (a web adaptor that
	// cannot reach ArcGIS Server), HTTP 200 unless Status says otherwise.
	FaultHTMLError FaultKind = "htmlError"
	// FaultHTMLLogin answers with an HTML sign-in page, as web-tier
	// authentication or an identity provider does, HTTP 200.
	FaultHTMLLogin FaultKind = "htmlLogin"
	// FaultHTMLInvalidToken answers with an HTML page saying "Invalid Token",
	// as tile and image endpoints do, HTTP 200.
	FaultHTMLInvalidToken FaultKind = "htmlInvalidToken"
	// FaultStatus answers with Status (400–599, e.g. 401, 403, 502 or 503)
	// and Body, or a small HTML page when Body is empty, and a Retry-After
	// header when RetryAfter is set. Body is sent as application/json when
	// it is valid JSON, else as text/html: a web tier or WAF refusing a
	// probe (e.g. WAFForbiddenHTML or WAFForbiddenJSON with 403).
	FaultStatus FaultKind = "status"
	// FaultDelay holds the request for Delay, then handles it normally. It
	// gives up as soon as the client cancels or the simulator closes.
	FaultDelay FaultKind = "delay"
	// FaultDrop hijacks the connection and closes it without a response.
	FaultDrop FaultKind = "drop"
	// FaultJSON answers with Body verbatim as application/json, with Status
	// (default 200): e.g. SSLRequiredBody or PermissionDeniedBody.
	FaultJSON FaultKind = "json"
)

// Canned bodies for FaultJSON, as real ArcGIS sends them.
const (
	// SSLRequiredBody is a portal's answer to http:// when HTTPS is required;
	// the simulator only speaks HTTPS, so it can only be injected.
	SSLRequiredBody = `{"error":{"code":403,"message":"SSL Required","details":[]}}`
	// PermissionDeniedBody is the REST API's answer to a valid token that
	// lacks rights.
	PermissionDeniedBody = `{"error":{"code":403,"message":"` + msgPermissionDenied + `","messageCode":"GWM_0003","details":["` + msgPermissionDenied + `"]}}`
)

// Bodies a web application firewall or web tier sends when it blocks a
// request, for FaultStatus (typically with Status 403).
const (
	WAFForbiddenHTML = `<!DOCTYPE html>
<html><head><title>403 Forbidden</title></head>
<body><h1>Request blocked</h1><p>The request was rejected by the web application firewall. Reference ID: 0.5d1f2e17.1700000000.abc123</p></body></html>
`
	WAFForbiddenJSON = `{"status":403,"error":"Forbidden","message":"Request blocked by security policy","requestId":"5d1f2e17-abc123"}`
)

// Fault is a failure to inject. The first fault in injection order whose
// Endpoint matches answers the request.
type Fault struct {
	// Endpoint selects requests: an Endpoint constant (that endpoint only:
	// EndpointAdmin does not select EndpointAdminGenerateToken), another
	// prefix of whole segments ("portal" or "server" match all of that side,
	// "portal/content" the item endpoints), or "" for every endpoint. The
	// control API under /__sim/ is never affected.
	Endpoint string
	Kind     FaultKind
	// Status is the HTTP status for FaultStatus (required), FaultJSON and
	// FaultHTMLError (default 200).
	Status int
	// Body is the JSON body of FaultJSON, or the body of FaultStatus.
	Body string
	// Delay is how long FaultDelay holds a request.
	Delay time.Duration
	// RetryAfter, when set, adds a Retry-After header (whole seconds) to
	// FaultStatus and FaultJSON answers.
	RetryAfter time.Duration
	// Count is how many requests the fault answers; 0 means until cleared.
	Count int
}

// faultJSON is Fault on the wire, with durations as strings like "1.5s".
type faultJSON struct {
	Endpoint   string    `json:"endpoint,omitempty"`
	Kind       FaultKind `json:"kind"`
	Status     int       `json:"status,omitempty"`
	Body       string    `json:"body,omitempty"`
	Delay      string    `json:"delay,omitempty"`
	RetryAfter string    `json:"retryAfter,omitempty"`
	Count      int       `json:"count,omitempty"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	w := faultJSON{Endpoint: f.Endpoint, Kind: f.Kind, Status: f.Status, Body: f.Body, Count: f.Count}
	if f.Delay != 0 {
		w.Delay = f.Delay.String()
	}
	if f.RetryAfter != 0 {
		w.RetryAfter = f.RetryAfter.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads durations as Go duration strings, e.g. "250ms".
func (f *Fault) UnmarshalJSON(data []byte) error {
	var w faultJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	out := Fault{Endpoint: w.Endpoint, Kind: w.Kind, Status: w.Status, Body: w.Body, Count: w.Count}
	var err error
	if w.Delay != "" {
		if out.Delay, err = time.ParseDuration(w.Delay); err != nil {
			return fmt.Errorf("delay: %w", err)
		}
	}
	if w.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(w.RetryAfter); err != nil {
			return fmt.Errorf("retryAfter: %w", err)
		}
	}
	*f = out
	return nil
}

// matches reports whether the fault selects an endpoint.
func (f Fault) matches(endpoint string) bool {
	switch {
	case f.Endpoint == "" || f.Endpoint == endpoint:
		return true
	case slices.Contains(allEndpoints, f.Endpoint):
		// An endpoint's name selects it alone, so that a fault on a probe
		// (server/admin) leaves token issuance (server/admin/generateToken)
		// alone.
		return false
	}
	return strings.HasPrefix(endpoint, f.Endpoint+"/")
}

// validate catches typos early: a fault that never fires makes a test pass
// for the wrong reason.
func (f Fault) validate() error {
	if f.Endpoint != "" && !anyEndpointMatches(f) {
		return fmt.Errorf("arcgissim: fault endpoint %q matches no endpoint", f.Endpoint)
	}
	if f.Count < 0 {
		return fmt.Errorf("arcgissim: fault count %d is negative", f.Count)
	}
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		return fmt.Errorf("arcgissim: fault status %d is not an HTTP status", f.Status)
	}
	if f.RetryAfter < 0 {
		return fmt.Errorf("arcgissim: fault retryAfter is negative")
	}
	switch f.Kind {
	case FaultHTMLError, FaultHTMLLogin, FaultHTMLInvalidToken, FaultDrop:
	case FaultStatus:
		if f.Status < 400 {
			return fmt.Errorf("arcgissim: a %s fault needs a status between 400 and 599", f.Kind)
		}
	case FaultDelay:
		if f.Delay <= 0 {
			return fmt.Errorf("arcgissim: a %s fault needs a positive delay", f.Kind)
		}
	case FaultJSON:
		if !json.Valid([]byte(f.Body)) {
			return fmt.Errorf("arcgissim: a %s fault needs a valid JSON body", f.Kind)
		}
	default:
		return fmt.Errorf("arcgissim: unknown fault kind %q", f.Kind)
	}
	return nil
}

func anyEndpointMatches(f Fault) bool {
	for _, ep := range allEndpoints {
		if f.matches(ep) {
			return true
		}
	}
	return false
}

// faultEntry is an injected fault and how many more requests it answers;
// remaining < 0 means until cleared.
type faultEntry struct {
	Fault
	remaining int
}

// faultList is the injected faults in order.
type faultList struct {
	mu      sync.Mutex
	entries []*faultEntry
}

func (l *faultList) add(f Fault) {
	remaining := f.Count
	if remaining == 0 {
		remaining = -1
	}
	l.mu.Lock()
	l.entries = append(l.entries, &faultEntry{Fault: f, remaining: remaining})
	l.mu.Unlock()
}

func (l *faultList) clear() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// list returns the active faults, with Count set to what remains.
func (l *faultList) list() []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Fault, 0, len(l.entries))
	for _, e := range l.entries {
		f := e.Fault
		f.Count = max(e.remaining, 0)
		out = append(out, f)
	}
	return out
}

// take consumes one use of the first fault matching endpoint.
func (l *faultList) take(endpoint string) (Fault, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if !e.matches(endpoint) {
			continue
		}
		if e.remaining > 0 {
			e.remaining--
			if e.remaining == 0 {
				l.entries = append(l.entries[:i:i], l.entries[i+1:]...)
			}
		}
		return e.Fault, true
	}
	return Fault{}, false
}

// HTML bodies of the HTML faults, modelled on what real deployments send.
const (
	htmlErrorPage = `<!DOCTYPE html>
<html><head><title>ArcGIS Web Adaptor</title></head>
<body><h2>Error</h2><p>Could not access any server machines. Please contact your system administrator.</p></body></html>
`
	htmlLoginPage = `<!DOCTYPE html>
<html><head><title>Sign In</title></head>
<body><form method="post" action="/adfs/ls/"><label>User name <input name="UserName"></label>
<label>Password <input name="Password" type="password"></label><button type="submit">Sign in</button></form></body></html>
`
	htmlInvalidTokenPage = `<!DOCTYPE html>
<html><head><title>Error: Invalid Token</title></head>
<body><h1>Invalid Token</h1><p>Error: Invalid Token</p></body></html>
`
)

// applyFault answers the request if a fault selects it, and reports whether
// it did. A FaultDelay that runs its course answers nothing: the request then
// proceeds as normal.
func (s *Simulator) applyFault(c *call) bool {
	f, ok := s.faults.take(c.endpoint)
	if !ok {
		return false
	}
	outcome := OutcomeFaultPrefix + string(f.Kind)
	switch f.Kind {
	case FaultDelay:
		timer := time.NewTimer(f.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
			return false
		case <-c.r.Context().Done():
			c.outcome = OutcomeCanceled
			return true
		case <-s.done:
			c.outcome = OutcomeCanceled
			c.drop()
			return true
		}
	case FaultDrop:
		c.outcome = outcome
		c.drop()
		return true
	case FaultHTMLError:
		c.writeRaw(cmp.Or(f.Status, http.StatusOK), "text/html; charset=utf-8", htmlErrorPage)
	case FaultHTMLLogin:
		c.writeRaw(http.StatusOK, "text/html; charset=utf-8", htmlLoginPage)
	case FaultHTMLInvalidToken:
		c.writeRaw(http.StatusOK, "text/html; charset=utf-8", htmlInvalidTokenPage)
	case FaultStatus:
		setRetryAfter(c.w, f.RetryAfter)
		switch {
		case f.Body == "":
			c.writeRaw(f.Status, "text/html; charset=utf-8",
				fmt.Sprintf("<html><body><h1>%d %s</h1></body></html>\n", f.Status, http.StatusText(f.Status)))
		case json.Valid([]byte(f.Body)):
			c.writeRaw(f.Status, "application/json; charset=utf-8", f.Body)
		default:
			c.writeRaw(f.Status, "text/html; charset=utf-8", f.Body)
		}
	case FaultJSON:
		setRetryAfter(c.w, f.RetryAfter)
		c.writeRaw(cmp.Or(f.Status, http.StatusOK), "application/json; charset=utf-8", f.Body)
	}
	c.outcome = outcome
	return true
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// drop closes the client's connection without an answer. The outcome is
// counted first: the client sees the drop the moment the connection closes,
// before the handler returns, and a test that reads the counters as soon as
// its request failed must find it there. The server speaks HTTP/1.1 only, so
// hijacking works; should it not, aborting the handler has the same effect
// on the wire.
func (c *call) drop() {
	c.count()
	if conn, _, err := http.NewResponseController(c.w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

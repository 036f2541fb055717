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

package arcgis_test

// The client against the simulator over real HTTPS on loopback: every row of
// ARCGIS.md (the notes on how real token services behave) that a client can
// meet, seen from both sides; docs/arcgis-behaviours.md maps rows to tests. Each
// case starts its own simulator and client sharing one fake clock, so cases
// run in parallel and expiry is a clock step, never a sleep. Every simulator
// is checked, when its case ends, for credentials or tokens in a URL query
// and for requests it refused as malformed (see newSimEnv), and every failure
// for leaked secrets (see checkError).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
)

// Accounts of every simulator; bob has no administrative rights.
const (
	simAlicePW     = "alice-Corr3ct-Horse-PW"
	simBobPW       = "bob-Batt3ry-Staple-PW"
	simAppID       = "app1"
	simAppSecret   = "app1-Cl1ent-S3cret-Value"
	simWrongPW     = "Wr0ng-Password-Guess"
	simWrongSecret = "Wr0ng-Client-Secret-Guess"
	simReferer     = "https://apps.example.com/viewer"
)

// simStart is the fake clock's start, far from the real time so that a time
// taken from the wrong clock shows.
var simStart = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// simEnv is one simulator and one client sharing a fake clock.
type simEnv struct {
	t      *testing.T
	clock  *clocktesting.FakeClock
	sim    *arcgissim.Simulator
	client *arcgis.Client
	ca     []byte
	log    *outcomeLog

	mu   sync.Mutex
	sent []string // every password and client secret sent, right or wrong
	// badRequestOK: the case expects the simulator to refuse a request as
	// malformed; otherwise any such refusal is a client bug.
	badRequestOK bool
}

// newSimEnv starts a simulator with alice, bob (no admin) and app1, and a
// client trusting its CA; simCfg and clientOpts, when not nil, adjust them.
// When the test ends it checks that no request carried credentials or a
// token in its URL query, and that the simulator refused none as malformed
// (405 for GET or query credentials, 400 for missing parameters, which is
// also what a body without the form content type gets) unless the case
// said so; then it closes the simulator.
func newSimEnv(t *testing.T, simCfg func(*arcgissim.Config), clientOpts func(*arcgis.Options)) *simEnv {
	t.Helper()
	e := &simEnv{t: t, clock: clocktesting.NewFakeClock(simStart), log: &outcomeLog{}}
	cfg := arcgissim.Config{
		Users:   map[string]string{"alice": simAlicePW, "bob": simBobPW},
		NoAdmin: []string{"bob"},
		Apps:    map[string]string{simAppID: simAppSecret},
		Clock:   e.clock,
		Logger:  slog.New(e.log),
	}
	if simCfg != nil {
		simCfg(&cfg)
	}
	sim, err := arcgissim.New(cfg)
	if err != nil {
		t.Fatalf("arcgissim.New: %v", err)
	}
	if err := sim.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e.sim = sim
	e.ca = sim.CAPEM()
	opts := arcgis.Options{Clock: e.clock, Timeout: 5 * time.Second}
	if clientOpts != nil {
		clientOpts(&opts)
	}
	e.client = arcgis.New(opts)
	t.Cleanup(func() {
		e.settle()
		c := sim.Counters()
		if c.CredentialsInQuery != 0 || c.TokenInQuery != 0 {
			t.Errorf("wire rules: %d requests with credentials and %d with a token in the URL query, want none",
				c.CredentialsInQuery, c.TokenInQuery)
		}
		e.mu.Lock()
		badRequestOK := e.badRequestOK
		e.mu.Unlock()
		for ep, outcomes := range c.Requests {
			if n := outcomes[arcgissim.OutcomeMethodNotSupported]; n > 0 {
				t.Errorf("wire rules: the simulator refused %d requests to %s with 405", n, ep)
			}
			if n := outcomes[arcgissim.OutcomeBadRequest]; n > 0 && !badRequestOK {
				t.Errorf("wire rules: the simulator refused %d requests to %s as malformed", n, ep)
			}
		}
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// host is the simulator's host:port, as the client reports it.
func (e *simEnv) host() string { return strings.TrimPrefix(e.sim.URL(), "https://") }

// request is alice's referer-bound request for a token of type typ (app1's
// for OAuth, which takes no binding).
func (e *simEnv) request(typ arcgis.ServiceType, minutes int) arcgis.TokenRequest {
	r := arcgis.TokenRequest{
		Type:              typ,
		Credentials:       arcgis.Credentials{Username: "alice", Password: simAlicePW},
		Binding:           arcgis.Binding{Client: arcgis.ClientReferer, Referer: simReferer},
		ExpirationMinutes: minutes,
		CABundle:          e.ca,
	}
	switch typ {
	case arcgis.Portal:
		r.URL = e.sim.PortalURL()
	case arcgis.Server, arcgis.ServerAdmin:
		r.URL = e.sim.ServerURL()
	case arcgis.Federated:
		r.URL, r.ServerURL = e.sim.PortalURL(), e.sim.ServerURL()
	case arcgis.OAuth:
		r.URL = e.sim.PortalURL()
		r.Credentials = arcgis.Credentials{ClientID: simAppID, ClientSecret: simAppSecret}
		r.Binding = arcgis.Binding{}
	}
	return r
}

// validation is the request to validate a token issued for r.
func (e *simEnv) validation(r arcgis.TokenRequest, tok *arcgis.Token) arcgis.ValidateRequest {
	return arcgis.ValidateRequest{Type: r.Type, URL: r.URL, ServerURL: r.ServerURL, Token: tok.Token, Binding: r.Binding, CABundle: r.CABundle}
}

func (e *simEnv) issue(r arcgis.TokenRequest) (*arcgis.Token, error) {
	e.mu.Lock()
	for _, s := range []string{r.Credentials.Password, r.Credentials.ClientSecret} {
		if s != "" {
			e.sent = append(e.sent, s)
		}
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.client.IssueToken(ctx, r)
}

// mustIssue issues a token and checks that its expiry is the simulator's
// grant of grantedMinutes from the fake clock's now.
func (e *simEnv) mustIssue(r arcgis.TokenRequest, grantedMinutes int) *arcgis.Token {
	e.t.Helper()
	now := e.clock.Now()
	tok, err := e.issue(r)
	if err != nil {
		e.t.Fatalf("IssueToken(%s): %v", r.Type, err)
	}
	if want := now.Add(time.Duration(grantedMinutes) * time.Minute); !tok.Expires.Equal(want) {
		e.t.Fatalf("Expires = %s, want the simulator's grant %s (%d minutes)", tok.Expires, want.UTC(), grantedMinutes)
	}
	return tok
}

func (e *simEnv) validate(v arcgis.ValidateRequest) (*arcgis.Validation, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.client.ValidateToken(ctx, v)
}

// settle waits (in real time, for the simulator's goroutines; never for an
// expiry) until the simulator has finished every request, so that its
// counters are complete: a request the client gave up on ends a little later
// on the simulator's side.
func (e *simEnv) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for e.sim.Counters().InFlight > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// calls returns the requests the simulator received per endpoint.
func (e *simEnv) calls() map[string]int {
	e.settle()
	got := map[string]int{}
	c := e.sim.Counters()
	for ep := range c.Requests {
		got[ep] = c.Total(ep)
	}
	return got
}

func (e *simEnv) assertCalls(want map[string]int) {
	e.t.Helper()
	if got := e.calls(); !maps.Equal(got, want) {
		e.t.Errorf("requests per endpoint = %v, want %v", got, want)
	}
}

// wantErr is the *arcgis.Error a case expects.
type wantErr struct {
	reason     arcgis.Reason
	retryable  bool
	retryAfter time.Duration // exact, unless minRetryAfter is set
	minRetry   time.Duration
	status     int // Error.HTTPStatus; 0 when no answer came
	code       int // Error.Code, the ArcGIS code in the body
	endpoint   string
	contains   string // in Error.Message
	deadline   bool   // errors.Is(err, context.DeadlineExceeded)
}

// checkError checks err against want, and that its text holds none of the
// simulator's secrets (every token issued, every password and secret
// configured) nor any password or secret sent.
func (e *simEnv) checkError(err error, want wantErr) {
	e.t.Helper()
	if err == nil {
		e.t.Fatalf("no error, want %s", want.reason)
	}
	ae, ok := arcgis.AsError(err)
	if !ok {
		e.t.Fatalf("error %T is not an *arcgis.Error: %v", err, err)
	}
	if ae.Reason != want.reason {
		e.t.Errorf("Reason = %s, want %s (%v)", ae.Reason, want.reason, err)
	}
	if ae.Retryable != want.retryable {
		e.t.Errorf("Retryable = %t, want %t (%v)", ae.Retryable, want.retryable, err)
	}
	if want.minRetry > 0 {
		if ae.RetryAfter < want.minRetry {
			e.t.Errorf("RetryAfter = %s, want at least %s", ae.RetryAfter, want.minRetry)
		}
	} else if ae.RetryAfter != want.retryAfter {
		e.t.Errorf("RetryAfter = %s, want %s", ae.RetryAfter, want.retryAfter)
	}
	if ae.HTTPStatus != want.status {
		e.t.Errorf("HTTPStatus = %d, want %d (%v)", ae.HTTPStatus, want.status, err)
	}
	if ae.Code != want.code {
		e.t.Errorf("Code = %d, want %d (%v)", ae.Code, want.code, err)
	}
	if want.endpoint != "" && ae.Endpoint != want.endpoint {
		e.t.Errorf("Endpoint = %q, want %q", ae.Endpoint, want.endpoint)
	}
	if ae.Host != e.host() {
		e.t.Errorf("Host = %q, want %q", ae.Host, e.host())
	}
	if !strings.Contains(ae.Message, want.contains) {
		e.t.Errorf("Message = %q, want it to contain %q", ae.Message, want.contains)
	}
	if got := errors.Is(err, context.DeadlineExceeded); got != want.deadline {
		e.t.Errorf("errors.Is(err, context.DeadlineExceeded) = %t, want %t", got, want.deadline)
	}
	e.assertNoLeak(err)
}

func (e *simEnv) assertNoLeak(err error) {
	e.t.Helper()
	e.mu.Lock()
	secrets := append(e.sim.Secrets(), e.sent...)
	e.mu.Unlock()
	if len(secrets) < 3 {
		e.t.Fatalf("only %d secrets to scan for; the scan would prove nothing", len(secrets))
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err)}
	if ae, ok := arcgis.AsError(err); ok {
		texts = append(texts, ae.Message)
	}
	for i, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				// Say which, not what: the test log is no place for it either.
				e.t.Errorf("error text contains secret #%d (%d bytes)", i, len(s))
			}
		}
	}
}

// outcomeLog records "endpoint outcome" per request, in the order the
// simulator answered them (it logs before the answer is flushed).
type outcomeLog struct {
	mu  sync.Mutex
	seq []string
}

func (l *outcomeLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *outcomeLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *outcomeLog) WithGroup(string) slog.Handler            { return l }
func (l *outcomeLog) Handle(_ context.Context, r slog.Record) error {
	var endpoint, outcome string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "endpoint":
			endpoint = a.Value.String()
		case "outcome":
			outcome = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.seq = append(l.seq, endpoint+" "+outcome)
	l.mu.Unlock()
	return nil
}

func (l *outcomeLog) reset() {
	l.mu.Lock()
	l.seq = nil
	l.mu.Unlock()
}

func (l *outcomeLog) sequence() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seq)
}

// Simulator endpoints, shortened for the tables.
const (
	epPortal = arcgissim.EndpointPortalGenerateToken
	epOAuth  = arcgissim.EndpointOAuthToken
	epSelf   = arcgissim.EndpointPortalSelf
	epInfo   = arcgissim.EndpointServerInfo
	epTokens = arcgissim.EndpointServerGenerateToken
	epAdmin  = arcgissim.EndpointAdminGenerateToken
	epRest   = arcgissim.EndpointServerServices
)

// loginCalls is what one issue that fails at the login costs, per type.
var loginCalls = map[arcgis.ServiceType]map[string]int{
	arcgis.Portal:      {epPortal: 1},
	arcgis.Server:      {epInfo: 1, epTokens: 1},
	arcgis.ServerAdmin: {epAdmin: 1},
	arcgis.Federated:   {epPortal: 1},
	arcgis.OAuth:       {epOAuth: 1},
}

// successCalls is what one issue that succeeds costs, per type, with nothing
// cached: Server discovers first, Federated logs in and exchanges.
var successCalls = map[arcgis.ServiceType]map[string]int{
	arcgis.Portal:      {epPortal: 1},
	arcgis.Server:      {epInfo: 1, epTokens: 1},
	arcgis.ServerAdmin: {epAdmin: 1},
	arcgis.Federated:   {epPortal: 2},
	arcgis.OAuth:       {epOAuth: 1},
}

// TestSimIssueTokenSuccess: every type's success shape, the silent caps, and
// that the client reports the simulator's grant, never the lifetime asked.
func TestSimIssueTokenSuccess(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ     arcgis.ServiceType
		sim     func(*arcgissim.Config)
		req     func(*simEnv, *arcgis.TokenRequest)
		asked   int
		granted int
		ssl     bool
		issued  map[string]int // simulator's TokensIssued
		calls   map[string]int
	}{
		"Portal as asked":                  {typ: arcgis.Portal, asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal default 120":               {typ: arcgis.Portal, asked: 0, granted: 120, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal capped at 20160":           {typ: arcgis.Portal, asked: 30000, granted: 20160, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal at the 20160 cap":          {typ: arcgis.Portal, asked: 20160, granted: 20160, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal unbound":                   {typ: arcgis.Portal, req: unbound, asked: 90, granted: 90, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal bound to requestip":        {typ: arcgis.Portal, req: requestIP, asked: 90, granted: 90, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal URL with /sharing/rest":    {typ: arcgis.Portal, req: suffix("/sharing/rest/"), asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal with a lower org cap":      {typ: arcgis.Portal, sim: func(c *arcgissim.Config) { c.PortalMaxMinutes = 90 }, asked: 600, granted: 90, ssl: true, issued: map[string]int{"portal": 1}},
		"Portal on an old server":          {typ: arcgis.Portal, sim: oldServer, asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1}},
		"Server via discovery":             {typ: arcgis.Server, asked: 600, granted: 600, issued: map[string]int{"server": 1}},
		"Server default 60":                {typ: arcgis.Server, asked: 0, granted: 60, issued: map[string]int{"server": 1}},
		"Server bound capped at 1440":      {typ: arcgis.Server, asked: 5000, granted: 1440, issued: map[string]int{"server": 1}},
		"Server unbound capped at 60":      {typ: arcgis.Server, req: unbound, asked: 600, granted: 60, issued: map[string]int{"server": 1}},
		"Server standalone":                {typ: arcgis.Server, sim: standalone, asked: 120, granted: 120, issued: map[string]int{"server": 1}},
		"Server URL with /rest/services":   {typ: arcgis.Server, req: suffix("/rest/services/"), asked: 60, granted: 60, issued: map[string]int{"server": 1}},
		"Server old, bound and long":       {typ: arcgis.Server, sim: oldServer, asked: 1000, granted: 1000, issued: map[string]int{"server": 1}},
		"Server old, unbound and short":    {typ: arcgis.Server, sim: oldServer, req: unbound, asked: 30, granted: 30, issued: map[string]int{"server": 1}},
		"ServerAdmin string expires":       {typ: arcgis.ServerAdmin, asked: 120, granted: 120, issued: map[string]int{"admin": 1}},
		"ServerAdmin default 60":           {typ: arcgis.ServerAdmin, asked: 0, granted: 60, issued: map[string]int{"admin": 1}},
		"ServerAdmin capped at 1440":       {typ: arcgis.ServerAdmin, asked: 5000, granted: 1440, issued: map[string]int{"admin": 1}},
		"ServerAdmin unbound capped at 60": {typ: arcgis.ServerAdmin, req: unbound, asked: 600, granted: 60, issued: map[string]int{"admin": 1}},
		"ServerAdmin URL with /admin":      {typ: arcgis.ServerAdmin, req: suffix("/admin"), asked: 60, granted: 60, issued: map[string]int{"admin": 1}},
		"Federated exchange":               {typ: arcgis.Federated, asked: 90, granted: 90, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"Federated default 120":            {typ: arcgis.Federated, asked: 0, granted: 120, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"Federated capped at 20160":        {typ: arcgis.Federated, asked: 30000, granted: 20160, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"Federated unbound":                {typ: arcgis.Federated, req: unbound, asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"Federated bound to requestip":     {typ: arcgis.Federated, req: requestIP, asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"Federated bound to our own ip":    {typ: arcgis.Federated, req: boundIP("127.0.0.1"), asked: 60, granted: 60, ssl: true, issued: map[string]int{"portal": 1, "federated": 1}},
		"OAuth relative seconds":           {typ: arcgis.OAuth, asked: 60, granted: 60, issued: map[string]int{"oauth": 1}},
		"OAuth default 120":                {typ: arcgis.OAuth, asked: 0, granted: 120, issued: map[string]int{"oauth": 1}},
		"OAuth capped at 20160":            {typ: arcgis.OAuth, asked: 30000, granted: 20160, issued: map[string]int{"oauth": 1}},
		"OAuth with real status codes":     {typ: arcgis.OAuth, sim: realStatus, asked: 45, granted: 45, issued: map[string]int{"oauth": 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.sim, nil)
			r := e.request(tc.typ, tc.asked)
			wantURL := r.URL
			if tc.typ == arcgis.Federated {
				wantURL = r.ServerURL
			}
			if tc.req != nil {
				tc.req(e, &r)
			}
			tok := e.mustIssue(r, tc.granted)
			if tc.asked > tc.granted && !tok.Expires.Before(simStart.Add(time.Duration(tc.asked)*time.Minute)) {
				t.Errorf("Expires %s is not shorter than asked", tok.Expires)
			}
			if tok.SSL != tc.ssl {
				t.Errorf("SSL = %t, want %t", tok.SSL, tc.ssl)
			}
			if tok.ServiceURL != wantURL {
				t.Errorf("ServiceURL = %q, want %q", tok.ServiceURL, wantURL)
			}
			if !slices.Contains(e.sim.Secrets(), tok.Token) {
				t.Errorf("the token is not one the simulator issued")
			}
			c := e.sim.Counters()
			if !maps.Equal(c.TokensIssued, tc.issued) {
				t.Errorf("simulator issued %v, want %v", c.TokensIssued, tc.issued)
			}
			e.assertCalls(successCalls[tc.typ])
		})
	}
}

// Request adjustments for the tables.
func unbound(_ *simEnv, r *arcgis.TokenRequest) { r.Binding = arcgis.Binding{} }
func requestIP(_ *simEnv, r *arcgis.TokenRequest) {
	r.Binding = arcgis.Binding{Client: arcgis.ClientRequestIP}
}
func boundIP(ip string) func(*simEnv, *arcgis.TokenRequest) {
	return func(_ *simEnv, r *arcgis.TokenRequest) { r.Binding = arcgis.Binding{Client: arcgis.ClientIP, IP: ip} }
}
func suffix(s string) func(*simEnv, *arcgis.TokenRequest) {
	return func(_ *simEnv, r *arcgis.TokenRequest) { r.URL += s }
}
func user(name, password string) func(*simEnv, *arcgis.TokenRequest) {
	return func(_ *simEnv, r *arcgis.TokenRequest) {
		r.Credentials.Username, r.Credentials.Password = name, password
	}
}
func app(id, secret string) func(*simEnv, *arcgis.TokenRequest) {
	return func(_ *simEnv, r *arcgis.TokenRequest) {
		r.Credentials.ClientID, r.Credentials.ClientSecret = id, secret
	}
}

// Simulator variants.
func oldServer(c *arcgissim.Config)  { c.OldServer = true }
func realStatus(c *arcgissim.Config) { c.RealStatusCodes = true }
func standalone(c *arcgissim.Config) { c.Standalone = true }

// simVariants are the error shapes every error row is tried with.
var simVariants = map[string]func(*arcgissim.Config){
	"":                    nil,
	" (old server)":       oldServer,
	" (real status)":      realStatus,
	" (old, real status)": func(c *arcgissim.Config) { c.OldServer, c.RealStatusCodes = true, true },
}

// TestSimIssueTokenRefused: what the simulator refuses, and how the client
// classifies it, on every envelope (REST, admin, OAuth), with details as an
// array and as a string, with HTTP 200 and with real status codes.
func TestSimIssueTokenRefused(t *testing.T) {
	t.Parallel()
	type row struct {
		typ    arcgis.ServiceType
		sim    func(*arcgissim.Config)
		req    func(*simEnv, *arcgis.TokenRequest)
		want   wantErr
		status int // HTTP status with RealStatusCodes (else 200)
		calls  map[string]int
	}
	badLogin := wantErr{reason: arcgis.ReasonInvalidCredentials, code: 400, endpoint: arcgis.EndpointGenerateToken, contains: "Invalid username or password."}
	badApp := func(says string) wantErr {
		return wantErr{reason: arcgis.ReasonInvalidCredentials, code: 400, endpoint: arcgis.EndpointOAuthToken, contains: says}
	}
	base := map[string]row{}
	for _, typ := range []arcgis.ServiceType{arcgis.Portal, arcgis.Server, arcgis.ServerAdmin, arcgis.Federated} {
		base[string(typ)+" wrong password"] = row{typ: typ, req: user("alice", simWrongPW), want: badLogin, status: 400}
		base[string(typ)+" username in the wrong case"] = row{typ: typ, req: user("Alice", simAlicePW), want: badLogin, status: 400}
		base[string(typ)+" unknown username"] = row{typ: typ, req: user("mallory", simWrongPW), want: badLogin, status: 400}
	}
	base["OAuth unknown client ID"] = row{typ: arcgis.OAuth, req: app("app2", simAppSecret), want: badApp("Invalid client_id"), status: 400}
	base["OAuth client ID in the wrong case"] = row{typ: arcgis.OAuth, req: app("App1", simAppSecret), want: badApp("Invalid client_id"), status: 400}
	base["OAuth wrong client secret"] = row{typ: arcgis.OAuth, req: app(simAppID, simWrongSecret), want: badApp("Invalid client_secret"), status: 400}
	base["ServerAdmin user without admin rights"] = row{typ: arcgis.ServerAdmin, req: user("bob", simBobPW), status: 403,
		want: wantErr{reason: arcgis.ReasonPermissionDenied, code: 403, endpoint: arcgis.EndpointGenerateToken, contains: "do not have permissions"}}
	base["Federated with a standalone server"] = row{typ: arcgis.Federated, status: 400, calls: map[string]int{epPortal: 2},
		sim:  standalone,
		want: wantErr{reason: arcgis.ReasonBadRequest, code: 400, endpoint: arcgis.EndpointExchange, contains: "not a server federated"}}
	base["Federated with another site's URL"] = row{typ: arcgis.Federated, status: 400, calls: map[string]int{epPortal: 2},
		req:  func(e *simEnv, r *arcgis.TokenRequest) { r.ServerURL = e.sim.URL() + "/arcgis" },
		want: wantErr{reason: arcgis.ReasonBadRequest, code: 400, endpoint: arcgis.EndpointExchange, contains: "not a server federated"}}

	tests := map[string]row{}
	for name, b := range base {
		for variantName, variant := range simVariants {
			r := b
			r.sim = func(c *arcgissim.Config) {
				if b.sim != nil {
					b.sim(c)
				}
				if variant != nil {
					variant(c)
				}
			}
			r.want.status = 200
			if variant != nil && strings.Contains(variantName, "real status") {
				r.want.status = b.status
			}
			tests[name+variantName] = r
		}
	}
	// Old servers refuse a long unbound server token where new ones shorten it.
	tests["Server old, unbound and long"] = row{typ: arcgis.Server, sim: oldServer, req: unbound,
		want: wantErr{reason: arcgis.ReasonBadRequest, code: 201, status: 200, endpoint: arcgis.EndpointGenerateToken, contains: "Client ID is required for long expiration tokens."}}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.sim, nil)
			r := e.request(tc.typ, 600)
			if tc.req != nil {
				tc.req(e, &r)
			}
			if tc.want.reason == arcgis.ReasonBadRequest {
				e.badRequestOK = true
			}
			_, err := e.issue(r)
			e.checkError(err, tc.want)
			calls := tc.calls
			if calls == nil {
				calls = loginCalls[tc.typ]
			}
			e.assertCalls(calls)
		})
	}
}

// TestSimIssueTokenFaults: every fault the simulator injects, at every
// endpoint an issue goes through, and what the client makes of it: pages,
// proxies and outages are ServiceUnavailable (retryable, honouring
// Retry-After); a JSON answer or a status only ArcGIS uses is final.
func TestSimIssueTokenFaults(t *testing.T) {
	t.Parallel()
	type target struct {
		typ       arcgis.ServiceType
		endpoint  string // the simulator endpoint the fault answers
		passLogin bool   // let the federated login through, fault the exchange
		clientEP  string // Error.Endpoint
		calls     map[string]int
	}
	targets := map[string]target{
		"Portal":             {arcgis.Portal, epPortal, false, arcgis.EndpointGenerateToken, map[string]int{epPortal: 1}},
		"Server discovery":   {arcgis.Server, epInfo, false, arcgis.EndpointRestInfo, map[string]int{epInfo: 1}},
		"Server token":       {arcgis.Server, epTokens, false, arcgis.EndpointGenerateToken, map[string]int{epInfo: 1, epTokens: 1}},
		"ServerAdmin":        {arcgis.ServerAdmin, epAdmin, false, arcgis.EndpointGenerateToken, map[string]int{epAdmin: 1}},
		"Federated login":    {arcgis.Federated, epPortal, false, arcgis.EndpointGenerateToken, map[string]int{epPortal: 1}},
		"Federated exchange": {arcgis.Federated, epPortal, true, arcgis.EndpointExchange, map[string]int{epPortal: 2}},
		"OAuth":              {arcgis.OAuth, epOAuth, false, arcgis.EndpointOAuthToken, map[string]int{epOAuth: 1}},
	}
	su := func(status int, retryAfter time.Duration, contains string) wantErr {
		return wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, retryAfter: retryAfter, status: status, contains: contains}
	}
	final := func(reason arcgis.Reason, status, code int, contains string) wantErr {
		return wantErr{reason: reason, status: status, code: code, contains: contains}
	}
	const (
		body405     = `{"error":{"code":405,"message":"Method not supported","details":["Generate Token request should not contain username and password in the query string."]}}`
		body499     = `{"error":{"code":499,"message":"Token Required","messageCode":"GWM_0003","details":["Token Required"]}}`
		body498     = `{"error":{"code":498,"message":"Invalid token.","details":[]}}`
		body201     = `{"error":{"code":201,"message":"Exception in generating token","details":"Client ID is required for long expiration tokens."}}`
		bodyMissing = `{"error":{"code":400,"message":"Unable to generate token.","details":["'username' must be specified.","'password' must be specified."]}}`
		body503     = `{"error":{"code":503,"message":"Service Unavailable","details":["The site is starting."]}}`
		slowTimeout = 150 * time.Millisecond
	)
	kinds := map[string]struct {
		fault arcgissim.Fault
		want  wantErr
		// is498: the client retries an exchange once with a fresh portal token.
		is498 bool
	}{
		"HTML error page":                  {fault: arcgissim.Fault{Kind: arcgissim.FaultHTMLError}, want: su(200, 0, `title "ArcGIS Web Adaptor"`)},
		"HTML error page with 502":         {fault: arcgissim.Fault{Kind: arcgissim.FaultHTMLError, Status: 502}, want: su(502, 0, "ArcGIS Web Adaptor")},
		"HTML login page":                  {fault: arcgissim.Fault{Kind: arcgissim.FaultHTMLLogin}, want: su(200, 0, `title "Sign In"`)},
		"HTML Invalid Token page with 200": {fault: arcgissim.Fault{Kind: arcgissim.FaultHTMLInvalidToken}, want: su(200, 0, "Invalid Token")},
		"503 with Retry-After":             {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 503, RetryAfter: 30 * time.Second}, want: su(503, 30*time.Second, "text/html")},
		"429 with Retry-After":             {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 429, RetryAfter: 2 * time.Minute}, want: su(429, 2*time.Minute, "text/html")},
		"502 without Retry-After":          {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 502}, want: su(502, 0, "text/html")},
		"slower than the client timeout": {fault: arcgissim.Fault{Kind: arcgissim.FaultDelay, Delay: 10 * time.Second},
			want: wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, deadline: true, contains: "no answer within the timeout of 150ms"}},
		"connection drop":               {fault: arcgissim.Fault{Kind: arcgissim.FaultDrop}, want: su(0, 0, "")},
		"JSON 503 with Retry-After":     {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Status: 503, Body: body503, RetryAfter: 10 * time.Second}, want: wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, retryAfter: 10 * time.Second, status: 503, code: 503, contains: "The site is starting."}},
		"SSLRequiredBody":               {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: arcgissim.SSLRequiredBody}, want: final(arcgis.ReasonSSLRequired, 200, 403, "SSL Required")},
		"SSLRequiredBody with 403":      {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Status: 403, Body: arcgissim.SSLRequiredBody}, want: final(arcgis.ReasonSSLRequired, 403, 403, "SSL Required")},
		"PermissionDeniedBody":          {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: arcgissim.PermissionDeniedBody}, want: final(arcgis.ReasonPermissionDenied, 200, 403, "GWM_0003")},
		"PermissionDeniedBody with 403": {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Status: 403, Body: arcgissim.PermissionDeniedBody}, want: final(arcgis.ReasonPermissionDenied, 403, 403, "do not have permissions")},
		"405 body":                      {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: body405}, want: final(arcgis.ReasonMethodNotSupported, 200, 405, "Method not supported")},
		"405 body with 405":             {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Status: 405, Body: body405}, want: final(arcgis.ReasonMethodNotSupported, 405, 405, "query string")},
		"499 body":                      {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: body499}, want: final(arcgis.ReasonTokenRequired, 200, 499, "Token Required")},
		"498 body":                      {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: body498}, want: final(arcgis.ReasonInvalidToken, 200, 498, "Invalid token."), is498: true},
		"201 body of an old server":     {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: body201}, want: final(arcgis.ReasonBadRequest, 200, 201, "Client ID is required")},
		"missing-fields body":           {fault: arcgissim.Fault{Kind: arcgissim.FaultJSON, Body: bodyMissing}, want: final(arcgis.ReasonBadRequest, 200, 400, "'username' must be specified.")},
		"status 498 page":               {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 498}, want: final(arcgis.ReasonInvalidToken, 498, 0, ""), is498: true},
		"status 499 page":               {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 499}, want: final(arcgis.ReasonTokenRequired, 499, 0, "")},
		"status 405 page":               {fault: arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 405}, want: final(arcgis.ReasonMethodNotSupported, 405, 0, "")},
	}
	for tname, tg := range targets {
		for kname, k := range kinds {
			t.Run(tname+"/"+kname, func(t *testing.T) {
				t.Parallel()
				e := newSimEnv(t, nil, func(o *arcgis.Options) {
					if k.fault.Kind == arcgissim.FaultDelay {
						o.Timeout = slowTimeout
					}
				})
				fault := k.fault
				fault.Endpoint = tg.endpoint
				pass := arcgissim.Fault{Endpoint: tg.endpoint, Kind: arcgissim.FaultDelay, Delay: time.Millisecond, Count: 1}
				faults := []arcgissim.Fault{fault}
				calls, fired := tg.calls, 1
				if tg.passLogin {
					faults = []arcgissim.Fault{pass, fault}
					if k.is498 {
						// Login, 498, fresh login, 498 again: that one is final.
						fault.Count = 1
						faults = []arcgissim.Fault{pass, fault, pass, fault}
						calls, fired = map[string]int{epPortal: 4}, 2
					}
				}
				for _, f := range faults {
					if err := e.sim.InjectFault(f); err != nil {
						t.Fatal(err)
					}
				}
				want := k.want
				want.endpoint = tg.clientEP
				_, err := e.issue(e.request(tg.typ, 60))
				e.checkError(err, want)
				outcome := arcgissim.OutcomeFaultPrefix + string(k.fault.Kind)
				if k.fault.Kind == arcgissim.FaultDelay {
					outcome = arcgissim.OutcomeCanceled
					// The simulator holds a POST it delays until Close
					// even after the client gave up (see
					// TestSimDelayedPostEndsWithClient): abandon it.
					if err := e.sim.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
				e.assertCalls(calls)
				if got := e.sim.Counters().Requests[tg.endpoint][outcome]; got != fired {
					t.Errorf("simulator answered %d requests with %s, want %d", got, outcome, fired)
				}
			})
		}
	}
}

// TestSimLockout: five failures within 15 minutes lock the account for 15
// minutes in its realm; the client says so (retryable, not before 15
// minutes), never retries on its own, and gets in once the lock ends.
func TestSimLockout(t *testing.T) {
	t.Parallel()
	type row struct {
		typ         arcgis.ServiceType
		sim         func(*arcgissim.Config)
		lockMinutes int
	}
	tests := map[string]row{
		"Portal, 30-minute lock-out": {typ: arcgis.Portal, lockMinutes: 30},
	}
	for _, typ := range []arcgis.ServiceType{arcgis.Portal, arcgis.Server, arcgis.ServerAdmin, arcgis.Federated} {
		for variantName, variant := range simVariants {
			tests[string(typ)+variantName] = row{typ: typ, sim: variant}
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lock := time.Duration(max(tc.lockMinutes, arcgissim.DefaultLockoutMinutes)) * time.Minute
			e := newSimEnv(t, func(c *arcgissim.Config) {
				if tc.sim != nil {
					tc.sim(c)
				}
				c.LockoutMinutes = tc.lockMinutes
			}, nil)
			status := 200
			if probe := (arcgissim.Config{}); tc.sim != nil {
				tc.sim(&probe)
				if probe.RealStatusCodes {
					status = 400
				}
			}
			realm, other := arcgissim.RealmServer, arcgis.Portal
			if tc.typ == arcgis.Portal || tc.typ == arcgis.Federated {
				realm, other = arcgissim.RealmPortal, arcgis.Server
			}
			right := e.request(tc.typ, 60)
			wrong := right
			wrong.Credentials.Password = simWrongPW
			for i := 1; i <= arcgissim.DefaultLockoutAttempts; i++ {
				e.clock.Step(time.Minute)
				_, err := e.issue(wrong)
				// The fifth failure still says bad credentials.
				e.checkError(err, wantErr{reason: arcgis.ReasonInvalidCredentials, status: status, code: 400,
					endpoint: arcgis.EndpointGenerateToken, contains: "Invalid username or password."})
			}
			locked := wantErr{reason: arcgis.ReasonAccountLocked, retryable: true, minRetry: arcgis.AccountLockout,
				status: status, code: 400, endpoint: arcgis.EndpointGenerateToken, contains: "locked"}
			_, err := e.issue(right)
			e.checkError(err, locked)

			// The other realm keeps its own count.
			e.mustIssue(e.request(other, 60), 60)

			// Still locked a second before the end (attempts while locked
			// do not extend it), in again at the end.
			e.clock.Step(lock - time.Second)
			_, err = e.issue(right)
			e.checkError(err, locked)
			e.clock.Step(time.Second)
			e.mustIssue(right, 60)

			// One credential check per IssueToken: no hidden retries.
			var outcomes []string
			for _, a := range e.sim.Counters().LoginAttempts[arcgissim.AccountKey(realm, "alice")] {
				outcomes = append(outcomes, a.Outcome)
			}
			ic, al, ok := arcgissim.OutcomeInvalidCredentials, arcgissim.OutcomeAccountLocked, arcgissim.OutcomeOK
			if want := []string{ic, ic, ic, ic, ic, al, al, ok}; !slices.Equal(outcomes, want) {
				t.Errorf("login attempts %v, want %v", outcomes, want)
			}
		})
	}
	t.Run("OAuth apps never lock", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, nil, nil)
		r := e.request(arcgis.OAuth, 60)
		wrong := r
		wrong.Credentials.ClientSecret = simWrongSecret
		for range 2 * arcgissim.DefaultLockoutAttempts {
			_, err := e.issue(wrong)
			e.checkError(err, wantErr{reason: arcgis.ReasonInvalidCredentials, status: 200, code: 400,
				endpoint: arcgis.EndpointOAuthToken, contains: "Invalid client_secret"})
		}
		e.mustIssue(r, 60)
	})
}

// TestSimValidateToken: a stored token checked with one cheap call, for each
// type, while valid, after a shared-key change, after expiry, and with the
// wrong referer.
func TestSimValidateToken(t *testing.T) {
	t.Parallel()
	invalid := func(status int, contains string) *wantErr {
		return &wantErr{reason: arcgis.ReasonInvalidToken, status: status, code: 498, contains: contains}
	}
	toExpiry := func(e *simEnv, tok *arcgis.Token) time.Duration { return tok.Expires.Sub(e.clock.Now()) }
	mutations := map[string]struct {
		sim   func(*arcgissim.Config)
		apply func(*simEnv, *arcgis.Token, *arcgis.ValidateRequest)
		want  *wantErr // nil: valid
		bound bool     // only for bound tokens (not OAuth)
	}{
		"valid":              {},
		"valid, old server":  {sim: oldServer},
		"valid, real status": {sim: realStatus},
		"valid a second early": {apply: func(e *simEnv, tok *arcgis.Token, _ *arcgis.ValidateRequest) {
			e.clock.Step(toExpiry(e, tok) - time.Second)
		}},
		"revoked":                 {apply: revoke, want: invalid(200, "Invalid token.")},
		"revoked, old server":     {sim: oldServer, apply: revoke, want: invalid(200, "Invalid Token")},
		"revoked, real status":    {sim: realStatus, apply: revoke, want: invalid(200, "Invalid token.")},
		"expired":                 {apply: expire, want: invalid(200, "Token has expired.")},
		"expired, old server":     {sim: oldServer, apply: expire, want: invalid(200, "Invalid Token. Token has expired.")},
		"unknown token":           {apply: func(_ *simEnv, _ *arcgis.Token, v *arcgis.ValidateRequest) { v.Token = "bm90LWEtdG9rZW4.." }, want: invalid(200, "Invalid token.")},
		"wrong referer":           {bound: true, apply: referer("https://other.example.com/"), want: invalid(200, "Invalid token.")},
		"referer in another case": {bound: true, apply: referer(strings.ToUpper(simReferer)), want: invalid(200, "Invalid token.")},
		"referer not sent":        {bound: true, apply: func(_ *simEnv, _ *arcgis.Token, v *arcgis.ValidateRequest) { v.Binding = arcgis.Binding{} }, want: invalid(200, "Invalid token.")},
		"HTML Invalid Token page": {apply: fault(arcgissim.Fault{Kind: arcgissim.FaultHTMLInvalidToken}),
			want: &wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, status: 200, contains: "Invalid Token"}},
		"503 with Retry-After": {apply: fault(arcgissim.Fault{Kind: arcgissim.FaultStatus, Status: 503, RetryAfter: time.Minute}),
			want: &wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, retryAfter: time.Minute, status: 503}},
	}
	identity := map[arcgis.ServiceType]string{arcgis.Portal: "alice", arcgis.OAuth: simAppID}
	for _, typ := range []arcgis.ServiceType{arcgis.Portal, arcgis.Server, arcgis.ServerAdmin, arcgis.Federated, arcgis.OAuth} {
		for name, m := range mutations {
			if m.bound && typ == arcgis.OAuth {
				continue
			}
			t.Run(string(typ)+"/"+name, func(t *testing.T) {
				t.Parallel()
				e := newSimEnv(t, m.sim, nil)
				r := e.request(typ, 60)
				tok := e.mustIssue(r, 60)
				v := e.validation(r, tok)
				endpoint, clientEP := epRest, arcgis.EndpointRestServices
				if typ == arcgis.Portal || typ == arcgis.OAuth {
					endpoint, clientEP = epSelf, arcgis.EndpointPortalSelf
				}
				e.settle()
				e.sim.ResetCounters()
				if m.apply != nil {
					m.apply(e, tok, &v)
				}
				got, err := e.validate(v)
				if m.want == nil {
					if err != nil {
						t.Fatalf("ValidateToken: %v", err)
					}
					if got.Identity != identity[typ] {
						t.Errorf("Identity = %q, want %q", got.Identity, identity[typ])
					}
				} else {
					want := *m.want
					want.endpoint = clientEP
					e.checkError(err, want)
					if ae, _ := arcgis.AsError(err); ae != nil && strings.Contains(ae.Message, tok.Token) {
						t.Error("the error quotes the token")
					}
				}
				e.assertCalls(map[string]int{endpoint: 1})
			})
		}
	}
}

func revoke(e *simEnv, _ *arcgis.Token, _ *arcgis.ValidateRequest) { e.sim.RevokeAll() }
func expire(e *simEnv, tok *arcgis.Token, _ *arcgis.ValidateRequest) {
	e.clock.Step(tok.Expires.Sub(e.clock.Now()))
}
func referer(ref string) func(*simEnv, *arcgis.Token, *arcgis.ValidateRequest) {
	return func(_ *simEnv, _ *arcgis.Token, v *arcgis.ValidateRequest) { v.Binding.Referer = ref }
}
func fault(f arcgissim.Fault) func(*simEnv, *arcgis.Token, *arcgis.ValidateRequest) {
	return func(e *simEnv, _ *arcgis.Token, v *arcgis.ValidateRequest) {
		f.Endpoint = arcgissim.EndpointServerServices
		if v.Type == arcgis.Portal || v.Type == arcgis.OAuth {
			f.Endpoint = arcgissim.EndpointPortalSelf
		}
		if err := e.sim.InjectFault(f); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestSimValidateBindings: IP and requestip bindings on use, and tokens
// presented to the wrong side (a portal token at the server and back).
func TestSimValidateBindings(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ      arcgis.ServiceType
		binding  arcgis.Binding
		asType   arcgis.ServiceType // validate as this type; default typ
		valid    bool
		endpoint string
	}{
		"Portal bound to our address":         {typ: arcgis.Portal, binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "127.0.0.1"}, valid: true, endpoint: epSelf},
		"Portal bound to another address":     {typ: arcgis.Portal, binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "192.0.2.10"}, endpoint: epSelf},
		"Portal bound to requestip":           {typ: arcgis.Portal, binding: arcgis.Binding{Client: arcgis.ClientRequestIP}, valid: true, endpoint: epSelf},
		"Server bound to requestip":           {typ: arcgis.Server, binding: arcgis.Binding{Client: arcgis.ClientRequestIP}, valid: true, endpoint: epRest},
		"Server bound to another address":     {typ: arcgis.Server, binding: arcgis.Binding{Client: arcgis.ClientIP, IP: "192.0.2.10"}, endpoint: epRest},
		"ServerAdmin bound to requestip":      {typ: arcgis.ServerAdmin, binding: arcgis.Binding{Client: arcgis.ClientRequestIP}, valid: true, endpoint: epRest},
		"Federated bound to requestip":        {typ: arcgis.Federated, binding: arcgis.Binding{Client: arcgis.ClientRequestIP}, valid: true, endpoint: epRest},
		"Portal token at the server":          {typ: arcgis.Portal, asType: arcgis.Server, endpoint: epRest},
		"OAuth token at the server":           {typ: arcgis.OAuth, asType: arcgis.Server, endpoint: epRest},
		"Server token at the portal":          {typ: arcgis.Server, asType: arcgis.Portal, endpoint: epSelf},
		"Federated token at the portal":       {typ: arcgis.Federated, asType: arcgis.Portal, endpoint: epSelf},
		"ServerAdmin token as a Server token": {typ: arcgis.ServerAdmin, asType: arcgis.Server, valid: true, endpoint: epRest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, nil, nil)
			r := e.request(tc.typ, 60)
			if tc.binding.Client != "" {
				r.Binding = tc.binding
			}
			tok := e.mustIssue(r, 60)
			v := e.validation(r, tok)
			if tc.asType != "" {
				v.Type = tc.asType
				v.URL = e.sim.PortalURL()
				if tc.asType == arcgis.Server {
					v.URL = e.sim.ServerURL()
				}
			}
			e.settle()
			e.sim.ResetCounters()
			_, err := e.validate(v)
			switch {
			case tc.valid && err != nil:
				t.Fatalf("ValidateToken: %v", err)
			case !tc.valid:
				want := wantErr{reason: arcgis.ReasonInvalidToken, status: 200, code: 498, contains: "Invalid token."}
				e.checkError(err, want)
			}
			e.assertCalls(map[string]int{tc.endpoint: 1})
		})
	}
}

// TestSimFederatedPortalTokenCache: N server tokens of one account cost one
// portal login and N exchanges; the portal token is not used within five
// minutes of its expiry, so an exchange never meets an expired one.
func TestSimFederatedPortalTokenCache(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sim func(*arcgissim.Config)
		req func(*simEnv, *arcgis.TokenRequest)
		n   int
	}{
		"five, referer-bound":    {n: 5},
		"three, unbound":         {n: 3, req: unbound},
		"five, old server":       {n: 5, sim: oldServer},
		"twelve, requestip":      {n: 12, req: requestIP},
		"five, real status code": {n: 5, sim: realStatus},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.sim, nil)
			r := e.request(arcgis.Federated, 60)
			if tc.req != nil {
				tc.req(e, &r)
			}
			seen := map[string]bool{}
			for range tc.n {
				tok := e.mustIssue(r, 60)
				if seen[tok.Token] {
					t.Fatal("the same server token twice")
				}
				seen[tok.Token] = true
			}
			logins := func() int {
				return len(e.sim.Counters().LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, "alice")])
			}
			e.assertCalls(map[string]int{epPortal: 1 + tc.n})
			if got := logins(); got != 1 {
				t.Errorf("%d portal logins for %d server tokens, want 1", got, tc.n)
			}
			if got, want := e.sim.Counters().TokensIssued, map[string]int{"portal": 1, "federated": tc.n}; !maps.Equal(got, want) {
				t.Errorf("simulator issued %v, want %v", got, want)
			}

			// The simulator never lets a server token outlive its portal
			// token (inferred); the client reports that shorter grant.
			portalExpires := simStart.Add(time.Hour)
			e.clock.Step(55*time.Minute - time.Second)
			tok, err := e.issue(r)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.Expires.Equal(portalExpires) || logins() != 1 {
				t.Errorf("5m01s before the portal token's expiry: Expires %s (want %s), %d logins (want 1)", tok.Expires, portalExpires, logins())
			}
			// Within the margin: a fresh login first, never a 498.
			e.clock.Step(time.Second)
			e.mustIssue(r, 60)
			if got := logins(); got != 2 {
				t.Errorf("%d portal logins, want 2", got)
			}
			if n := e.sim.Counters().Requests[epPortal][arcgissim.OutcomeInvalidToken]; n != 0 {
				t.Errorf("%d exchanges refused with 498, want none", n)
			}
			// Another account has a portal token of its own.
			bob := r
			bob.Credentials = arcgis.Credentials{Username: "bob", Password: simBobPW}
			e.mustIssue(bob, 60)
			if got := len(e.sim.Counters().LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, "bob")]); got != 1 {
				t.Errorf("bob: %d portal logins, want 1", got)
			}
		})
	}
}

// TestSimFederatedFreshPortalTokenOn498: after a shared-key change the
// cached portal token is refused (498); the client logs in again and
// exchanges the fresh one, once.
func TestSimFederatedFreshPortalTokenOn498(t *testing.T) {
	t.Parallel()
	for variantName, variant := range simVariants {
		t.Run("revoked"+variantName, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, variant, nil)
			r := e.request(arcgis.Federated, 60)
			old := e.mustIssue(r, 60)
			e.sim.RevokeAll()
			e.settle()
			e.sim.ResetCounters()
			e.log.reset()

			tok := e.mustIssue(r, 60)
			want := []string{
				epPortal + " " + arcgissim.OutcomeInvalidToken, // exchange with the cached portal token
				epPortal + " " + arcgissim.OutcomeOK,           // fresh login
				epPortal + " " + arcgissim.OutcomeOK,           // exchange
			}
			if got := e.log.sequence(); !slices.Equal(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
			c := e.sim.Counters()
			if got := len(c.LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, "alice")]); got != 1 {
				t.Errorf("%d logins, want 1", got)
			}
			if want := map[string]int{"portal": 1, "federated": 1}; !maps.Equal(c.TokensIssued, want) {
				t.Errorf("simulator issued %v, want %v", c.TokensIssued, want)
			}
			if _, err := e.validate(e.validation(r, tok)); err != nil {
				t.Errorf("the new token: %v", err)
			}
			_, err := e.validate(e.validation(r, old))
			e.checkError(err, wantErr{reason: arcgis.ReasonInvalidToken, status: 200, code: 498, endpoint: arcgis.EndpointRestServices})
		})
	}
}

// TestSimDiscoveryCache: a server's rest/info is read once per TTL, and
// again after its token service failed.
func TestSimDiscoveryCache(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ttl, want time.Duration
	}{
		"default TTL": {want: 10 * time.Minute},
		"TTL 2m":      {ttl: 2 * time.Minute, want: 2 * time.Minute},
		"TTL 1h":      {ttl: time.Hour, want: time.Hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, nil, func(o *arcgis.Options) { o.DiscoveryTTL = tc.ttl })
			r := e.request(arcgis.Server, 60)
			for range 3 {
				e.mustIssue(r, 60)
			}
			e.assertCalls(map[string]int{epInfo: 1, epTokens: 3})
			e.clock.Step(tc.want - time.Second)
			e.mustIssue(r, 60)
			e.assertCalls(map[string]int{epInfo: 1, epTokens: 4})
			e.clock.Step(time.Second)
			e.mustIssue(r, 60)
			e.assertCalls(map[string]int{epInfo: 2, epTokens: 5})

			// A token service that fails may have moved: look again.
			if err := e.sim.InjectFault(arcgissim.Fault{Endpoint: epTokens, Kind: arcgissim.FaultStatus, Status: 503, Count: 1}); err != nil {
				t.Fatal(err)
			}
			_, err := e.issue(r)
			e.checkError(err, wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, status: 503, endpoint: arcgis.EndpointGenerateToken})
			e.mustIssue(r, 60)
			e.assertCalls(map[string]int{epInfo: 3, epTokens: 7})
		})
	}
}

// TestSimDiscoveryAnswers: what a server's rest/info may say about its
// token service, served by the simulator as injected JSON.
func TestSimDiscoveryAnswers(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		info  func(e *simEnv) string // the rest/info body
		want  *wantErr               // nil: a token from the tokens endpoint
		calls map[string]int
	}{
		"tokenServicesUrl ending in generateToken": {
			info: func(e *simEnv) string { return authInfo(`true`, e.sim.ServerURL()+"/tokens/generateToken") },
		},
		"relative tokenServicesUrl": {
			info: func(*simEnv) string { return authInfo(`true`, "tokens/") },
		},
		"http:// on the server's own host and port": {
			info: func(e *simEnv) string {
				return authInfo(`true`, "http://"+e.host()+"/server/tokens/")
			},
		},
		"tokenServicesUrl on another host over http://": {
			info:  func(*simEnv) string { return authInfo(`true`, "http://tokens.example.com/server/tokens/") },
			want:  &wantErr{reason: arcgis.ReasonInvalidResponse, status: 200, contains: "plain http://"},
			calls: map[string]int{epInfo: 1},
		},
		"not token-based": {
			info:  func(*simEnv) string { return `{"currentVersion":11.3,"authInfo":{"isTokenBasedSecurity":false}}` },
			want:  &wantErr{reason: arcgis.ReasonBadRequest, status: 200, contains: "isTokenBasedSecurity is false"},
			calls: map[string]int{epInfo: 1},
		},
		"isTokenBasedSecurity as a string": {
			info: func(e *simEnv) string { return authInfo(`"true"`, e.sim.ServerURL()+"/tokens/") },
		},
		"no authInfo": {
			info:  func(*simEnv) string { return `{"currentVersion":11.3}` },
			want:  &wantErr{reason: arcgis.ReasonInvalidResponse, retryable: true, status: 200, contains: "no authInfo"},
			calls: map[string]int{epInfo: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, nil, nil)
			if err := e.sim.InjectFault(arcgissim.Fault{Endpoint: epInfo, Kind: arcgissim.FaultJSON, Body: tc.info(e), Count: 1}); err != nil {
				t.Fatal(err)
			}
			r := e.request(arcgis.Server, 60)
			if tc.want == nil {
				tok := e.mustIssue(r, 60)
				if tok.ServiceURL != e.sim.ServerURL() {
					t.Errorf("ServiceURL = %q, want %q", tok.ServiceURL, e.sim.ServerURL())
				}
				e.assertCalls(map[string]int{epInfo: 1, epTokens: 1})
				return
			}
			_, err := e.issue(r)
			want := *tc.want
			want.endpoint = arcgis.EndpointRestInfo
			e.checkError(err, want)
			e.assertCalls(tc.calls)
		})
	}
}

func authInfo(tokenBased, tokenServicesURL string) string {
	return `{"currentVersion":11.3,"authInfo":{"isTokenBasedSecurity":` + tokenBased + `,"tokenServicesUrl":"` + tokenServicesURL + `","shortLivedTokenValidity":60}}`
}

// TestSimConcurrencyPerHost: 50 concurrent issues through one client never
// have more requests in flight at the simulator than MaxConcurrentPerHost;
// concurrent discoveries and federated logins are shared.
func TestSimConcurrencyPerHost(t *testing.T) {
	t.Parallel()
	const n = 50
	tests := map[string]struct {
		typ   arcgis.ServiceType
		limit int // Options.MaxConcurrentPerHost
		calls map[string]int
	}{
		"Portal, limit 4":                 {typ: arcgis.Portal, limit: 4, calls: map[string]int{epPortal: n}},
		"Portal, limit 2":                 {typ: arcgis.Portal, limit: 2, calls: map[string]int{epPortal: n}},
		"Portal, default limit 8":         {typ: arcgis.Portal, calls: map[string]int{epPortal: n}},
		"Server, limit 4":                 {typ: arcgis.Server, limit: 4, calls: map[string]int{epInfo: 1, epTokens: n}},
		"ServerAdmin, limit 3":            {typ: arcgis.ServerAdmin, limit: 3, calls: map[string]int{epAdmin: n}},
		"Federated, one account, limit 4": {typ: arcgis.Federated, limit: 4, calls: map[string]int{epPortal: n + 1}},
		"OAuth, limit 5":                  {typ: arcgis.OAuth, limit: 5, calls: map[string]int{epOAuth: n}},
		// The control: without a limit the same load shows at the simulator.
		"Portal, no limit": {typ: arcgis.Portal, limit: -1, calls: map[string]int{epPortal: n}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Under concurrent load Go's transport dials spare connections
			// and pools them unused, and the simulator's Close waits 5s for
			// those (see TestSimCloseWithUnusedConnection): use a transport
			// whose idle connections the test can close first. The client
			// takes a RoundTripper that is not an *http.Transport as it is;
			// the per-host limit under test sits above the transport.
			tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: n}
			e := newSimEnv(t, nil, func(o *arcgis.Options) {
				o.MaxConcurrentPerHost = tc.limit
				o.Transport = ownTransport{tr}
			})
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(e.ca)
			tr.TLSClientConfig.RootCAs = pool
			t.Cleanup(tr.CloseIdleConnections)
			delay := 10 * time.Millisecond
			if tc.limit < 0 {
				delay = 150 * time.Millisecond
			}
			if err := e.sim.InjectFault(arcgissim.Fault{Kind: arcgissim.FaultDelay, Delay: delay}); err != nil {
				t.Fatal(err)
			}
			r := e.request(tc.typ, 60)
			want := e.clock.Now().Add(time.Hour)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() {
					tok, err := e.issue(r)
					switch {
					case err != nil:
						errs <- err
					case !tok.Expires.Equal(want):
						errs <- fmt.Errorf("Expires %s, want %s", tok.Expires, want)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			e.assertCalls(tc.calls)
			c := e.sim.Counters()
			limit := tc.limit
			if limit == 0 {
				limit = 8
			}
			switch {
			case limit < 0 && c.PeakInFlight <= 8:
				t.Errorf("without a limit, peak in flight %d: the load does not show", c.PeakInFlight)
			case limit > 0 && c.PeakInFlight > limit:
				t.Errorf("peak in flight %d, above MaxConcurrentPerHost %d", c.PeakInFlight, limit)
			case limit > 0 && c.PeakInFlight < 2:
				t.Errorf("peak in flight %d: the load was not concurrent", c.PeakInFlight)
			}
			if tc.typ == arcgis.Federated {
				if got := len(c.LoginAttempts[arcgissim.AccountKey(arcgissim.RealmPortal, "alice")]); got != 1 {
					t.Errorf("%d concurrent portal logins, want 1 shared", got)
				}
			}
		})
	}
}

// ownTransport is an *http.Transport in a type of its own, so that the
// client uses it as it is.
type ownTransport struct{ *http.Transport }

// TestSimFederatedBoundToAnotherIP: a federated server token for consumers
// at another address (client=ip, the address of the pods that use it).
func TestSimFederatedBoundToAnotherIP(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, nil, nil)
	r := e.request(arcgis.Federated, 60)
	r.Binding = arcgis.Binding{Client: arcgis.ClientIP, IP: "192.0.2.10"}
	tok, err := e.issue(r)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	if want := simStart.Add(time.Hour); !tok.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", tok.Expires, want)
	}
	// The server token is for the consumers' address, so the operator's own
	// validation is refused.
	_, err = e.validate(e.validation(r, tok))
	e.checkError(err, wantErr{reason: arcgis.ReasonInvalidToken, status: 200, code: 498, endpoint: arcgis.EndpointRestServices, contains: "Invalid token."})
}

// TestSimDelayedPostEndsWithClient: a FaultDelay "gives up as soon as the
// client cancels" (arcgissim.FaultDelay); token requests are POSTs.
func TestSimDelayedPostEndsWithClient(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, nil, func(o *arcgis.Options) { o.Timeout = 200 * time.Millisecond })
	if err := e.sim.InjectFault(arcgissim.Fault{Endpoint: epPortal, Kind: arcgissim.FaultDelay, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := e.issue(e.request(arcgis.Portal, 60))
	e.checkError(err, wantErr{reason: arcgis.ReasonServiceUnavailable, retryable: true, deadline: true,
		endpoint: arcgis.EndpointGenerateToken, contains: "timeout"})
	deadline := time.Now().Add(2 * time.Second)
	for e.sim.Counters().InFlight > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := e.sim.Counters()
	if c.InFlight != 0 || c.Requests[epPortal][arcgissim.OutcomeCanceled] != 1 {
		t.Errorf("2s after the client gave up: %d in flight, outcomes %v; want 0 in flight and one Canceled",
			c.InFlight, c.Requests[epPortal])
	}
}

// TestSimCloseWithUnusedConnection: a client (any pooling HTTP client)
// holding a connection it has not sent a request on yet.
func TestSimCloseWithUnusedConnection(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, nil, nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.ca)
	conn, err := tls.Dial("tcp", e.host(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	if err := e.sim.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close took %s with one unused connection open", took)
	}
}

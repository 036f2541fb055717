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
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// Accounts every test simulator has unless its Config says otherwise.
const (
	alicePW     = "alice-Pa55word"
	bobPW       = "bob-Pa55word"
	appID       = "app1"
	appSecret   = "app1-S3cret"
	formType    = "application/x-www-form-urlencoded"
	testReferer = "@esri/arcgis-rest-js"
)

// t0 is the fake clock's start; far from the real time on purpose, so a
// computation from the wrong clock shows.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{64}\.\.$`)

// harness is a started simulator with a fake clock and a client trusting its CA.
type harness struct {
	t      *testing.T
	sim    *Simulator
	clock  *clocktesting.FakeClock
	client *http.Client
}

// start starts a simulator for one test; users alice and bob (bob lacks
// admin rights) and app app1 unless cfg has its own.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	if cfg.Users == nil {
		cfg.Users = map[string]string{"alice": alicePW, "bob": bobPW}
		cfg.NoAdmin = []string{"bob"}
	}
	if cfg.Apps == nil {
		cfg.Apps = map[string]string{appID: appSecret}
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := sim.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h := &harness{t: t, sim: sim, clock: clk, client: newClient(t, sim.CAPEM(), nil)}
	t.Cleanup(func() {
		h.client.CloseIdleConnections()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// newClient returns a plain net/http client trusting caPEM, dialling from
// localAddr when set.
func newClient(tb testing.TB, caPEM []byte, localAddr net.Addr) *http.Client {
	tb.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		tb.Fatal("CA PEM has no certificate")
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: localAddr}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 64,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is what came back, with the body decoded when it is JSON.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any // nil unless the body is a JSON object
}

// req describes one request; path is relative to the simulator's root and
// may carry a query string.
type req struct {
	method      string
	base        string // default the simulator's URL()
	path        string
	form        url.Values  // sent as the body
	contentType string      // default formType when form is set
	header      http.Header // extra headers
	client      *http.Client
	ctx         context.Context
}

func (h *harness) do(r req) response {
	h.t.Helper()
	resp, err := h.try(r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp
}

func (h *harness) try(r req) (response, error) {
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	base := r.base
	if base == "" {
		base = h.sim.URL()
	}
	hr, err := http.NewRequestWithContext(ctx, method, base+r.path, body)
	if err != nil {
		return response{}, err
	}
	if r.form != nil {
		ct := r.contentType
		if ct == "" {
			ct = formType
		}
		if ct != "-" {
			hr.Header.Set("Content-Type", ct)
		}
	}
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	client := r.client
	if client == nil {
		client = h.client
	}
	resp, err := client.Do(hr)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) == nil {
		out.body = m
	}
	return out, nil
}

// post sends a form to a path.
func (h *harness) post(path string, form url.Values) response {
	h.t.Helper()
	return h.do(req{path: path, form: form})
}

// Paths of the endpoints under the simulator's root.
const (
	pGenerate      = "/portal/sharing/rest/generateToken"
	pOAuth         = "/portal/sharing/rest/oauth2/token"
	pPortalInfo    = "/portal/sharing/rest/info"
	pSelf          = "/portal/sharing/rest/portals/self"
	pServerInfo    = "/server/rest/info"
	pServices      = "/server/rest/services"
	pServerTokens  = "/server/tokens/generateToken"
	pAdminGenerate = "/server/admin/generateToken"
	pAdmin         = "/server/admin"
)

// login is the form of a username/password token request.
func login(user, password string, extra ...string) url.Values {
	f := url.Values{"username": {user}, "password": {password}, "f": {"json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// issued is a token from a success response.
type issued struct {
	token   string
	expires time.Time
}

// wantToken checks a portal or server generateToken success and returns the
// token. ssl says whether "ssl":true must be there (portal) or absent (server).
func wantToken(t *testing.T, r response, ssl bool) issued {
	t.Helper()
	if r.status != http.StatusOK || r.body == nil || r.body["error"] != nil {
		t.Fatalf("want a token, got HTTP %d: %s", r.status, r.raw)
	}
	tok, _ := r.body["token"].(string)
	if !tokenPattern.MatchString(tok) {
		t.Fatalf("token %q does not look like an ArcGIS token", tok)
	}
	n, ok := r.body["expires"].(json.Number)
	if !ok {
		t.Fatalf("expires is not a JSON number: %s", r.raw)
	}
	ms, err := n.Int64()
	if err != nil {
		t.Fatalf("expires %v: %v", n, err)
	}
	if ssl {
		wantKeys(t, r.body, "token", "expires", "ssl")
		if r.body["ssl"] != true {
			t.Fatalf("want ssl true, got %s", r.raw)
		}
	} else {
		wantKeys(t, r.body, "token", "expires")
	}
	return issued{token: tok, expires: time.UnixMilli(ms).UTC()}
}

// wantKeys checks an object has exactly the given keys.
func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Fatalf("want keys %v, got %v", keys, m)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("want keys %v, got %v", keys, m)
		}
	}
}

// wantAdminToken checks an admin generateToken success: expires is a string.
func wantAdminToken(t *testing.T, r response) issued {
	t.Helper()
	if r.status != http.StatusOK || r.body == nil || r.body["status"] != nil {
		t.Fatalf("want an admin token, got HTTP %d: %s", r.status, r.raw)
	}
	wantKeys(t, r.body, "token", "expires")
	tok, _ := r.body["token"].(string)
	if !tokenPattern.MatchString(tok) {
		t.Fatalf("token %q does not look like an ArcGIS token", tok)
	}
	s, ok := r.body["expires"].(string)
	if !ok {
		t.Fatalf("admin expires is not a string: %s", r.raw)
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("admin expires %q: %v", s, err)
	}
	return issued{token: tok, expires: time.UnixMilli(ms).UTC()}
}

// wantError checks a REST envelope error: code, message and details (an
// array, or with oldDetails a string).
func wantError(t *testing.T, r response, code int, message string, details ...string) {
	t.Helper()
	e := errorObject(t, r)
	if got := e["code"]; got != json.Number(strconv.Itoa(code)) {
		t.Fatalf("want code %d, got %v: %s", code, got, r.raw)
	}
	if e["message"] != message {
		t.Fatalf("want message %q, got %q: %s", message, e["message"], r.raw)
	}
	got, ok := e["details"].([]any)
	if !ok {
		t.Fatalf("details is not an array: %s", r.raw)
	}
	want := make([]any, len(details))
	for i, d := range details {
		want[i] = d
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("want details %q, got %q", details, got)
	}
}

func errorObject(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.body == nil {
		t.Fatalf("want a JSON error, got HTTP %d: %s", r.status, r.raw)
	}
	e, ok := r.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("want an error object, got %s", r.raw)
	}
	return e
}

// wantAdminError checks the admin API's envelope.
func wantAdminError(t *testing.T, r response, code int, messages ...string) {
	t.Helper()
	if r.body == nil {
		t.Fatalf("want a JSON error, got HTTP %d: %s", r.status, r.raw)
	}
	wantKeys(t, r.body, "status", "messages", "code")
	want := map[string]any{"status": "error", "code": json.Number(strconv.Itoa(code)), "messages": toAny(messages)}
	if !reflect.DeepEqual(r.body, want) {
		t.Fatalf("want admin error %v, got %s", want, r.raw)
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// bearerHeader is an X-Esri-Authorization header for a token.
func bearerHeader(tok string) http.Header {
	return http.Header{"X-Esri-Authorization": {"Bearer " + tok}}
}

// withReferer adds a Referer header.
func withReferer(hdr http.Header, referer string) http.Header {
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Referer", referer)
	return hdr
}

// portalToken logs alice in at the portal.
func (h *harness) portalToken(extra ...string) issued {
	h.t.Helper()
	return wantToken(h.t, h.post(pGenerate, login("alice", alicePW, extra...)), true)
}

// serverToken logs alice in at the server's tokens endpoint.
func (h *harness) serverToken(extra ...string) issued {
	h.t.Helper()
	return wantToken(h.t, h.post(pServerTokens, login("alice", alicePW, extra...)), false)
}

// minutesAfter is t0 plus some minutes, as a token expiry.
func minutesAfter(from time.Time, minutes int) time.Time {
	return from.Add(time.Duration(minutes) * time.Minute).UTC()
}

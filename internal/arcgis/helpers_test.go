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
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// testNow is the fake clock's time in every test: 2026-01-15T12:00:00Z.
var testNow = time.Date(2026, time.January, 15, 12, 0, 0, 0, time.UTC)

// testExpiresMs is two hours after testNow, in epoch milliseconds.
const testExpiresMs = 1768485600000

// testExpires is testExpiresMs as a time.
var testExpires = time.UnixMilli(testExpiresMs).UTC()

// recorded is what the fake service saw of one request.
type recorded struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	UserAgent   string
	Referer     string
	Form        url.Values // the body only
}

// fakeService is an HTTPS server on 127.0.0.1 that records requests and
// answers from per-path handlers.
type fakeService struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	handlers map[string]http.HandlerFunc

	inflight atomic.Int32
	peak     atomic.Int32
}

func newFakeService(t testing.TB) *fakeService {
	t.Helper()
	f := &fakeService{t: t, handlers: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Handshakes cut short by a closing server, or refused on purpose by
	// the CA tests, are expected here: keep them out of the test output.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	rec := recorded{
		Method:      r.Method,
		Path:        r.URL.Path,
		RawQuery:    r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"),
		UserAgent:   r.Header.Get("User-Agent"),
		Referer:     r.Header.Get("Referer"),
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for the handler
	rec.Form, _ = url.ParseQuery(string(body))
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	h := f.handlers[r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// handle answers requests to path with h.
func (f *fakeService) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

// respond answers requests to path with a fixed status and body.
func (f *fakeService) respond(path string, status int, body string) {
	f.handle(path, jsonHandler(status, body))
}

func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// url is the server's root plus path.
func (f *fakeService) url(path string) string { return f.srv.URL + path }

// host is the server's host:port.
func (f *fakeService) host() string { return strings.TrimPrefix(f.srv.URL, "https://") }

// all returns the recorded requests.
func (f *fakeService) all() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// count returns how many requests went to path.
func (f *fakeService) count(path string) int {
	n := 0
	for _, r := range f.all() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// newTestClient returns a Client trusting the fake service through its test
// transport, with a fake clock at testNow unless opts has a clock.
func (f *fakeService) newTestClient(opts Options) *Client {
	if opts.Clock == nil {
		opts.Clock = clocktesting.NewFakePassiveClock(testNow)
	}
	if opts.Transport == nil {
		opts.Transport = f.srv.Client().Transport
	}
	return New(opts)
}

// portalTokenBody is a portal's success answer for tok.
func portalTokenBody(tok string) string {
	return `{"token":"` + tok + `","expires":1768485600000,"ssl":true}`
}

// mustError asserts that err is an *Error and returns it.
func mustError(t testing.TB, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("expected an *Error, got %T: %v", err, err)
	}
	return e
}

// testContext is a context bounded well below the go test timeout.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

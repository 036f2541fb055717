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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// caBundleOf is the PEM of the test server's certificate, which is its own
// root.
func caBundleOf(f *fakeService) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

func TestCABundle(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/sharing/rest/generateToken", 200, `{"token":"t","expires":1768485600000}`)
	// No Transport override: the client's own transports, as in production.
	c := New(Options{Clock: clocktesting.NewFakePassiveClock(testNow)})
	req := TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}, ExpirationMinutes: 60}

	t.Run("system roots do not trust the test server", func(t *testing.T) {
		_, err := c.IssueToken(testContext(t), req)
		e := mustError(t, err)
		if e.Reason != ReasonServiceUnavailable || !e.Retryable {
			t.Errorf("got %v, want a retryable %s", e, ReasonServiceUnavailable)
		}
		if !strings.Contains(e.Message, "unknown authority") {
			t.Errorf("message %q does not say the certificate is unknown", e.Message)
		}
	})
	t.Run("the bundle is trusted", func(t *testing.T) {
		req := req
		req.CABundle = caBundleOf(f)
		tok, err := c.IssueToken(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Token != "t" {
			t.Errorf("token %q, want t", tok.Token)
		}
	})
	t.Run("another server's bundle is not", func(t *testing.T) {
		req := req
		req.CABundle = unrelatedRootPEM(t)
		_, err := c.IssueToken(testContext(t), req)
		if e := mustError(t, err); e.Reason != ReasonServiceUnavailable || !strings.Contains(e.Message, "unknown authority") {
			t.Errorf("got %v, want an unknown authority", e)
		}
	})
}

// unrelatedRootPEM returns a self-signed CA that signed nothing here.
func unrelatedRootPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "unrelated root"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTransportPerCABundle(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	tr := newTransports(nil, 8)
	a1, e1 := tr.get(caBundleOf(f))
	a2, e2 := tr.get(caBundleOf(f))
	sys1, e3 := tr.get(nil)
	sys2, e4 := tr.get([]byte{})
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
		t.Fatal(e1, e2, e3, e4)
	}
	if a1 != a2 || sys1 != sys2 {
		t.Error("one bundle must map to one shared client")
	}
	if a1 == sys1 {
		t.Error("a CA bundle must not share the system roots' client")
	}
	tlsCfg := a1.Transport.(httpsOnly).next.(*http.Transport).TLSClientConfig
	if tlsCfg.MinVersion != tls.VersionTLS12 || tlsCfg.InsecureSkipVerify || tlsCfg.RootCAs == nil {
		t.Errorf("TLS config: min %x, insecure %t, roots %v", tlsCfg.MinVersion, tlsCfg.InsecureSkipVerify, tlsCfg.RootCAs)
	}
	if a1.CheckRedirect == nil {
		t.Error("no redirect policy")
	}

	// Bounded: the least recently used bundle goes.
	for i := range maxTransports + 5 {
		bundle := append(caBundleOf(f), []byte(strings.Repeat("\n", i+1))...)
		if _, e := tr.get(bundle); e != nil {
			t.Fatal(e)
		}
	}
	if n := len(tr.entries); n > maxTransports {
		t.Errorf("%d transports kept, want at most %d", n, maxTransports)
	}
}

// TestTransportOverrideHardened: even a test transport that skips
// verification is held to verification and TLS 1.2.
func TestTransportOverrideHardened(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/sharing/rest/generateToken", 200, `{"token":"t","expires":1768485600000}`)
	insecure := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}} //nolint:gosec // what the client must override
	c := New(Options{Transport: insecure})
	_, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}})
	if e := mustError(t, err); e.Reason != ReasonServiceUnavailable || !strings.Contains(e.Message, "unknown authority") {
		t.Errorf("got %v, want the certificate refused", e)
	}
	cfg := hardenTLS(insecure.TLSClientConfig, nil)
	if cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("hardened config: insecure %t, min %x", cfg.InsecureSkipVerify, cfg.MinVersion)
	}
	if !insecure.TLSClientConfig.InsecureSkipVerify {
		t.Error("the caller's transport was modified")
	}
}

func TestHTTPSOnlyRoundTripper(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	rt := httpsOnly{next: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodPost, plain.URL, strings.NewReader("password=x"))
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("a plain http:// request was sent")
	}
}

func TestConcurrencyLimitPerHost(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		limit    int
		callers  int
		wantPeak int32
	}{
		"limit 3":          {limit: 3, callers: 24, wantPeak: 3},
		"limit 1":          {limit: 1, callers: 6, wantPeak: 1},
		"default 8":        {limit: 0, callers: 24, wantPeak: 8},
		"negative: no cap": {limit: -1, callers: 12, wantPeak: 12},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			// Each request waits until as many as may run are in flight, or
			// briefly, so that the peak is reached if the limit allows it.
			f.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
				deadline := time.Now().Add(300 * time.Millisecond)
				for f.inflight.Load() < tc.wantPeak && time.Now().Before(deadline) {
					time.Sleep(2 * time.Millisecond)
				}
				time.Sleep(5 * time.Millisecond)
				jsonHandler(200, `{"token":"t","expires":1768485600000}`)(w, r)
			})
			c := f.newTestClient(Options{MaxConcurrentPerHost: tc.limit})
			var wg sync.WaitGroup
			for range tc.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url(""),
						Credentials: Credentials{Username: "u", Password: "p"}}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if got := f.peak.Load(); got != tc.wantPeak {
				t.Errorf("peak in flight %d, want %d", got, tc.wantPeak)
			}
			if got := f.count("/sharing/rest/generateToken"); got != tc.callers {
				t.Errorf("%d requests, want %d", got, tc.callers)
			}
		})
	}
}

func TestHostLimiterForgetsIdleHosts(t *testing.T) {
	t.Parallel()
	l := newHostLimiter(2)
	release, err := l.acquire(context.Background(), "Gis.Example.com:443")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.hosts["gis.example.com"]; !ok {
		t.Fatalf("host not tracked under its canonical name: %v", l.hosts)
	}
	release()
	release() // idempotent
	if len(l.hosts) != 0 {
		t.Errorf("%d hosts tracked after release, want 0", len(l.hosts))
	}
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	})
	req := TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}}

	t.Run("caller cancels mid-request", func(t *testing.T) {
		c := f.newTestClient(Options{})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.IssueToken(ctx, req)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %s", d)
		}
		e := mustError(t, err)
		if e.Reason != ReasonServiceUnavailable || !e.Retryable || !errors.Is(err, context.Canceled) {
			t.Errorf("got %v (is Canceled: %t), want a retryable, cancelled %s", e, errors.Is(err, context.Canceled), ReasonServiceUnavailable)
		}
	})

	t.Run("per-request timeout", func(t *testing.T) {
		c := f.newTestClient(Options{Timeout: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.IssueToken(testContext(t), req)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %s", d)
		}
		e := mustError(t, err)
		if e.Reason != ReasonServiceUnavailable || !e.Retryable || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want a retryable timeout", e)
		}
		if !strings.Contains(e.Message, "timeout of 100ms") {
			t.Errorf("message %q does not name the timeout", e.Message)
		}
	})

	t.Run("caller gives up while waiting for a slot", func(t *testing.T) {
		g := newFakeService(t)
		g.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-block:
			}
		})
		c := g.newTestClient(Options{MaxConcurrentPerHost: 1})
		req := TokenRequest{Type: Portal, URL: g.url(""), Credentials: Credentials{Username: "u", Password: "p"}}
		first, cancelFirst := context.WithCancel(context.Background())
		defer cancelFirst()
		go func() { _, _ = c.IssueToken(first, req) }()
		for g.inflight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.IssueToken(ctx, req)
		if e := mustError(t, err); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(e.Message, "slot") {
			t.Errorf("got %v, want the caller's deadline while waiting for a slot", e)
		}
		if n := g.count("/sharing/rest/generateToken"); n != 1 {
			t.Errorf("%d requests reached the service, want 1", n)
		}
	})
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	other := newFakeService(t)
	other.respond("/sharing/rest/generateToken", 200, `{"token":"stolen","expires":1768485600000}`)
	tests := map[string]struct {
		status      int
		location    func(f *fakeService) string
		wantReason  Reason
		wantMessage string
	}{
		"307 on the same host is followed": {
			status: http.StatusTemporaryRedirect, location: func(f *fakeService) string { return f.url("/new/sharing/rest/generateToken") },
		},
		"308 on the same host is followed": {
			status: http.StatusPermanentRedirect, location: func(f *fakeService) string { return "/new/sharing/rest/generateToken" },
		},
		"302 would turn the POST into a GET": {
			status: http.StatusFound, location: func(f *fakeService) string { return f.url("/new/sharing/rest/generateToken") },
			wantReason: ReasonBadRequest, wantMessage: "POST into a GET",
		},
		"redirect to http:// is refused": {
			status: http.StatusTemporaryRedirect, location: func(f *fakeService) string { return "http://" + f.host() + "/new/sharing/rest/generateToken" },
			wantReason: ReasonBadRequest, wantMessage: "plain http://",
		},
		"redirect to another host is refused": {
			status: http.StatusTemporaryRedirect, location: func(*fakeService) string { return "https://localhost:" + portOf(other) + "/sharing/rest/generateToken" },
			wantReason: ReasonBadRequest, wantMessage: "another host",
		},
		"redirect loop": {
			status: http.StatusTemporaryRedirect, location: func(f *fakeService) string { return f.url("/sharing/rest/generateToken") },
			wantReason: ReasonBadRequest, wantMessage: "redirects",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			f.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", tc.location(f))
				w.WriteHeader(tc.status)
			})
			f.handle("/new/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.PostFormValue("password") != "p" {
					http.Error(w, "lost the body", http.StatusBadRequest)
					return
				}
				jsonHandler(200, `{"token":"t","expires":1768485600000}`)(w, r)
			})
			c := f.newTestClient(Options{})
			tok, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url(""),
				Credentials: Credentials{Username: "u", Password: "p"}})
			if tc.wantReason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Token != "t" {
					t.Errorf("token %q", tok.Token)
				}
				return
			}
			e := mustError(t, err)
			if e.Reason != tc.wantReason || e.Retryable || !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("got %v, want a non-retryable %s mentioning %q", e, tc.wantReason, tc.wantMessage)
			}
		})
	}
	if n := len(other.all()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

func portOf(f *fakeService) string {
	_, port, _ := strings.Cut(f.host(), ":")
	return port
}

func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.handle("/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"token":"` + strings.Repeat("a", maxTokenBody) + `","expires":1768485600000}`))
	})
	c := f.newTestClient(Options{})
	_, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}})
	if e := mustError(t, err); e.Reason != ReasonInvalidResponse || !strings.Contains(e.Message, "larger than") {
		t.Errorf("got %v, want the answer refused as too large", e)
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	f := newFakeService(t)
	addr := f.url("")
	f.srv.Close()
	c := New(Options{})
	_, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: addr + "/portal",
		Credentials: Credentials{Username: "u", Password: "p"}})
	e := mustError(t, err)
	if e.Reason != ReasonServiceUnavailable || !e.Retryable || e.HTTPStatus != 0 {
		t.Errorf("got %v, want a retryable %s without status", e, ReasonServiceUnavailable)
	}
	if strings.Contains(e.Error(), "/portal/sharing") || strings.Contains(e.Error(), "Post ") {
		t.Errorf("the error quotes the request: %v", e)
	}
	if !strings.Contains(e.Message, "connection refused") {
		t.Errorf("message %q does not say the connection was refused", e.Message)
	}
}

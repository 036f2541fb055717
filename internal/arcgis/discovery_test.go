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
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func serverInfoBody(tokenServicesURL string) string {
	return `{"currentVersion":11.3,"authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"` + tokenServicesURL + `","shortLivedTokenValidity":60}}`
}

func TestDiscoveryCachedForTTL(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/arcgis/rest/info", 200, serverInfoBody(f.url("/arcgis/tokens/")))
	f.respond("/arcgis/tokens/generateToken", 200, `{"token":"t","expires":1768485600000}`)
	clk := clocktesting.NewFakePassiveClock(testNow)
	c := f.newTestClient(Options{Clock: clk, DiscoveryTTL: 10 * time.Minute})
	req := TokenRequest{Type: Server, URL: f.url("/arcgis"), Credentials: Credentials{Username: "u", Password: "p"}}

	steps := []struct {
		advance       time.Duration
		wantDiscovery int
	}{
		{0, 1},
		{0, 1},
		{9*time.Minute + 59*time.Second, 1}, // still fresh
		{time.Second, 2},                    // exactly the TTL: discovered again
		{time.Minute, 2},
		{30 * time.Minute, 3},
	}
	for i, s := range steps {
		clk.SetTime(clk.Now().Add(s.advance))
		// Keep the token's expiry ahead of the advancing clock.
		f.respond("/arcgis/tokens/generateToken", 200, `{"token":"t","expires":"`+itoa(clk.Now().Add(time.Hour).UnixMilli())+`"}`)
		if _, err := c.IssueToken(testContext(t), req); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := f.count("/arcgis/rest/info"); got != s.wantDiscovery {
			t.Fatalf("step %d: %d discoveries, want %d", i, got, s.wantDiscovery)
		}
		if got := f.count("/arcgis/tokens/generateToken"); got != i+1 {
			t.Fatalf("step %d: %d generateToken calls, want %d", i, got, i+1)
		}
	}
}

func TestDiscoveryDeduplicated(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	f.handle("/arcgis/rest/info", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-release
		jsonHandler(200, serverInfoBody(f.url("/arcgis/tokens/")))(w, r)
	})
	f.respond("/arcgis/tokens/generateToken", 200, `{"token":"t","expires":1768485600000}`)
	c := f.newTestClient(Options{MaxConcurrentPerHost: -1})
	req := TokenRequest{Type: Server, URL: f.url("/arcgis"), Credentials: Credentials{Username: "u", Password: "p"}}

	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.IssueToken(testContext(t), req)
			errs <- err
		}()
	}
	<-entered
	time.Sleep(50 * time.Millisecond) // let the others pile up behind the first
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count("/arcgis/rest/info"); got != 1 {
		t.Errorf("%d discoveries for %d concurrent callers, want 1", got, callers)
	}
	if got := f.count("/arcgis/tokens/generateToken"); got != callers {
		t.Errorf("%d generateToken calls, want %d", got, callers)
	}
}

func TestDiscoveryAnswers(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status        int
		body          string // {{root}} is the fake service's https root
		wantPath      string // generateToken path used; empty when discovery fails
		wantReason    Reason
		wantRetryable bool
		wantMessage   string
	}{
		"tokens URL with a trailing slash": {
			status: 200, body: serverInfoBody("{{root}}/arcgis/tokens/"), wantPath: "/arcgis/tokens/generateToken",
		},
		"tokens URL without a trailing slash": {
			status: 200, body: serverInfoBody("{{root}}/arcgis/tokens"), wantPath: "/arcgis/tokens/generateToken",
		},
		"tokens URL already ending in generateToken": {
			status: 200, body: serverInfoBody("{{root}}/arcgis/tokens/generateToken"), wantPath: "/arcgis/tokens/generateToken",
		},
		"federated server pointing at the portal": {
			status: 200, body: serverInfoBody("{{root}}/portal/sharing/rest/generateToken"), wantPath: "/portal/sharing/rest/generateToken",
		},
		"relative tokens URL": {
			status: 200, body: serverInfoBody("tokens/"), wantPath: "/arcgis/tokens/generateToken",
		},
		"isTokenBasedSecurity as a string": {
			status: 200, body: `{"authInfo":{"isTokenBasedSecurity":"true","tokenServicesUrl":"{{root}}/arcgis/tokens/"}}`,
			wantPath: "/arcgis/tokens/generateToken",
		},
		"http:// on the same host is upgraded": {
			status: 200, body: serverInfoBody("{{httproot}}/arcgis/tokens/"), wantPath: "/arcgis/tokens/generateToken",
		},
		"http:// on another host is refused": {
			status: 200, body: serverInfoBody("http://gis-internal.example.com:6080/arcgis/tokens/"),
			wantReason: ReasonInvalidResponse, wantMessage: "plain http://gis-internal.example.com:6080",
		},
		"not token-based security": {
			status: 200, body: `{"currentVersion":11.3,"authInfo":{"isTokenBasedSecurity":false}}`,
			wantReason: ReasonBadRequest, wantMessage: "isTokenBasedSecurity is false",
		},
		"no authInfo": {
			status: 200, body: `{"currentVersion":11.3}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "no authInfo",
		},
		"token-based without a URL": {
			status: 200, body: `{"authInfo":{"isTokenBasedSecurity":true}}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "tokenServicesUrl",
		},
		"HTML page": {
			status: 404, body: `<html><title>Not Found</title></html>`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "Not Found",
		},
		"error envelope": {
			status: 200, body: `{"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","messageCode":"GWM_0003"}}`,
			wantReason: ReasonPermissionDenied,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			body := strings.ReplaceAll(tc.body, "{{root}}", f.url(""))
			body = strings.ReplaceAll(body, "{{httproot}}", "http://"+f.host())
			f.respond("/arcgis/rest/info", tc.status, body)
			f.respond("/arcgis/tokens/generateToken", 200, `{"token":"t","expires":1768485600000}`)
			f.respond("/portal/sharing/rest/generateToken", 200, `{"token":"t","expires":1768485600000}`)
			c := f.newTestClient(Options{})
			tok, err := c.IssueToken(testContext(t), TokenRequest{Type: Server, URL: f.url("/arcgis"),
				Credentials: Credentials{Username: "u", Password: "p"}})
			if tc.wantPath != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := f.count(tc.wantPath); got != 1 {
					t.Errorf("%d calls to %s, want 1: %+v", got, tc.wantPath, f.all())
				}
				if tok.ServiceURL != f.url("/arcgis") {
					t.Errorf("ServiceURL %q, want the server root %q", tok.ServiceURL, f.url("/arcgis"))
				}
				return
			}
			e := mustError(t, err)
			if e.Reason != tc.wantReason || e.Retryable != tc.wantRetryable {
				t.Errorf("got %s retryable=%t, want %s retryable=%t: %v", e.Reason, e.Retryable, tc.wantReason, tc.wantRetryable, e)
			}
			if e.Endpoint != EndpointRestInfo {
				t.Errorf("endpoint %q, want %q", e.Endpoint, EndpointRestInfo)
			}
			if !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tc.wantMessage)
			}
			if n := len(f.all()); n != 1 {
				t.Errorf("%d requests, want only the discovery: %+v", n, f.all())
			}
		})
	}
}

// TestDiscoveryForgottenWhenUnavailable: a token service that stops answering
// may have moved, so the next attempt looks it up again.
func TestDiscoveryForgottenWhenUnavailable(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/rest/info", 200, serverInfoBody(f.url("/tokens/")))
	f.respond("/tokens/generateToken", 503, `<html>Service Unavailable</html>`)
	c := f.newTestClient(Options{})
	req := TokenRequest{Type: Server, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}}
	for range 2 {
		if _, err := c.IssueToken(testContext(t), req); ReasonOf(err) != ReasonServiceUnavailable {
			t.Fatalf("got %v, want %s", err, ReasonServiceUnavailable)
		}
	}
	if got := f.count("/rest/info"); got != 2 {
		t.Errorf("%d discoveries, want 2", got)
	}
	// A refusal of the credentials says nothing about the URL: kept.
	f.respond("/tokens/generateToken", 200, `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`)
	for range 2 {
		if _, err := c.IssueToken(testContext(t), req); ReasonOf(err) != ReasonInvalidCredentials {
			t.Fatalf("got %v, want %s", err, ReasonInvalidCredentials)
		}
	}
	if got := f.count("/rest/info"); got != 3 {
		t.Errorf("%d discoveries, want 3", got)
	}
}

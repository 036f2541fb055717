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
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// federatedPortal fakes a portal's generateToken: logins get portal-tok-N,
// exchanges of a token not in revoked get a server token.
type federatedPortal struct {
	f       *fakeService
	logins  atomic.Int32
	revoked sync.Map // portal tokens the exchange refuses with 498
	// expires is the portal token's expiry; the server token expires later.
	expires time.Time
	// loginGate, when set, holds logins until closed.
	loginGate chan struct{}
	// badPassword makes every login fail.
	badPassword bool
}

const (
	portalPath = "/portal/sharing/rest/generateToken"
)

func newFederatedPortal(t *testing.T) *federatedPortal {
	p := &federatedPortal{f: newFakeService(t), expires: testExpires}
	p.f.handle(portalPath, p.serve)
	return p
}

func (p *federatedPortal) serve(w http.ResponseWriter, r *http.Request) {
	if tok := r.PostFormValue("token"); tok != "" {
		if _, bad := p.revoked.Load(tok); bad {
			jsonHandler(200, `{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."]}}`)(w, r)
			return
		}
		jsonHandler(200, `{"token":"server-tok-for-`+tok+`","expires":`+itoa(p.expires.UnixMilli())+`,"ssl":true}`)(w, r)
		return
	}
	if p.loginGate != nil {
		<-p.loginGate
	}
	if p.badPassword {
		jsonHandler(200, `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`)(w, r)
		return
	}
	n := p.logins.Add(1)
	jsonHandler(200, fmt.Sprintf(`{"token":"portal-tok-%d","expires":%d,"ssl":true}`, n, p.expires.UnixMilli()))(w, r)
}

// calls counts logins and exchanges that reached the portal.
func (p *federatedPortal) calls() (logins, exchanges int) {
	for _, r := range p.f.all() {
		if r.Form.Get("token") != "" {
			exchanges++
		} else {
			logins++
		}
	}
	return logins, exchanges
}

func (p *federatedPortal) request() TokenRequest {
	return TokenRequest{
		Type: Federated, URL: p.f.url("/portal"), ServerURL: p.f.url("/server"),
		Credentials:       Credentials{Username: "Admin", Password: "pw"},
		Binding:           Binding{Client: ClientReferer, Referer: testReferer},
		ExpirationMinutes: 60,
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

func TestFederatedPortalTokenCache(t *testing.T) {
	t.Parallel()
	p := newFederatedPortal(t)
	c := p.f.newTestClient(Options{})
	ctx := testContext(t)
	issue := func(req TokenRequest) string {
		t.Helper()
		tok, err := c.IssueToken(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	for range 3 {
		if got := issue(p.request()); got != "server-tok-for-portal-tok-1" {
			t.Fatalf("token %q, want the exchange of the first portal token", got)
		}
	}
	if l, x := p.calls(); l != 1 || x != 3 {
		t.Fatalf("%d logins and %d exchanges for 3 tokens of one account, want 1 and 3", l, x)
	}

	// Anything that could change the portal's answer is part of the key.
	variants := map[string]func(*TokenRequest){
		"another password":  func(r *TokenRequest) { r.Credentials.Password = "pw2" },
		"another user case": func(r *TokenRequest) { r.Credentials.Username = "admin" },
		"another referer":   func(r *TokenRequest) { r.Binding.Referer = "https://other.example.com" },
		"another binding":   func(r *TokenRequest) { r.Binding = Binding{Client: ClientRequestIP} },
	}
	want := 1
	for name, change := range variants {
		req := p.request()
		change(&req)
		issue(req)
		want++
		if l, _ := p.calls(); l != want {
			t.Fatalf("%s: %d logins, want %d", name, l, want)
		}
	}
	// A different server of the same account reuses the portal token.
	req := p.request()
	req.ServerURL = p.f.url("/server2")
	issue(req)
	if l, _ := p.calls(); l != want {
		t.Fatalf("another server: %d logins, want %d (cached)", l, want)
	}
}

func TestFederatedPortalTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	p := newFederatedPortal(t)
	clk := clocktesting.NewFakePassiveClock(testNow)
	c := p.f.newTestClient(Options{Clock: clk})
	// The portal token expires 2h after testNow; cached until 5 min before.
	steps := []struct {
		at         time.Duration
		wantLogins int
	}{
		{0, 1},
		{time.Hour, 1},
		{time.Hour + 54*time.Minute, 1}, // 6 min left: still used
		{time.Hour + 55*time.Minute, 2}, // 5 min left: renewed
	}
	for _, s := range steps {
		clk.SetTime(testNow.Add(s.at))
		p.expires = testNow.Add(2 * time.Hour)
		if s.wantLogins == 2 {
			p.expires = clk.Now().Add(2 * time.Hour)
		}
		if _, err := c.IssueToken(testContext(t), p.request()); err != nil {
			t.Fatalf("at +%s: %v", s.at, err)
		}
		if l, _ := p.calls(); l != s.wantLogins {
			t.Fatalf("at +%s: %d logins, want %d", s.at, l, s.wantLogins)
		}
	}
}

func TestFederatedFreshPortalTokenOn498(t *testing.T) {
	t.Parallel()
	p := newFederatedPortal(t)
	c := p.f.newTestClient(Options{})
	if _, err := c.IssueToken(testContext(t), p.request()); err != nil {
		t.Fatal(err)
	}
	// The portal's shared key changed: the cached portal token is dead.
	p.revoked.Store("portal-tok-1", true)
	tok, err := c.IssueToken(testContext(t), p.request())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token != "server-tok-for-portal-tok-2" {
		t.Errorf("token %q, want the exchange of a fresh portal token", tok.Token)
	}
	if l, x := p.calls(); l != 2 || x != 3 {
		t.Errorf("%d logins and %d exchanges, want 2 and 3", l, x)
	}
	// The fresh one is cached in turn.
	if _, err := c.IssueToken(testContext(t), p.request()); err != nil {
		t.Fatal(err)
	}
	if l, x := p.calls(); l != 2 || x != 4 {
		t.Errorf("%d logins and %d exchanges, want 2 and 4", l, x)
	}
}

func TestFederatedSecond498IsInvalidToken(t *testing.T) {
	t.Parallel()
	p := newFederatedPortal(t)
	p.revoked.Store("portal-tok-1", true)
	p.revoked.Store("portal-tok-2", true)
	c := p.f.newTestClient(Options{})
	_, err := c.IssueToken(testContext(t), p.request())
	e := mustError(t, err)
	if e.Reason != ReasonInvalidToken || e.Endpoint != EndpointExchange || e.Retryable {
		t.Errorf("got %v (endpoint %q, retryable %t), want a non-retryable %s from %s", e, e.Endpoint, e.Retryable, ReasonInvalidToken, EndpointExchange)
	}
	if l, x := p.calls(); l != 2 || x != 2 {
		t.Errorf("%d logins and %d exchanges, want 2 and 2: one retry only", l, x)
	}
}

// TestFederatedLoginsShared: tokens of one account issued at once share one
// portal login, and with a wrong password one failed login, not one each,
// which would lock the account.
func TestFederatedLoginsShared(t *testing.T) {
	t.Parallel()
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprintf("badPassword=%t", bad), func(t *testing.T) {
			t.Parallel()
			p := newFederatedPortal(t)
			p.badPassword = bad
			p.loginGate = make(chan struct{})
			c := p.f.newTestClient(Options{MaxConcurrentPerHost: -1})
			const callers = 10
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.IssueToken(testContext(t), p.request())
					errs <- err
				}()
			}
			time.Sleep(100 * time.Millisecond)
			close(p.loginGate)
			wg.Wait()
			close(errs)
			for err := range errs {
				want := Reason("")
				if bad {
					want = ReasonInvalidCredentials
				}
				if ReasonOf(err) != want {
					t.Fatalf("got %v, want reason %q", err, want)
				}
			}
			l, x := p.calls()
			wantX := callers
			if bad {
				wantX = 0
			}
			if l != 1 || x != wantX {
				t.Errorf("%d logins and %d exchanges, want 1 and %d", l, x, wantX)
			}
		})
	}
}

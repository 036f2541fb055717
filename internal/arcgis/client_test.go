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
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testUser     = "Admin" // ArcGIS usernames are case-sensitive: sent as is
	testPassword = "pw-Secret-1"
	testReferer  = "https://app.example.com"
)

// assertWire checks the rules every request follows.
func assertWire(t *testing.T, r recorded, wantUA string) {
	t.Helper()
	if r.Method != http.MethodPost {
		t.Errorf("%s: method %s, want POST", r.Path, r.Method)
	}
	if r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("%s: Content-Type %q, want application/x-www-form-urlencoded", r.Path, r.ContentType)
	}
	if r.RawQuery != "" {
		t.Errorf("%s: query %q, want none: credentials and tokens go in the body", r.Path, r.RawQuery)
	}
	if r.UserAgent != wantUA {
		t.Errorf("%s: User-Agent %q, want %q", r.Path, r.UserAgent, wantUA)
	}
	if got := r.Form.Get("f"); got != "json" {
		t.Errorf("%s: f=%q, want json", r.Path, got)
	}
}

func TestIssueTokenWire(t *testing.T) {
	t.Parallel()
	type wantCall struct {
		path    string
		form    url.Values
		referer string
	}
	tests := map[string]struct {
		req       func(f *fakeService) TokenRequest
		setup     func(f *fakeService)
		wantCalls []wantCall
		want      func(f *fakeService) Token
	}{
		"Portal, referer-bound, trailing slash": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: Portal, URL: f.url("/portal/"),
					Credentials:       Credentials{Username: testUser, Password: testPassword},
					Binding:           Binding{Client: ClientReferer, Referer: testReferer},
					ExpirationMinutes: 60,
				}
			},
			setup: func(f *fakeService) {
				f.respond("/portal/sharing/rest/generateToken", 200, `{"token":"portal-tok..","expires":1768485600000,"ssl":true}`)
			},
			wantCalls: []wantCall{{
				path: "/portal/sharing/rest/generateToken", referer: testReferer,
				form: url.Values{"username": {testUser}, "password": {testPassword}, "client": {"referer"},
					"referer": {testReferer}, "expiration": {"60"}, "f": {"json"}},
			}},
			want: func(f *fakeService) Token {
				return Token{Token: "portal-tok..", Expires: testExpires, SSL: true, ServiceURL: f.url("/portal")}
			},
		},
		"Portal, unbound, service's default lifetime": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: testUser, Password: testPassword}}
			},
			setup: func(f *fakeService) {
				f.respond("/sharing/rest/generateToken", 200, `{"token":"t","expires":1768485600000}`)
			},
			wantCalls: []wantCall{{
				path: "/sharing/rest/generateToken",
				form: url.Values{"username": {testUser}, "password": {testPassword}, "f": {"json"}},
			}},
			want: func(f *fakeService) Token { return Token{Token: "t", Expires: testExpires, ServiceURL: f.url("")} },
		},
		"Server, IP-bound, discovered token service": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: Server, URL: f.url("/arcgis"),
					Credentials:       Credentials{Username: testUser, Password: testPassword},
					Binding:           Binding{Client: ClientIP, IP: "10.1.2.3"},
					ExpirationMinutes: 120,
				}
			},
			setup: func(f *fakeService) {
				f.respond("/arcgis/rest/info", 200, `{"currentVersion":11.3,"authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"`+f.url("/arcgis/tokens/")+`","shortLivedTokenValidity":60}}`)
				f.respond("/arcgis/tokens/generateToken", 200, `{"token":"server-tok","expires":1768485600000}`)
			},
			wantCalls: []wantCall{
				{path: "/arcgis/rest/info", form: url.Values{"f": {"json"}}},
				{path: "/arcgis/tokens/generateToken", form: url.Values{"username": {testUser}, "password": {testPassword},
					"client": {"ip"}, "ip": {"10.1.2.3"}, "expiration": {"120"}, "f": {"json"}}},
			},
			want: func(f *fakeService) Token {
				return Token{Token: "server-tok", Expires: testExpires, ServiceURL: f.url("/arcgis")}
			},
		},
		"Server, referer-bound: Referer on discovery and generateToken": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: Server, URL: f.url("/arcgis/rest/services/"),
					Credentials: Credentials{Username: testUser, Password: testPassword},
					Binding:     Binding{Client: ClientReferer, Referer: testReferer},
				}
			},
			setup: func(f *fakeService) {
				f.respond("/arcgis/rest/info", 200, `{"authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"`+f.url("/arcgis/tokens/")+`"}}`)
				f.respond("/arcgis/tokens/generateToken", 200, `{"token":"server-tok","expires":1768485600000}`)
			},
			wantCalls: []wantCall{
				{path: "/arcgis/rest/info", form: url.Values{"f": {"json"}}, referer: testReferer},
				{path: "/arcgis/tokens/generateToken", referer: testReferer, form: url.Values{"username": {testUser},
					"password": {testPassword}, "client": {"referer"}, "referer": {testReferer}, "f": {"json"}}},
			},
			want: func(f *fakeService) Token {
				return Token{Token: "server-tok", Expires: testExpires, ServiceURL: f.url("/arcgis")}
			},
		},
		"ServerAdmin, requestip, expires as a string": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: ServerAdmin, URL: f.url("/arcgis/admin/"),
					Credentials:       Credentials{Username: testUser, Password: testPassword},
					Binding:           Binding{Client: ClientRequestIP},
					ExpirationMinutes: 30,
				}
			},
			setup: func(f *fakeService) {
				f.respond("/arcgis/admin/generateToken", 200, `{"token":"admin-tok","expires":"1768485600000"}`)
			},
			wantCalls: []wantCall{{
				path: "/arcgis/admin/generateToken",
				form: url.Values{"username": {testUser}, "password": {testPassword}, "client": {"requestip"}, "expiration": {"30"}, "f": {"json"}},
			}},
			want: func(f *fakeService) Token {
				return Token{Token: "admin-tok", Expires: testExpires, ServiceURL: f.url("/arcgis")}
			},
		},
		"Federated: portal login, then the exchange": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: Federated, URL: f.url("/portal"), ServerURL: f.url("/server/"),
					Credentials:       Credentials{Username: testUser, Password: testPassword},
					Binding:           Binding{Client: ClientReferer, Referer: testReferer},
					ExpirationMinutes: 90,
				}
			},
			setup: func(f *fakeService) {
				f.handle("/portal/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
					if r.PostFormValue("token") != "" {
						jsonHandler(200, `{"token":"server-tok","expires":1768485600000,"ssl":true}`)(w, r)
						return
					}
					jsonHandler(200, portalTokenBody("portal-tok"))(w, r)
				})
			},
			wantCalls: []wantCall{
				{path: "/portal/sharing/rest/generateToken", referer: testReferer, form: url.Values{"username": {testUser},
					"password": {testPassword}, "client": {"referer"}, "referer": {testReferer}, "expiration": {"90"}, "f": {"json"}}},
				{path: "/portal/sharing/rest/generateToken", referer: testReferer, form: url.Values{"token": {"portal-tok"},
					"serverUrl": {"SERVER"}, "client": {"referer"}, "referer": {testReferer}, "expiration": {"90"}, "f": {"json"}}},
			},
			want: func(f *fakeService) Token {
				return Token{Token: "server-tok", Expires: testExpires, SSL: true, ServiceURL: f.url("/server")}
			},
		},
		"OAuth: client credentials, binding ignored": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{
					Type: OAuth, URL: f.url("/portal/sharing/rest"),
					Credentials:       Credentials{ClientID: "app-id", ClientSecret: "app-secret"},
					Binding:           Binding{Client: ClientReferer, Referer: testReferer},
					ExpirationMinutes: 120,
				}
			},
			setup: func(f *fakeService) {
				f.respond("/portal/sharing/rest/oauth2/token", 200, `{"access_token":"oauth-tok","expires_in":7200}`)
			},
			wantCalls: []wantCall{{
				path: "/portal/sharing/rest/oauth2/token",
				form: url.Values{"client_id": {"app-id"}, "client_secret": {"app-secret"}, "grant_type": {"client_credentials"},
					"expiration": {"120"}, "f": {"json"}},
			}},
			want: func(f *fakeService) Token {
				return Token{Token: "oauth-tok", Expires: testNow.Add(2 * time.Hour), ServiceURL: f.url("/portal")}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			tc.setup(f)
			c := f.newTestClient(Options{})
			got, err := c.IssueToken(testContext(t), tc.req(f))
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			want := tc.want(f)
			if want.Lifetime == 0 {
				// The fake service's Date header is the real time, a year
				// from the fake clock: ignored as unbelievable, so the
				// lifetime is measured on the client's clock.
				want.Lifetime = want.Expires.Sub(testNow)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("token = %#v, want %#v (token values %q, %q)", *got, want, got.Token, want.Token)
			}
			calls := f.all()
			if len(calls) != len(tc.wantCalls) {
				t.Fatalf("%d requests, want %d: %+v", len(calls), len(tc.wantCalls), calls)
			}
			for i, want := range tc.wantCalls {
				r := calls[i]
				assertWire(t, r, "arcgis-token-operator/"+Version)
				if r.Path != want.path {
					t.Errorf("request %d: path %s, want %s", i, r.Path, want.path)
				}
				if r.Referer != want.referer {
					t.Errorf("request %d: Referer %q, want %q", i, r.Referer, want.referer)
				}
				if v := want.form["serverUrl"]; len(v) == 1 && v[0] == "SERVER" {
					want.form.Set("serverUrl", f.url("/server"))
				}
				if !reflect.DeepEqual(r.Form, want.form) {
					t.Errorf("request %d: form %v, want %v", i, r.Form, want.form)
				}
			}
		})
	}
}

// TestIssueTokenNoHiddenRetries: one IssueToken is one generateToken call,
// whatever the outcome; retrying is the caller's decision.
func TestIssueTokenNoHiddenRetries(t *testing.T) {
	t.Parallel()
	answers := map[string]struct {
		status int
		body   string
		reason Reason
	}{
		"success":             {200, `{"token":"t","expires":1768485600000}`, ""},
		"bad credentials":     {200, `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`, ReasonInvalidCredentials},
		"503":                 {503, `<html>busy</html>`, ReasonServiceUnavailable},
		"498":                 {200, `{"error":{"code":498,"message":"Invalid token."}}`, ReasonInvalidToken},
		"locked":              {200, `{"error":{"code":400,"message":"Unable to generate token.","details":["Too many invalid logon attempts."]}}`, ReasonAccountLocked},
		"expires in the past": {200, `{"token":"t","expires":1768478340000}`, ReasonInvalidResponse},
	}
	types := map[ServiceType]string{
		Portal:      "/sharing/rest/generateToken",
		Server:      "/tokens/generateToken",
		ServerAdmin: "/admin/generateToken",
		OAuth:       "/sharing/rest/oauth2/token",
	}
	for name, a := range answers {
		for typ, path := range types {
			t.Run(name+"/"+string(typ), func(t *testing.T) {
				t.Parallel()
				f := newFakeService(t)
				f.respond("/rest/info", 200, `{"authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"`+f.url("/tokens/")+`"}}`)
				f.respond(path, a.status, a.body)
				c := f.newTestClient(Options{})
				req := TokenRequest{Type: typ, URL: f.url(""),
					Credentials: Credentials{Username: "u", Password: "p", ClientID: "id", ClientSecret: "s"}}
				for i := 1; i <= 2; i++ {
					_, err := c.IssueToken(testContext(t), req)
					if got := ReasonOf(err); got != a.reason {
						t.Fatalf("reason %q, want %q (%v)", got, a.reason, err)
					}
					if n := f.count(path); n != i {
						t.Fatalf("after %d IssueToken: %d calls to %s, want %d", i, n, path, i)
					}
				}
			})
		}
	}
}

// TestRefusedBeforeSending: requests that cannot be right never reach the
// network, so they cannot count as failed logins either.
func TestRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	c := f.newTestClient(Options{})
	creds := Credentials{Username: "u", Password: "p"}
	keyOnly := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")})
	tests := map[string]struct {
		req         TokenRequest
		wantMessage string
	}{
		"http:// URL": {
			TokenRequest{Type: Portal, URL: strings.Replace(f.url("/portal"), "https://", "http://", 1), Credentials: creds},
			"http://",
		},
		"HTTP:// in capitals": {
			TokenRequest{Type: Portal, URL: strings.Replace(f.url("/portal"), "https://", "HTTP://", 1), Credentials: creds},
			"http://",
		},
		"http:// server URL of a federated token": {
			TokenRequest{Type: Federated, URL: f.url("/portal"), ServerURL: "http://gis.example.com/server", Credentials: creds},
			"serverURL is an http:// URL",
		},
		"other scheme":            {TokenRequest{Type: Portal, URL: "ftp://gis.example.com/portal", Credentials: creds}, "https://"},
		"relative URL":            {TokenRequest{Type: Portal, URL: "gis.example.com/portal", Credentials: creds}, "https://"},
		"empty URL":               {TokenRequest{Type: Portal, Credentials: creds}, "url is empty"},
		"URL with a query":        {TokenRequest{Type: Portal, URL: f.url("/portal?token=abc"), Credentials: creds}, "query"},
		"URL with user info":      {TokenRequest{Type: Portal, URL: "https://u:p@" + f.host() + "/portal", Credentials: creds}, "user name"},
		"URL without a host":      {TokenRequest{Type: Portal, URL: "https:///portal", Credentials: creds}, "no host"},
		"unknown type":            {TokenRequest{Type: "Online", URL: f.url(""), Credentials: creds}, "unknown service type"},
		"missing username":        {TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Password: "p"}}, "username"},
		"missing password":        {TokenRequest{Type: ServerAdmin, URL: f.url(""), Credentials: Credentials{Username: "u"}}, "password"},
		"server without password": {TokenRequest{Type: Server, URL: f.url(""), Credentials: Credentials{Username: "u"}}, "password"},
		"OAuth without secret":    {TokenRequest{Type: OAuth, URL: f.url(""), Credentials: Credentials{ClientID: "id"}}, "client secret"},
		"federated without server URL": {
			TokenRequest{Type: Federated, URL: f.url(""), Credentials: creds}, "serverURL is empty",
		},
		"referer binding without referer": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, Binding: Binding{Client: ClientReferer}}, "needs a referer",
		},
		"referer with a line break": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, Binding: Binding{Client: ClientReferer, Referer: "a\r\nX: y"}}, "control characters",
		},
		"IP binding without a valid IP": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, Binding: Binding{Client: ClientIP, IP: "10.1.2"}}, "IP address",
		},
		"unknown binding": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, Binding: Binding{Client: "cookie"}}, "unknown client binding",
		},
		"negative expiration": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, ExpirationMinutes: -1}, "negative",
		},
		"CA bundle that is not PEM": {
			TokenRequest{Type: Portal, URL: f.url(""), Credentials: creds, CABundle: []byte("not a certificate")}, "no PEM-encoded certificate",
		},
		"CA bundle with a key only": {
			TokenRequest{Type: Server, URL: f.url(""), Credentials: creds, CABundle: keyOnly}, "no PEM-encoded certificate",
		},
		"CA bundle not PEM, federated": {
			TokenRequest{Type: Federated, URL: f.url(""), ServerURL: f.url("/server"), Credentials: creds, CABundle: []byte("x")}, "no PEM-encoded certificate",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := c.IssueToken(testContext(t), tc.req)
			e := mustError(t, err)
			if e.Reason != ReasonInvalidRequest || e.Retryable {
				t.Errorf("got %s retryable=%t, want %s not retryable: %v", e.Reason, e.Retryable, ReasonInvalidRequest, e)
			}
			if !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tc.wantMessage)
			}
		})
	}
	t.Run("validate without a token", func(t *testing.T) {
		_, err := c.ValidateToken(testContext(t), ValidateRequest{Type: Portal, URL: f.url("")})
		if e := mustError(t, err); e.Reason != ReasonInvalidRequest {
			t.Errorf("got %v, want %s", e, ReasonInvalidRequest)
		}
	})
	t.Run("validate over http://", func(t *testing.T) {
		_, err := c.ValidateToken(testContext(t), ValidateRequest{Type: Server, URL: "http://" + f.host(), Token: "t"})
		if e := mustError(t, err); e.Reason != ReasonInvalidRequest || e.Host != f.host() {
			t.Errorf("got %v (host %q), want %s at %s", e, e.Host, ReasonInvalidRequest, f.host())
		}
	})
	if n := len(f.all()); n != 0 {
		t.Errorf("%d requests reached the service, want none", n)
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/rest/info", 200, `{"authInfo":{"isTokenBasedSecurity":true,"tokenServicesUrl":"`+f.url("/tokens/")+`"}}`)
	f.handle("/tokens/generateToken", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("password") == "wrong" {
			jsonHandler(200, `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`)(w, r)
			return
		}
		jsonHandler(200, `{"token":"t","expires":1768485600000}`)(w, r)
	})
	var mu sync.Mutex
	var got []Observation
	c := f.newTestClient(Options{Observer: func(o Observation) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, o)
	}})
	req := TokenRequest{Type: Server, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}}
	if _, err := c.IssueToken(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	req.Credentials.Password = "wrong"
	if _, err := c.IssueToken(testContext(t), req); ReasonOf(err) != ReasonInvalidCredentials {
		t.Fatalf("got %v, want %s", err, ReasonInvalidCredentials)
	}
	// Refused locally: no HTTP request, no observation.
	req.URL = "http://" + f.host()
	_, _ = c.IssueToken(testContext(t), req)

	want := []Observation{
		{Host: f.host(), Endpoint: EndpointRestInfo, Result: ResultSuccess, HTTPStatus: 200},
		{Host: f.host(), Endpoint: EndpointGenerateToken, Result: ResultSuccess, HTTPStatus: 200},
		{Host: f.host(), Endpoint: EndpointGenerateToken, Result: string(ReasonInvalidCredentials), HTTPStatus: 200},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("%d observations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Duration <= 0 {
			t.Errorf("observation %d: duration %s, want > 0", i, got[i].Duration)
		}
		got[i].Duration = 0
		if got[i] != want[i] {
			t.Errorf("observation %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	f.respond("/sharing/rest/generateToken", 200, `{"token":"t","expires":1768485600000}`)
	c := f.newTestClient(Options{UserAgent: "custom/1.2"})
	if _, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}}); err != nil {
		t.Fatal(err)
	}
	if ua := f.all()[0].UserAgent; ua != "custom/1.2" {
		t.Errorf("User-Agent %q, want custom/1.2", ua)
	}
}

func TestValidateToken(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		req          func(f *fakeService) ValidateRequest
		path         string
		status       int
		body         string
		wantReferer  string
		wantIdentity string
		wantReason   Reason
	}{
		"Portal user token": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Portal, URL: f.url("/portal"), Token: "tok",
					Binding: Binding{Client: ClientReferer, Referer: testReferer}}
			},
			path: "/portal/sharing/rest/portals/self", status: 200,
			body:        `{"id":"0123","name":"Org","user":{"username":"Admin","role":"org_admin"}}`,
			wantReferer: testReferer, wantIdentity: "Admin",
		},
		"OAuth app token": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: OAuth, URL: f.url("/portal/"), Token: "tok"}
			},
			path: "/portal/sharing/rest/portals/self", status: 200,
			body: `{"id":"0123","appInfo":{"appId":"app-123","appOwner":"someone"}}`, wantIdentity: "app-123",
		},
		"Portal answer without user: fine, no identity": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Portal, URL: f.url("/portal"), Token: "tok"}
			},
			path: "/portal/sharing/rest/portals/self", status: 200, body: `{"id":"0123","name":"Org"}`,
		},
		"Portal 498": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Portal, URL: f.url("/portal"), Token: "tok"}
			},
			path: "/portal/sharing/rest/portals/self", status: 200,
			body: `{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."]}}`, wantReason: ReasonInvalidToken,
		},
		"Portal HTML Invalid Token page with 200": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Portal, URL: f.url("/portal"), Token: "tok"}
			},
			path: "/portal/sharing/rest/portals/self", status: 200,
			body: `<html><body>Invalid Token</body></html>`, wantReason: ReasonServiceUnavailable,
		},
		"Server token": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Server, URL: f.url("/arcgis"), Token: "tok"}
			},
			path: "/arcgis/rest/services", status: 200, body: `{"currentVersion":11.3,"folders":[],"services":[]}`,
		},
		"ServerAdmin token, Invalid Token from an older server": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: ServerAdmin, URL: f.url("/arcgis/admin"), Token: "tok"}
			},
			path: "/arcgis/rest/services", status: 498,
			body: `{"error":{"code":498,"message":"Invalid Token","details":[]}}`, wantReason: ReasonInvalidToken,
		},
		"Federated token at the server, referer-bound": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Federated, URL: f.url("/portal"), ServerURL: f.url("/server"), Token: "tok",
					Binding: Binding{Client: ClientReferer, Referer: testReferer}}
			},
			path: "/server/rest/services", status: 200, body: `{"currentVersion":11.3}`, wantReferer: testReferer,
		},
		"Server 403": {
			req: func(f *fakeService) ValidateRequest {
				return ValidateRequest{Type: Server, URL: f.url("/arcgis"), Token: "tok"}
			},
			path: "/arcgis/rest/services", status: 403,
			body:       `{"error":{"code":403,"messageCode":"GWM_0003","message":"You do not have permissions to access this resource or perform this operation."}}`,
			wantReason: ReasonPermissionDenied,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			f.respond(tc.path, tc.status, tc.body)
			c := f.newTestClient(Options{})
			v, err := c.ValidateToken(testContext(t), tc.req(f))
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (%v)", got, tc.wantReason, err)
			}
			if err == nil && v.Identity != tc.wantIdentity {
				t.Errorf("identity %q, want %q", v.Identity, tc.wantIdentity)
			}
			if err != nil && tc.wantReason == ReasonInvalidToken && mustError(t, err).Retryable {
				t.Errorf("an invalid token is not retryable")
			}
			calls := f.all()
			if len(calls) != 1 || calls[0].Path != tc.path {
				t.Fatalf("requests %+v, want one to %s", calls, tc.path)
			}
			assertWire(t, calls[0], "arcgis-token-operator/"+Version)
			if calls[0].Form.Get("token") != "tok" {
				t.Errorf("token not in the body: %v", calls[0].Form)
			}
			if calls[0].Referer != tc.wantReferer {
				t.Errorf("Referer %q, want %q", calls[0].Referer, tc.wantReferer)
			}
		})
	}
}

// TestErrorUnwrapsContext: a cancelled request can be told from an outage.
func TestErrorUnwrapsContext(t *testing.T) {
	t.Parallel()
	f := newFakeService(t)
	c := f.newTestClient(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.IssueToken(ctx, TokenRequest{Type: Portal, URL: f.url(""), Credentials: Credentials{Username: "u", Password: "p"}})
	e := mustError(t, err)
	if e.Reason != ReasonServiceUnavailable || !e.Retryable {
		t.Errorf("got %v, want a retryable %s", e, ReasonServiceUnavailable)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) is false for %v", err)
	}
	if n := len(f.all()); n != 0 {
		t.Errorf("%d requests sent with a cancelled context", n)
	}
}

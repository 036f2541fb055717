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
	"testing"
)

// TestLoginFlag: an *Error says whether the failed request carried a password
// or client secret, so the account guard counts only those.
func TestLoginFlag(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		req        func(f *fakeService) TokenRequest
		setup      func(f *fakeService)
		wantReason Reason
		wantLogin  bool
	}{
		"portal login refused": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Portal, URL: f.url("/portal"), Credentials: Credentials{Username: "u", Password: "p"}}
			},
			setup: func(f *fakeService) {
				f.respond("/portal/sharing/rest/generateToken", 200, `{"error":{"code":400,"message":"Unable to generate token.","details":["The user name or password is incorrect."]}}`)
			},
			wantReason: ReasonInvalidCredentials, wantLogin: true,
		},
		"portal login, 503": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Portal, URL: f.url("/portal"), Credentials: Credentials{Username: "u", Password: "p"}}
			},
			setup:      func(f *fakeService) { f.respond("/portal/sharing/rest/generateToken", 503, `<html>busy</html>`) },
			wantReason: ReasonServiceUnavailable, wantLogin: true,
		},
		"oauth refused": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: OAuth, URL: f.url("/portal"), Credentials: Credentials{ClientID: "a", ClientSecret: "s"}}
			},
			setup: func(f *fakeService) {
				f.respond("/portal/sharing/rest/oauth2/token", 200, `{"error":{"code":400,"error":"invalid_client","error_description":"Invalid client_secret"}}`)
			},
			wantReason: ReasonInvalidCredentials, wantLogin: true,
		},
		"server discovery fails: no login": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Server, URL: f.url("/server"), Credentials: Credentials{Username: "u", Password: "p"}}
			},
			setup:      func(f *fakeService) { f.respond("/server/rest/info", 200, `{"error":{"code":403,"message":"nope"}}`) },
			wantReason: ReasonPermissionDenied, wantLogin: false,
		},
		"federated exchange 498: a token, not a password": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Federated, URL: f.url("/portal"), ServerURL: f.url("/server"), Credentials: Credentials{Username: "u", Password: "p"}}
			},
			setup: func(f *fakeService) {
				f.handle("/portal/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
					if r.FormValue("token") != "" {
						jsonHandler(200, `{"error":{"code":498,"message":"Invalid token.","details":[]}}`)(w, r)
						return
					}
					jsonHandler(200, portalTokenBody("portal-token-value-1234"))(w, r)
				})
			},
			wantReason: ReasonInvalidToken, wantLogin: false,
		},
		"refused before sending: no login": {
			req: func(f *fakeService) TokenRequest {
				return TokenRequest{Type: Portal, URL: f.url("/portal"), Credentials: Credentials{Username: "u"}}
			},
			setup:      func(*fakeService) {},
			wantReason: ReasonInvalidRequest, wantLogin: false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			tc.setup(f)
			c := f.newTestClient(Options{})
			_, err := c.IssueToken(testContext(t), tc.req(f))
			e := mustError(t, err)
			if e.Reason != tc.wantReason || e.Login != tc.wantLogin {
				t.Errorf("got %s Login=%v (%v), want %s Login=%v", e.Reason, e.Login, e, tc.wantReason, tc.wantLogin)
			}
		})
	}
}

// TestLoginFailureWordings: the ways services word a refused login are all
// InvalidCredentials (defect 4 of issue 10: "The user name or password is
// incorrect." was BadRequest), and what is clearly transient stays so.
func TestLoginFailureWordings(t *testing.T) {
	t.Parallel()
	html := map[string]string{"Content-Type": "text/html"}
	tests := map[string]struct {
		status     int
		header     map[string]string
		body       string
		wantReason Reason
	}{
		"invalid username or password":           {200, nil, `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`, ReasonInvalidCredentials},
		"the user name or password is incorrect": {200, nil, `{"error":{"code":400,"message":"Unable to generate token.","details":["The user name or password is incorrect."]}}`, ReasonInvalidCredentials},
		"username or password is invalid":        {200, nil, `{"error":{"code":400,"message":"Username or password is invalid"}}`, ReasonInvalidCredentials},
		"incorrect password":                     {200, nil, `{"error":{"code":400,"message":"Unable to generate token.","details":["Incorrect password."]}}`, ReasonInvalidCredentials},
		"login failed":                           {200, nil, `{"error":{"code":400,"message":"Login failed."}}`, ReasonInvalidCredentials},
		"authentication failed":                  {200, nil, `{"error":{"code":400,"message":"Authentication failed for user"}}`, ReasonInvalidCredentials},
		"invalid credentials, code 401":          {200, nil, `{"error":{"code":401,"message":"Invalid credentials","details":[]}}`, ReasonInvalidCredentials},
		"code 401 in the body, unknown words":    {200, nil, `{"error":{"code":401,"message":"Unauthorized access","details":[]}}`, ReasonInvalidCredentials},
		"HTTP 401 with an ArcGIS body":           {401, nil, `{"error":{"code":401,"message":"Unauthorized access","details":[]}}`, ReasonInvalidCredentials},
		"HTTP 401 without a code in the body":    {401, nil, `{"error":{"message":"Nope"}}`, ReasonInvalidCredentials},
		"unknown wording: still refused":         {200, nil, `{"error":{"code":400,"message":"Unable to generate token.","details":["Computer says no."]}}`, ReasonBadRequest},
		"locked":                                 {200, nil, `{"error":{"code":400,"message":"Unable to generate token.","details":["Too many invalid logon attempts. Your account is locked; try again in 15 minutes."]}}`, ReasonAccountLocked},
		"HTML 401 from a web tier: transient":    {401, html, `<html><title>401 Unauthorized</title></html>`, ReasonServiceUnavailable},
		"503: transient":                         {503, nil, `{"error":{"code":503,"message":"Service unavailable"}}`, ReasonServiceUnavailable},
		"429: transient":                         {429, html, `<html>slow down</html>`, ReasonServiceUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t)
			f.handle("/portal/sharing/rest/generateToken", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c := f.newTestClient(Options{})
			_, err := c.IssueToken(testContext(t), TokenRequest{Type: Portal, URL: f.url("/portal"),
				Credentials: Credentials{Username: "u", Password: "pw-Secr3t-value"}})
			e := mustError(t, err)
			if e.Reason != tc.wantReason || !e.Login {
				t.Errorf("got %s Login=%v (%v), want %s Login=true", e.Reason, e.Login, e, tc.wantReason)
			}
			if e.Reason != ReasonAccountLocked && (e.Reason == ReasonServiceUnavailable) != e.Retryable {
				t.Errorf("Retryable = %v for %s", e.Retryable, e.Reason)
			}
		})
	}
}

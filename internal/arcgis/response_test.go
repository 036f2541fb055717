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
	"testing"
	"time"
)

// tokenReplyCase is one recorded answer of a token endpoint and what the
// client must make of it. The table is shared with the secrets test and the
// fuzz seeds, so that every shape in ARCGIS.md is exercised everywhere.
type tokenReplyCase struct {
	status int
	header map[string]string
	body   string
	// now overrides testNow, for the documentation's examples from 2016.
	now time.Time

	// want is the token on success; nil means an error is expected.
	want *issued

	wantReason     Reason
	wantRetryable  bool
	wantRetryAfter time.Duration
	wantCode       int
	wantMessage    string // a substring of Error.Message
}

var jan2016 = time.Date(2016, time.January, 26, 16, 0, 0, 0, time.UTC)

func tokenReplyCases() map[string]tokenReplyCase {
	ok := func(tok string, exp time.Time, ssl bool) *issued {
		return &issued{token: tok, expires: exp, ssl: ssl}
	}
	html := map[string]string{"Content-Type": "text/html; charset=utf-8"}
	return map[string]tokenReplyCase{
		// Success shapes.
		"portal: expires as epoch ms number, ssl true": {
			status: 200, body: `{"token":"J-S1mple-t0ken..","expires":1768485600000,"ssl":true}`,
			want: ok("J-S1mple-t0ken..", testExpires, true),
		},
		"portal: ssl false": {
			status: 200, body: `{"token":"tok-ssl-false","expires":1768485600000,"ssl":false}`,
			want: ok("tok-ssl-false", testExpires, false),
		},
		"server tokens endpoint: no ssl member": {
			status: 200, body: `{"token":"tok-server","expires":1768485600000}`,
			want: ok("tok-server", testExpires, false),
		},
		"admin: expires as a string of epoch ms": {
			status: 200, body: `{"token":"tok-admin","expires":"1768485600000"}`,
			want: ok("tok-admin", testExpires, false),
		},
		"oauth: expires_in is seconds from the clock's now": {
			status: 200, body: `{"access_token":"tok-oauth","expires_in":7200}`,
			want: ok("tok-oauth", testNow.Add(2*time.Hour), false),
		},
		"oauth: expires_in as a string": {
			status: 200, body: `{"access_token":"tok-oauth","expires_in":"7200"}`,
			want: ok("tok-oauth", testNow.Add(2*time.Hour), false),
		},
		"oauth: refresh_token alongside is ignored": {
			status: 200, body: `{"access_token":"tok-oauth","expires_in":1800,"refresh_token":"r","username":"app"}`,
			want: ok("tok-oauth", testNow.Add(30*time.Minute), false),
		},
		"ssl as a string": {
			status: 200, body: `{"token":"tok","expires":1768485600000,"ssl":"true"}`,
			want: ok("tok", testExpires, true),
		},
		"expires in exponent notation": {
			status: 200, body: `{"token":"tok","expires":1.7684856E12}`,
			want: ok("tok", testExpires, false),
		},
		"JSON served as text/plain with a byte order mark": {
			status: 200, header: map[string]string{"Content-Type": "text/plain;charset=utf-8"},
			body: "\xef\xbb\xbf {\"token\":\"tok\",\"expires\":1768485600000}\n",
			want: ok("tok", testExpires, false),
		},
		"error member null is no error": {
			status: 200, body: `{"error":null,"token":"tok","expires":1768485600000}`,
			want: ok("tok", testExpires, false),
		},
		"ARCGIS.md portal example at its own time": {
			status: 200, now: jan2016, body: `{"token":"…","expires":1453833598866,"ssl":true}`,
			want: ok("…", time.UnixMilli(1453833598866).UTC(), true),
		},

		// Error rows of ARCGIS.md, with HTTP 200 and with real statuses.
		"400 invalid username or password, HTTP 200": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400, wantMessage: "Invalid username or password.",
		},
		"400 invalid username or password, HTTP 400": {
			status: 400, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400, wantMessage: "Unable to generate token.",
		},
		"400 invalid username or password, details as a string": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":"Invalid username or password."}}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400, wantMessage: "Invalid username or password.",
		},
		"400 fields missing (wrong content type)": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["'username' must be specified.","'password' must be specified."]}}`,
			wantReason: ReasonBadRequest, wantCode: 400, wantMessage: "'password' must be specified.",
		},
		"405 method not supported": {
			status: 200, body: `{"error":{"code":405,"message":"Method not supported","details":["Generate Token request should not contain username and password in the query string."]}}`,
			wantReason: ReasonMethodNotSupported, wantCode: 405, wantMessage: "Method not supported",
		},
		"405 as a real status": {
			status: 405, body: `{"error":{"code":405,"message":"Method not supported","details":[]}}`,
			wantReason: ReasonMethodNotSupported, wantCode: 405,
		},
		"201 exception in generating token": {
			status: 200, body: `{"error":{"code":201,"message":"Exception in generating token","details":"Unable to generate token. Client ID is required for long expiration tokens."}}`,
			wantReason: ReasonBadRequest, wantCode: 201, wantMessage: "Client ID is required",
		},
		"403 SSL required": {
			status: 200, body: `{"error":{"code":403,"message":"SSL Required","details":[]}}`,
			wantReason: ReasonSSLRequired, wantCode: 403, wantMessage: "SSL Required",
		},
		"403 permissions GWM_0003": {
			status: 403, body: `{"error":{"code":403,"messageCode":"GWM_0003","message":"You do not have permissions to access this resource or perform this operation.","details":[]}}`,
			wantReason: ReasonPermissionDenied, wantCode: 403, wantMessage: "GWM_0003",
		},
		"498 invalid token, token has expired": {
			status: 200, body: `{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."]}}`,
			wantReason: ReasonInvalidToken, wantCode: 498, wantMessage: "Token has expired.",
		},
		"498 Invalid Token, older server, real status": {
			status: 498, body: `{"error":{"code":498,"message":"Invalid Token","details":[]}}`,
			wantReason: ReasonInvalidToken, wantCode: 498, wantMessage: "Invalid Token",
		},
		"499 token required GWM_0003": {
			status: 200, body: `{"error":{"code":499,"messageCode":"GWM_0003","message":"Token Required","details":[]}}`,
			wantReason: ReasonTokenRequired, wantCode: 499, wantMessage: "Token Required",
		},
		"400 exchange without a token": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["Unable to get 'token' from the request or cookie, for server token."]}}`,
			wantReason: ReasonBadRequest, wantCode: 400, wantMessage: "Unable to get 'token'",
		},
		"oauth: invalid_client_id at the top level": {
			status: 400, body: `{"error":"invalid_client_id","error_description":"Invalid client_id"}`,
			wantReason: ReasonInvalidCredentials, wantMessage: "invalid_client_id",
		},
		"oauth: invalid_request, Invalid client_secret": {
			status: 200, body: `{"error":"invalid_request","error_description":"Invalid client_secret"}`,
			wantReason: ReasonInvalidCredentials, wantMessage: "Invalid client_secret",
		},
		"oauth: inside the error object": {
			status: 200, body: `{"error":{"code":400,"error":"invalid_client","error_description":"Invalid client_id","message":"Invalid client_id","details":[]}}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400, wantMessage: "Invalid client_id",
		},
		"oauth: other invalid_request": {
			status: 400, body: `{"error":"invalid_request","error_description":"grant_type is required"}`,
			wantReason: ReasonBadRequest, wantMessage: "grant_type is required",
		},
		"oauth: server_error": {
			status: 200, body: `{"error":"server_error"}`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true,
		},
		"oauth: error_description alone": {
			status: 400, body: `{"error_description":"Invalid client_secret"}`,
			wantReason: ReasonInvalidCredentials, wantMessage: "Invalid client_secret",
		},
		"admin envelope: invalid token": {
			status: 200, body: `{"status":"error","messages":["Invalid token."],"code":498}`,
			wantReason: ReasonInvalidToken, wantCode: 498, wantMessage: "Invalid token.",
		},
		"admin envelope: token required": {
			status: 200, body: `{"status":"error","messages":["Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."],"code":499}`,
			wantReason: ReasonTokenRequired, wantCode: 499, wantMessage: "Token not found",
		},
		"admin envelope: bad credentials": {
			status: 200, body: `{"status":"error","messages":["Unable to generate token. Invalid username or password."],"code":400}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400,
		},
		"admin envelope without a code": {
			status: 200, body: `{"status":"error","messages":["Something went wrong."]}`,
			wantReason: ReasonBadRequest, wantMessage: "Something went wrong.",
		},
		"error member of an odd type": {
			status: 200, body: `{"error":true}`,
			wantReason: ReasonBadRequest, wantMessage: "error: true",
		},
		"error without message or code": {
			status: 200, body: `{"error":{}}`,
			wantReason: ReasonBadRequest, wantMessage: "no message",
		},
		"error and token together: the error wins": {
			status: 200, body: `{"error":{"code":498,"message":"Invalid token."},"token":"tok","expires":1768485600000}`,
			wantReason: ReasonInvalidToken, wantCode: 498,
		},

		// Lock-outs.
		"locked: too many invalid logon attempts": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["Too many invalid logon attempts. Try again later."]}}`,
			wantReason: ReasonAccountLocked, wantRetryable: true, wantRetryAfter: 15 * time.Minute, wantCode: 400,
		},
		"locked: account is locked, details as a string": {
			status: 400, body: `{"error":{"code":400,"message":"Unable to generate token.","details":"The account is locked."}}`,
			wantReason: ReasonAccountLocked, wantRetryable: true, wantRetryAfter: 15 * time.Minute, wantCode: 400,
		},
		"not locked yet: a warning with bad credentials": {
			status: 200, body: `{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password. 2 attempts remaining before the account will be locked."]}}`,
			wantReason: ReasonInvalidCredentials, wantCode: 400, wantMessage: "attempts remaining",
		},
		"locked: a longer Retry-After wins": {
			status: 429, header: map[string]string{"Retry-After": "3600"},
			body:       `{"error":{"code":400,"message":"User account locked out."}}`,
			wantReason: ReasonAccountLocked, wantRetryable: true, wantRetryAfter: time.Hour, wantCode: 400,
		},

		// Not JSON, or not the service answering.
		"HTML login page with status 200": {
			status: 200, header: html, body: `<!DOCTYPE html><html><head><title>Sign In</title></head><body><form>…</form></body></html>`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: `title "Sign In"`,
		},
		"HTML Invalid Token page with status 200": {
			status: 200, header: html, body: `<html><body><h1>Invalid Token</h1></body></html>`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "text/html",
		},
		"HTML page with status 498": {
			status: 498, header: html, body: `<html><head><title>Invalid Token</title></head></html>`,
			wantReason: ReasonInvalidToken, wantMessage: "Invalid Token",
		},
		"HTML 502 from a proxy": {
			status: 502, header: html, body: `<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "502 Bad Gateway",
		},
		"503 with Retry-After in seconds": {
			status: 503, header: map[string]string{"Retry-After": "120"},
			body:       `{"error":{"code":503,"message":"Service unavailable"}}`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantRetryAfter: 2 * time.Minute, wantCode: 503,
		},
		"503 with Retry-After as an HTTP date": {
			status: 503, header: map[string]string{"Retry-After": testNow.Add(90 * time.Second).Format(http.TimeFormat)},
			body:       `<html>down for maintenance</html>`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantRetryAfter: 90 * time.Second,
		},
		"503 with an absurd Retry-After is capped": {
			status: 503, header: map[string]string{"Retry-After": "9999999"},
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantRetryAfter: time.Hour,
		},
		"429 empty body": {
			status: 429, header: map[string]string{"Retry-After": "30"},
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantRetryAfter: 30 * time.Second,
		},
		"500 JSON error in a 200": {
			status: 200, body: `{"error":{"code":500,"message":"Unable to generate token.","details":["Internal error."]}}`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantCode: 500,
		},
		"500 with an empty object": {
			status: 500, body: `{}`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "HTTP 500",
		},
		"404 with an empty object": {
			status: 404, body: `{}`,
			wantReason: ReasonBadRequest, wantMessage: "HTTP 404",
		},
		"empty body": {
			status: 200, body: ``,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "empty body",
		},
		"white space only": {
			status: 200, body: " \n\t ",
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "empty body",
		},
		"truncated JSON": {
			status: 200, body: `{"token":"tok","expi`,
			wantReason: ReasonServiceUnavailable, wantRetryable: true, wantMessage: "cut short",
		},

		// JSON without a usable token.
		"JSON array": {
			status: 200, body: `[]`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not an object",
		},
		"JSON null": {
			status: 200, body: `null`,
			wantReason: ReasonInvalidResponse, wantRetryable: true,
		},
		"JSON string": {
			status: 200, body: `"tok"`,
			wantReason: ReasonInvalidResponse, wantRetryable: true,
		},
		"missing token": {
			status: 200, body: `{"expires":1768485600000,"ssl":true}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "without a token",
		},
		"empty token": {
			status: 200, body: `{"token":"","expires":1768485600000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "empty token",
		},
		"token is a number": {
			status: 200, body: `{"token":12345,"expires":1768485600000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a string",
		},
		"token with a line break": {
			status: 200, body: `{"token":"abc\r\nX-Evil: 1","expires":1768485600000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "control characters",
		},
		"missing expires": {
			status: 200, body: `{"token":"tok","ssl":true}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "without expires",
		},
		"expires null": {
			status: 200, body: `{"token":"tok","expires":null}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "without expires",
		},
		"expires is a boolean": {
			status: 200, body: `{"token":"tok","expires":true}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "is a boolean",
		},
		"expires is an object": {
			status: 200, body: `{"token":"tok","expires":{"ms":1768485600000}}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "is an object",
		},
		"expires is an array": {
			status: 200, body: `{"token":"tok","expires":[1768485600000]}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "is an array",
		},
		"expires is zero": {
			status: 200, body: `{"token":"tok","expires":0}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a time",
		},
		"expires is negative": {
			status: 200, body: `{"token":"tok","expires":-1768485600000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a time",
		},
		"expires is a non-numeric string": {
			status: 200, body: `{"token":"tok","expires":"tomorrow"}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a number",
		},
		"expires is an empty string": {
			status: 200, body: `{"token":"tok","expires":""}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a number",
		},
		"expires is NaN": {
			status: 200, body: `{"token":"tok","expires":"NaN"}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true,
		},
		"expires in the past": {
			status: 200, body: `{"token":"tok","expires":1768478340000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not in the future",
		},
		"expires exactly now": {
			status: 200, body: `{"token":"tok","expires":1768478400000}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not in the future",
		},
		"expires in epoch seconds (before 2000 as ms)": {
			status: 200, body: `{"token":"tok","expires":1768485600}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "before 2000",
		},
		"expires absurdly far ahead": {
			status: 200, body: `{"token":"tok","expires":99999999999999}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "years ahead",
		},
		"expires beyond int64": {
			status: 200, body: `{"token":"tok","expires":1e300}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true,
		},
		"ARCGIS.md admin example is 14 digits: year 2396": {
			status: 200, body: `{"token":"…","expires":"13472658353687"}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "years ahead",
		},
		"oauth: expires_in zero": {
			status: 200, body: `{"access_token":"tok","expires_in":0}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a lifetime",
		},
		"oauth: expires_in negative": {
			status: 200, body: `{"access_token":"tok","expires_in":-5}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "not a lifetime",
		},
		"oauth: expires_in absurd": {
			status: 200, body: `{"access_token":"tok","expires_in":999999999999}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "years",
		},
		"oauth: expires_in is a boolean": {
			status: 200, body: `{"access_token":"tok","expires_in":false}`,
			wantReason: ReasonInvalidResponse, wantRetryable: true, wantMessage: "is a boolean",
		},
	}
}

func TestInterpretTokenReply(t *testing.T) {
	t.Parallel()
	for name, tc := range tokenReplyCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := testNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			rep := &reply{status: tc.status, header: http.Header{}, body: []byte(tc.body)}
			for k, v := range tc.header {
				rep.header.Set(k, v)
			}
			got, e := interpretTokenReply(rep, now, newSecrets())
			if tc.want != nil {
				if e != nil {
					t.Fatalf("unexpected error: %v", e)
				}
				if got.token != tc.want.token || !got.expires.Equal(tc.want.expires) || got.ssl != tc.want.ssl {
					t.Fatalf("got token=%q expires=%s ssl=%t, want token=%q expires=%s ssl=%t",
						got.token, got.expires, got.ssl, tc.want.token, tc.want.expires, tc.want.ssl)
				}
				return
			}
			if e == nil {
				t.Fatalf("expected %s, got a token %q", tc.wantReason, got.token)
			}
			if e.Reason != tc.wantReason {
				t.Errorf("Reason = %s, want %s (%v)", e.Reason, tc.wantReason, e)
			}
			if e.Retryable != tc.wantRetryable {
				t.Errorf("Retryable = %t, want %t", e.Retryable, tc.wantRetryable)
			}
			if e.RetryAfter != tc.wantRetryAfter {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tc.wantRetryAfter)
			}
			if e.Code != tc.wantCode {
				t.Errorf("Code = %d, want %d", e.Code, tc.wantCode)
			}
			if !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tc.wantMessage)
			}
			if len(e.Message) > maxMessageLen {
				t.Errorf("Message is %d bytes, more than %d", len(e.Message), maxMessageLen)
			}
		})
	}
}

func TestRetryableFollowsReason(t *testing.T) {
	t.Parallel()
	// Whatever the shape, a reason implies its retry policy; only
	// InvalidResponse has an exception (an http:// token service elsewhere).
	retryable := map[Reason]bool{
		ReasonInvalidCredentials: false, ReasonInvalidToken: false, ReasonTokenRequired: false,
		ReasonPermissionDenied: false, ReasonSSLRequired: false, ReasonMethodNotSupported: false,
		ReasonAccountLocked: true, ReasonBadRequest: false, ReasonServiceUnavailable: true,
		ReasonInvalidResponse: true, ReasonInvalidRequest: false,
	}
	for name, tc := range tokenReplyCases() {
		if tc.want != nil {
			continue
		}
		if want, ok := retryable[tc.wantReason]; !ok || want != tc.wantRetryable {
			t.Errorf("%s: %s with Retryable=%t contradicts the policy", name, tc.wantReason, tc.wantRetryable)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		value string
		want  time.Duration
	}{
		"absent":             {"", 0},
		"seconds":            {"17", 17 * time.Second},
		"zero":               {"0", 0},
		"negative":           {"-5", 0},
		"garbage":            {"soon", 0},
		"capped":             {"86400", maxRetryAfter},
		"HTTP date ahead":    {testNow.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		"HTTP date passed":   {testNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		"HTTP date far away": {testNow.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := parseRetryAfter(tc.value, testNow); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

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
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestOldServer(t *testing.T) {
	t.Parallel()
	h := start(t, Config{OldServer: true})
	wantOld := func(t *testing.T, r response, code int, message, details string) {
		t.Helper()
		want := map[string]any{"error": map[string]any{"code": json.Number(strconv.Itoa(code)), "message": message, "details": details}}
		if !jsonEqual(r.body, want) {
			t.Fatalf("got %s, want %v", r.raw, want)
		}
	}
	short := h.serverToken("expiration", "1")
	h.clock.Step(time.Minute)

	t.Run("expired", func(t *testing.T) {
		wantOld(t, h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader(short.token)}), 498, msgInvalidTokenOld, detailTokenExpired)
	})
	t.Run("invalid", func(t *testing.T) {
		wantOld(t, h.do(req{method: http.MethodGet, path: pServices, header: bearerHeader("bad..")}), 498, msgInvalidTokenOld, "")
	})
	t.Run("token required", func(t *testing.T) {
		r := h.do(req{method: http.MethodGet, path: pServices})
		if e := errorObject(t, r); e["details"] != msgTokenRequired || e["messageCode"] != messageCodeGWM0003 {
			t.Fatalf("got %s", r.raw)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		wantOld(t, h.post(pServerTokens, login("alice", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	})
	t.Run("missing fields", func(t *testing.T) {
		wantOld(t, h.post(pGenerate, url.Values{}), 400, msgUnableToGenerate, detailUsernameRequired+" "+detailPasswordRequired)
	})
	t.Run("query credentials", func(t *testing.T) {
		wantOld(t, h.do(req{path: pGenerate + "?username=alice&password=x", form: url.Values{}}), 405, msgMethodNotSupported, detailQueryCredentials)
	})
	t.Run("long expiration without client", func(t *testing.T) {
		wantOld(t, h.post(pServerTokens, login("alice", alicePW, "expiration", "600")), 201, msgExceptionGenerating, detailClientIDRequired)
	})
	t.Run("long expiration with client", func(t *testing.T) {
		got := h.serverToken("expiration", "600", "client", "requestip")
		if want := minutesAfter(h.clock.Now(), 600); !got.expires.Equal(want) {
			t.Errorf("expires %v, want %v", got.expires, want)
		}
	})
	t.Run("short expiration without client", func(t *testing.T) {
		h.serverToken("expiration", "60")
	})
	t.Run("portal caps silently", func(t *testing.T) {
		h.portalToken("expiration", "99999")
	})
	t.Run("admin envelope unchanged", func(t *testing.T) {
		wantAdminError(t, h.post(pAdminGenerate, login("alice", "wrong")), 400, msgUnableToGenerate, detailInvalidCredentials)
	})
	if got := h.sim.Counters().Requests[EndpointServerGenerateToken][OutcomeBadRequest]; got != 1 {
		t.Errorf("201 counted %d times as BadRequest, want 1", got)
	}
}

func TestRealStatusCodes(t *testing.T) {
	t.Parallel()
	real := start(t, Config{RealStatusCodes: true})
	plain := start(t, Config{})

	for _, tc := range []struct {
		name string
		r    req
		want int // HTTP status with RealStatusCodes
	}{
		{"success", req{path: pGenerate, form: login("alice", alicePW)}, 200},
		{"bad credentials", req{path: pGenerate, form: login("alice", "wrong")}, 400},
		{"missing content type", req{path: pServerTokens, form: login("alice", alicePW), contentType: "text/plain"}, 400},
		{"GET", req{method: http.MethodGet, path: pGenerate}, 405},
		{"query credentials", req{path: pServerTokens + "?username=alice&password=x", form: url.Values{}}, 405},
		{"admin bad credentials", req{path: pAdminGenerate, form: login("alice", "wrong")}, 400},
		{"admin no rights", req{path: pAdminGenerate, form: login("bob", bobPW)}, 403},
		{"OAuth bad secret", req{path: pOAuth, form: url.Values{"client_id": {appID}, "client_secret": {"x"}, "grant_type": {"client_credentials"}}}, 400},
		{"invalid token stays 200", req{method: http.MethodGet, path: pServices, header: bearerHeader("bad..")}, 200},
		{"token required stays 200", req{method: http.MethodGet, path: pServices}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := real.do(tc.r)
			if r.status != tc.want {
				t.Errorf("RealStatusCodes: HTTP %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if r.body == nil {
				t.Errorf("no JSON body: %s", r.raw)
			}
			if tc.want == http.StatusMethodNotAllowed && r.header.Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST")
			}
			if r := plain.do(tc.r); r.status != http.StatusOK {
				t.Errorf("default: HTTP %d, want 200", r.status)
			}
		})
	}
}

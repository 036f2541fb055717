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
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fuzzSecret is the password of the fuzzed requests; seeds echo it.
const fuzzSecret = "FuzzPassw0rd-Secret"

// fuzzSeeds are the bodies of every shape in ARCGIS.md, plus the table's.
func fuzzSeeds() []struct {
	status int
	body   string
} {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"token":"p4a6kDFu7V6rD8gA0RLmIIAbn4Dy..","expires":1768485600000,"ssl":true}`},
		{200, `{"token":"tok","expires":1768485600000}`},
		{200, `{"token":"tok","expires":"1768485600000"}`},
		{200, `{"access_token":"tok","expires_in":7200}`},
		{200, `{"error":{"code":498,"message":"Invalid token.","details":["Token has expired."]},"token":"leakedTok3nValue"}`},
		{200, `{"error":{"code":400,"message":"Unable to generate token for ` + fuzzSecret + `","details":"password=` + fuzzSecret + `"}}`},
		{400, `{"error":"invalid_request","error_description":"Invalid client_secret ` + fuzzSecret + `"}`},
		{200, `{"status":"error","messages":["token=abc","` + fuzzSecret + `"],"code":498}`},
		{200, `<html><title>` + fuzzSecret + `</title></html>`},
		{503, ``},
	}
	for _, tc := range tokenReplyCases() {
		seeds = append(seeds, struct {
			status int
			body   string
		}{tc.status, tc.body})
	}
	sort.Slice(seeds, func(i, j int) bool {
		if seeds[i].body != seeds[j].body {
			return seeds[i].body < seeds[j].body
		}
		return seeds[i].status < seeds[j].status
	})
	return seeds
}

// bodyTokens returns the token values a body holds, as the client would see
// them.
func bodyTokens(body []byte) []string {
	obj, _ := decodeObject(body)
	var out []string
	for _, key := range []string{"token", "access_token", "refresh_token"} {
		if v, ok := obj.str(key); ok {
			out = append(out, v)
		}
	}
	return out
}

// checkNoLeak fails when a secret of at least minSubstringSecret bytes shows
// in the message or the code, or in the error text beyond what its parts
// without the message already hold.
func checkNoLeak(t *testing.T, e *Error, secret string) {
	t.Helper()
	if len(secret) < minSubstringSecret {
		return
	}
	if strings.Contains(e.Message, secret) {
		t.Fatalf("message holds %q: %q", secret, e.Message)
	}
	// The code is the service's number: a service may echo a numeric secret.
	if e.Code != 0 && strings.Contains(strconv.Itoa(e.Code), secret) {
		t.Fatalf("code holds %q: %d", secret, e.Code)
	}
	// The rest of the text is the client's own words and the transport's
	// status, checked above or holding nothing from the body.
	fixed := (&Error{Reason: e.Reason, Endpoint: e.Endpoint, Host: e.Host, HTTPStatus: e.HTTPStatus, Code: e.Code}).Error()
	if !strings.Contains(fixed, secret) && strings.Contains(e.Error(), secret) {
		t.Fatalf("error text holds %q: %q", secret, e.Error())
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		rep := &reply{status: status, header: http.Header{"Retry-After": {"120"}}, body: body}
		sec := newSecrets(fuzzSecret)
		it, e := interpretTokenReply(rep, testNow, sec)
		if e == nil {
			if it.token == "" || strings.TrimSpace(it.token) != it.token {
				t.Fatalf("success with token %q", it.token)
			}
			if !it.expires.After(testNow) || it.expires.Sub(testNow) > maxLifetime || it.expires.Before(minExpiry) {
				t.Fatalf("success with expiry %s (now %s)", it.expires, testNow)
			}
			return
		}
		e.Endpoint, e.Host, e.HTTPStatus = EndpointGenerateToken, "gis.example.com", status
		checkError(t, e)
		checkNoLeak(t, e, fuzzSecret)
		for _, tok := range bodyTokens(body) {
			checkNoLeak(t, e, tok)
		}
	})
}

func FuzzParseErrorEnvelope(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.status, []byte(s.body), fuzzSecret)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, secret string) {
		rep := &reply{status: status, header: http.Header{}, body: body}
		obj, isJSON := decodeObject(body)
		sec := newSecrets(secret)
		e := failure(rep, obj, isJSON, testNow).sanitized(sec)
		if e == nil {
			if !isJSON || obj == nil || findServiceError(obj) != nil || status < 200 || status > 299 {
				t.Fatalf("status %d body %q passed as a success", status, body)
			}
			return
		}
		e.Endpoint, e.Host, e.HTTPStatus = EndpointPortalSelf, "gis.example.com", status
		checkError(t, e)
		checkNoLeak(t, e, secret)
	})
}

// checkError holds every error to the package's promises.
func checkError(t *testing.T, e *Error) {
	t.Helper()
	switch e.Reason {
	case ReasonInvalidCredentials, ReasonInvalidToken, ReasonTokenRequired, ReasonPermissionDenied,
		ReasonSSLRequired, ReasonMethodNotSupported, ReasonBadRequest, ReasonInvalidRequest:
		if e.Retryable {
			t.Fatalf("%s must not be retryable", e.Reason)
		}
	case ReasonAccountLocked:
		if !e.Retryable || e.RetryAfter < AccountLockout {
			t.Fatalf("%s: retryable %t after %s", e.Reason, e.Retryable, e.RetryAfter)
		}
	case ReasonServiceUnavailable, ReasonInvalidResponse:
		if !e.Retryable {
			t.Fatalf("%s must be retryable", e.Reason)
		}
	default:
		t.Fatalf("unknown reason %q", e.Reason)
	}
	if e.RetryAfter < 0 || e.RetryAfter > max(maxRetryAfter, AccountLockout) {
		t.Fatalf("RetryAfter %s", e.RetryAfter)
	}
	if len(e.Message) > maxMessageLen || e.Message == "" {
		t.Fatalf("message of %d bytes: %q", len(e.Message), e.Message)
	}
	if strings.ContainsAny(e.Message, "\r\n\x00") {
		t.Fatalf("message with control characters: %q", e.Message)
	}
}

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz seed files from fuzzSeeds")

// TestFuzzSeedFiles keeps the seed corpus files in step with fuzzSeeds, so
// that plain go test runs them too and the fuzzer starts from every shape.
// Files are named by their content's hash, as go test names its own.
func TestFuzzSeedFiles(t *testing.T) {
	targets := map[string]func(status int, body string) string{
		"FuzzParseTokenResponse": func(status int, body string) string {
			return fmt.Sprintf("go test fuzz v1\nint(%d)\n[]byte(%q)\n", status, body)
		},
		"FuzzParseErrorEnvelope": func(status int, body string) string {
			return fmt.Sprintf("go test fuzz v1\nint(%d)\n[]byte(%q)\nstring(%q)\n", status, body, fuzzSecret)
		},
	}
	for target, render := range targets {
		dir := filepath.Join("testdata", "fuzz", target)
		want := map[string]string{}
		for _, s := range fuzzSeeds() {
			content := render(s.status, s.body)
			sum := sha256.Sum256([]byte(content))
			want["seed-"+hex.EncodeToString(sum[:8])] = content
		}
		existing, _ := os.ReadDir(dir)
		if *updateFuzzSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, e := range existing {
				if _, keep := want[e.Name()]; !keep && strings.HasPrefix(e.Name(), "seed-") {
					if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
						t.Fatal(err)
					}
				}
			}
			for name, content := range want {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		stale := false
		for name, content := range want {
			got, err := os.ReadFile(filepath.Join(dir, name))
			stale = stale || err != nil || string(got) != content
		}
		for _, e := range existing {
			_, known := want[e.Name()]
			stale = stale || (!known && strings.HasPrefix(e.Name(), "seed-"))
		}
		if stale {
			t.Errorf("%s is stale; run go test -run TestFuzzSeedFiles -update-fuzz-seeds", dir)
		}
	}
}

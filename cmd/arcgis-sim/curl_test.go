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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	curlUser    = "dana"
	curlPW      = "dana-Curl-Pa55word"
	curlReferer = "https://apps.example.com/viewer"
)

// curlJSON runs curl with args and returns the JSON body it printed (numbers
// as json.Number) and the HTTP status.
func curlJSON(t *testing.T, curl string, args ...string) (map[string]any, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// --noproxy: a proxy from the environment must not see loopback calls.
	args = append([]string{"--noproxy", "*", "-w", "\n%{http_code}"}, args...)
	out, err := exec.CommandContext(ctx, curl, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("curl: %v: %s", err, stderr)
	}
	cut := bytes.LastIndexByte(out, '\n')
	if cut < 0 {
		t.Fatalf("curl printed no status: %q", out)
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(out[cut+1:])))
	if err != nil {
		t.Fatalf("curl status %q: %v", out[cut+1:], err)
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(out[:cut]))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("curl body %q: %v", out[:cut], err)
	}
	return body, status
}

// TestCurl: the simulator command answers a plain curl as ArcGIS does: a
// form POST gets a token with "expires" in epoch milliseconds (a number),
// and credentials in the query string get 405 "Method not supported".
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not on PATH")
	}
	t.Parallel()
	tests := map[string]struct {
		flags       []string
		queryStatus int // HTTP status of the 405 answer
	}{
		"errors with HTTP 200":   {queryStatus: 200},
		"with real status codes": {flags: []string{"--real-status-codes"}, queryStatus: 405},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			args := append([]string{"--listen", "127.0.0.1:0", "--ca-out", caFile, "--user", curlUser + ":" + curlPW, "--log-requests"}, tc.flags...)
			s := startRun(t, args...)
			generate := s.portalURL + "/sharing/rest/generateToken"

			asked := time.Now()
			body, status := curlJSON(t, curl, "--cacert", caFile, "-sS", "-X", "POST",
				"-d", "username="+curlUser, "-d", "password="+curlPW,
				"-d", "client=referer", "-d", "referer="+curlReferer, "-d", "f=json", generate)
			answered := time.Now()
			if status != 200 {
				t.Errorf("generateToken: HTTP %d, want 200", status)
			}
			token, _ := body["token"].(string)
			if token == "" || body["ssl"] != true {
				t.Fatalf("generateToken: %v, want a token and ssl true", body)
			}
			n, ok := body["expires"].(json.Number)
			if !ok {
				t.Fatalf("expires is %T (%v), want a JSON number", body["expires"], body["expires"])
			}
			ms, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil {
				t.Fatalf("expires %s is not a whole number: %v", n, err)
			}
			// No expiration asked: the portal's default, 120 minutes, in epoch
			// milliseconds (seconds would be in 1970).
			lo := asked.Add(120*time.Minute).UnixMilli() - 1000
			hi := answered.Add(120*time.Minute).UnixMilli() + 1000
			if ms < lo || ms > hi {
				t.Errorf("expires %d (%s), want epoch milliseconds 120 minutes from now", ms, time.UnixMilli(ms).UTC())
			}

			// The same credentials in the query string are refused.
			query := url.Values{"username": {curlUser}, "password": {curlPW}}
			body, status = curlJSON(t, curl, "--cacert", caFile, "-sS", "-X", "POST",
				"-d", "client=referer", "-d", "referer="+curlReferer, "-d", "f=json", generate+"?"+query.Encode())
			if status != tc.queryStatus {
				t.Errorf("credentials in the query string: HTTP %d, want %d", status, tc.queryStatus)
			}
			e, _ := body["error"].(map[string]any)
			details, _ := e["details"].([]any)
			if e["code"] != json.Number("405") || e["message"] != "Method not supported" || len(details) != 1 ||
				details[0] != "Generate Token request should not contain username and password in the query string." {
				t.Errorf("credentials in the query string: %v, want the 405 \"Method not supported\" envelope", body)
			}
			if _, has := body["token"]; has {
				t.Errorf("credentials in the query string got a token")
			}

			s.stop(t)
			out := s.text()
			if !strings.Contains(out, "outcome=ok") || !strings.Contains(out, "outcome=MethodNotSupported") {
				t.Errorf("request log lacks the two requests:\n%s", out)
			}
			if strings.Contains(out, curlPW) || strings.Contains(out, token) {
				t.Errorf("the command's output holds the password or the token:\n%s", out)
			}
		})
	}
}

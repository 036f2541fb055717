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
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	alicePW   = "alice:pass-with-colon"
	carolPW   = "carol-from-file"
	appSecret = "app-S3cret"
)

// started is a run in progress.
type started struct {
	portalURL string
	caFile    string
	cancel    context.CancelFunc
	done      chan error
	mu        sync.Mutex
	output    strings.Builder
}

func (s *started) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// startRun calls run in the background and waits until it is serving.
func startRun(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &started{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, args, pw)
		_ = pw.Close()
		s.done <- err
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.output.WriteString(line + "\n")
			s.mu.Unlock()
			if v, ok := strings.CutPrefix(line, "portal:"); ok {
				s.portalURL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "CA:"); ok {
				s.caFile = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "Serving;") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("run returned early: %v\n%s", err, s.text())
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not start:\n%s", s.text())
	}
	t.Cleanup(cancel)
	return s
}

func (s *started) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(config, []byte("users:\n  carol: "+carolPW+"\nportalMaxMinutes: 90\nlisten: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	s := startRun(t, "--listen", "127.0.0.1:0", "--ca-out", caFile, "--config", config,
		"--user", "alice:"+alicePW, "--app", "app1:"+appSecret, "--portal-max-minutes", "30", "--log-requests")

	if s.caFile != caFile {
		t.Errorf("printed CA file %q, want %q", s.caFile, caFile)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("--ca-out wrote no certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	generate := s.portalURL + "/sharing/rest/generateToken"
	post := func(u string, form url.Values) map[string]any {
		t.Helper()
		resp, err := client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}

	// A token, with expires in epoch milliseconds, capped by the flag (which
	// beats the file's 90).
	asked := time.Now()
	body := post(generate, url.Values{"username": {"alice"}, "password": {alicePW}, "expiration": {"600"}, "f": {"json"}})
	n, ok := body["expires"].(json.Number)
	if !ok || body["token"] == nil || body["ssl"] != true {
		t.Fatalf("generateToken: %v", body)
	}
	ms, _ := n.Int64()
	expires := time.UnixMilli(ms)
	if lo, hi := asked.Add(29*time.Minute), time.Now().Add(31*time.Minute); expires.Before(lo) || expires.After(hi) {
		t.Errorf("expires %v, want about 30 minutes from now", expires)
	}
	token, _ := body["token"].(string)

	// The user from the config file logs in too.
	if body := post(generate, url.Values{"username": {"carol"}, "password": {carolPW}}); body["token"] == nil {
		t.Errorf("carol from --config: %v", body)
	}

	// Credentials in the query string: 405.
	body = post(generate+"?username=alice&password="+url.QueryEscape(alicePW), url.Values{"f": {"json"}})
	e, _ := body["error"].(map[string]any)
	if e["code"] != json.Number("405") || e["message"] != "Method not supported" {
		t.Errorf("credentials in the query string: %v", body)
	}

	s.stop(t)
	out := s.text()
	for _, want := range []string{s.portalURL, strings.TrimSuffix(s.portalURL, "/portal") + "/server", caFile, "alice", "carol", "app1", "outcome=ok", "outcome=MethodNotSupported", "shutting down"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{alicePW, carolPW, appSecret, token, "pass-with-colon"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains a secret:\n%s", out)
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.yaml", "users: {alice: pw}\npasword: x\n")
	badType := write("type.yaml", "users: [alice]\n")

	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"user without a colon", "invalid --user value", []string{"--user", "aliceTopSecret"}},
		{"app without a secret", "invalid --app value", []string{"--app", "app1:"}},
		{"unknown flag", "flag provided but not defined", []string{"--nope"}},
		{"stray argument", "unexpected arguments", []string{"TopSecret"}},
		{"missing config", "reading --config", []string{"--config", filepath.Join(dir, "absent.yaml")}},
		{"unknown config field", "pasword", []string{"--config", typo}},
		{"config of the wrong type", "parsing --config", []string{"--config", badType}},
		{"non-loopback listen", "loopback", []string{"--listen", "0.0.0.0:0"}},
		{"inconsistent caps", "PortalDefaultMinutes", []string{"--listen", "127.0.0.1:0", "--portal-default-minutes", "20", "--portal-max-minutes", "10"}},
		{"api key without a secret", "invalid --api-key value", []string{"--api-key", "item:alice:TopSecret"}},
		{"unknown login wording", "login failure wording", []string{"--listen", "127.0.0.1:0", "--login-wording", "rude"}},
		{"unknown role", "unknown role", []string{"--listen", "127.0.0.1:0", "--role", "bob:boss"}},
		{"bad alias", "portal alias", []string{"--listen", "127.0.0.1:0", "--portal-alias", "arcgis"}},
		{"tokens at portal when standalone", "ServerTokensAtPortal", []string{"--listen", "127.0.0.1:0", "--standalone", "--server-tokens-at-portal"}},
		{"bad clock offset", "clock-offset", []string{"--clock-offset", "soon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "TopSecret") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(context.Background(), []string{"--help"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--ca-out", "-portal-default-minutes", "/__sim/faults", "Inferred",
		"-clock-offset", "-portal-alias", "-server-tokens-at-portal", "-login-wording", "-lockout-wording", "-role", "-api-key",
		"/__sim/clock", "/__sim/wording", "/__sim/apikeys", "community/self", "registeredAppInfo", "apiKeys:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

// TestNewOptions: the clock offset, doors, logins at the portal,
// wordings, roles and API key items, from flags and from the config file.
func TestNewOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
users: {alice: a-pw, bob: b-pw}
clockOffset: -2m
portalAliases: [/arcgis]
wordingAt: {server/tokens/generateToken: {loginFailure: http401}}
roles: {bob: org_publisher}
privileges: {alice: [portal:user:createItem]}
apiKeys:
- itemId: item1
  owner: alice
  clientId: c1
  clientSecret: s1
  httpReferrers: [https://app.example.com/*]
  privileges: [premium:user:geocode:temporary]
  slot1: {expirationDate: "2030-01-02T03:04:05Z", active: true}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := parseArgs([]string{"--config", cfgFile, "--portal-alias", "/gis", "--server-tokens-at-portal",
		"--login-wording", "incorrect", "--lockout-wording", "unknown", "--role", "carol:org_user",
		"--api-key", "item2:bob:c2:s2"})
	if err != nil {
		t.Fatal(err)
	}
	c := opts.cfg
	if c.ClockOffset != -2*time.Minute || !c.ServerTokensAtPortal || strings.Join(c.PortalAliases, ",") != "/arcgis,/gis" {
		t.Errorf("offset %v, tokens at portal %t, aliases %v", c.ClockOffset, c.ServerTokensAtPortal, c.PortalAliases)
	}
	if c.Wording.LoginFailure != "incorrect" || c.Wording.Lockout != "unknown" || c.WordingAt["server/tokens/generateToken"].LoginFailure != "http401" {
		t.Errorf("wording %+v at %+v", c.Wording, c.WordingAt)
	}
	if c.Roles["bob"] != "org_publisher" || c.Roles["carol"] != "org_user" || len(c.Privileges["alice"]) != 1 {
		t.Errorf("roles %v privileges %v", c.Roles, c.Privileges)
	}
	if len(c.APIKeys) != 2 || c.APIKeys[0].ItemID != "item1" || !c.APIKeys[0].Slot1.Active ||
		!c.APIKeys[0].Slot1.ExpirationDate.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		c.APIKeys[0].HTTPReferrers[0] != "https://app.example.com/*" || c.APIKeys[1].ClientSecret != "s2" {
		t.Errorf("api keys %+v", c.APIKeys)
	}

	s := startRun(t, "--listen", "127.0.0.1:0", "--config", cfgFile, "--portal-alias", "/gis", "--api-key", "item2:bob:c2:s2")
	out := s.text()
	for _, want := range []string{"doors:", "/arcgis", "/gis", "item1 (owner alice, apikey)", "item2 (owner bob, apikey)", "clock-offset=-2m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"a-pw", "b-pw", "s1", "s2"} {
		if strings.Contains(out, secret) {
			t.Errorf("start-up output shows a secret %q", secret)
		}
	}
	s.stop(t)
}

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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestCertificates(t *testing.T) {
	t.Parallel()
	h := start(t, Config{})

	block, rest := pem.Decode(h.sim.CAPEM())
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("CAPEM is not exactly one PEM certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid {
		t.Error("CA certificate is not a CA")
	}
	if key, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}

	// The served chain verifies against the CA alone for every loopback name.
	resp, err := h.client.Get(h.sim.URL() + pServerInfo)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Proto != "HTTP/1.1" {
		t.Errorf("protocol %s, want HTTP/1.1", resp.Proto)
	}
	leaf := resp.TLS.PeerCertificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("leaf does not verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "gis.example.com", Roots: pool}); err == nil {
		t.Error("leaf verifies for a non-loopback name")
	}
	if key, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("leaf key is %T, want ECDSA P-256", leaf.PublicKey)
	}

	// A client asking for "localhost" (while dialling 127.0.0.1) is served too.
	byName := newClient(t, h.sim.CAPEM(), nil)
	byName.Transport.(*http.Transport).TLSClientConfig.ServerName = "localhost"
	t.Cleanup(byName.CloseIdleConnections)
	if resp, err := byName.Get(h.sim.URL() + pServerInfo); err != nil {
		t.Errorf("as localhost: %v", err)
	} else {
		_ = resp.Body.Close()
	}

	// A client without the CA refuses the simulator.
	if _, err := http.Get(h.sim.URL() + pServerInfo); err == nil {
		t.Error("a client with only the system roots trusted the simulator")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"all interfaces":          {Listen: "0.0.0.0:0"},
		"non-loopback":            {Listen: "10.1.2.3:0"},
		"no port":                 {Listen: "127.0.0.1"},
		"hostname":                {Listen: "example.com:0"},
		"portal default over max": {PortalDefaultMinutes: 500, PortalMaxMinutes: 100},
		"server short over long":  {ServerShortMinutes: 100, ServerLongMinutes: 50},
		"negative":                {LockoutMinutes: -1},
		"empty username":          {Users: map[string]string{"": "x"}},
		"empty client ID":         {Apps: map[string]string{"": "x"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	sim, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sim.URL() != "" {
		t.Errorf("URL before Start = %q, want empty", sim.URL())
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	if got, want := sim.PortalURL(), sim.URL()+"/portal"; got != want {
		t.Errorf("PortalURL = %q, want %q", got, want)
	}
	if got, want := sim.ServerURL(), sim.URL()+"/server"; got != want {
		t.Errorf("ServerURL = %q, want %q", got, want)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := sim.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(sim.URL(), "https://")); err == nil {
		t.Error("still listening after Close")
	}

	unstarted, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstarted.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
}
